# Every target sets itself up from a fresh clone: .venv, the package, pinned dependencies, the kernel.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KERNEL_NAME := python3

.PHONY: setup lab test course student bench notebooks constraints clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "constraints.txt pins versions that need Python >= 3.11: run make PYTHON=python3.11 (or pip install -e . yourself)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL_NAME) --display-name "Python 3 (bigmodel-lessons)"
	touch $@

setup: $(STAMP)

lab: setup  ## JupyterLab on the start notebook (as root, e.g. in a container, Jupyter needs --allow-root)
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/00_start_here.ipynb

test: setup  ## unit tests, nbval over every notebook, papermill fast runs, hygiene checks
	BIGMODEL_FAST=1 $(BIN)/python -m pytest

course: setup  ## execute every notebook headless (FULL=1 for full-length training) and print the table
	$(BIN)/bigmodel-lessons course $(if $(FULL),--full)

student: setup  ## student copies (solutions replaced by TODO stubs) into build/student/
	$(BIN)/bigmodel-lessons student

bench: setup  ## fast and full timings and metrics per notebook
	$(BIN)/python bench/run.py

notebooks: setup  ## maintainers: re-execute notebooks and keep only nbval-checked outputs
	$(BIN)/bigmodel-lessons normalize notebooks/*.ipynb

constraints:  ## maintainers: re-resolve the newest versions allowed by pyproject.toml into constraints.txt
	rm -rf build/constraints-venv && $(PYTHON) -m venv build/constraints-venv
	build/constraints-venv/bin/python -m pip install --quiet --upgrade pip
	build/constraints-venv/bin/python -m pip install --quiet -e ".[test]"
	{ echo "# Exact versions for 'make' (pip install -c constraints.txt): a classroom gets the same environment everywhere."; \
	  echo "# Resolved for Python $$(build/constraints-venv/bin/python -c 'import platform; print(platform.python_version())') on $$(uname -sm) on $$(date +%F); regenerate with: make constraints"; \
	  build/constraints-venv/bin/python -m pip freeze --exclude-editable | grep -v '^bigmodel-lessons'; } > constraints.txt

clean:
	rm -rf build
