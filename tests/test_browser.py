"""The course the way learners use it: JupyterLab in headless Chromium, driven by Playwright.

The browser is the system's Chromium (Debian's ``chromium``; ``.ci/run`` installs it), passed to Playwright
through ``executable_path``: Playwright never downloads one. Without Chromium the test skips.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine: apt-get install chromium "
                                "(.ci/run does as root) to run JupyterLab in a real browser")
RUN_TIMEOUT_MS = 600_000  # the whole notebook, fast mode, on a busy 2-core machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab as ``make lab`` starts it (no token, the course's lab settings), on copies of two chapters:
    the browser autosaves, and the committed notebooks must stay clean."""
    root = tmp_path_factory.mktemp("lab")
    for name in ("00_start_here.ipynb", "01_big_models_and_their_economics.ipynb"):
        shutil.copy(ROOT / "notebooks" / name, root / name)
    settings = tmp_path_factory.mktemp("lab-settings")
    (settings / "overrides.d").mkdir()
    shutil.copy(ROOT / "lab" / "overrides.json", settings / "overrides.d" / "bigmodel-lessons.json")
    render_every_cell = {"@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"}}  # for the locators
    (settings / "overrides.d" / "test.json").write_text(json.dumps(render_every_cell))
    port = _free_port()
    env = {**os.environ, "BIGMODEL_STATIC": "0", "BIGMODEL_FAST": "1", "JUPYTER_CONFIG_DIR": str(settings / "config")}
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.token=",
           "--ServerApp.password=", f"--ServerApp.root_dir={root}", f"--LabApp.app_settings_dir={settings}",
           f"--LabApp.user_settings_dir={settings / 'user'}", f"--LabApp.workspaces_dir={settings / 'workspaces'}",
           "--LabApp.expose_app_in_browser=True", *(["--allow-root"] if os.geteuid() == 0 else [])]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # a cold start on a busy machine
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=5)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"JupyterLab did not start: {server.stderr.read()[-2000:]}")
            time.sleep(1)
    yield url
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


def _open_and_run_all(browser, url, name):
    page = browser.new_page()
    page.set_default_timeout(120_000)
    # ?reset: a fresh workspace. Without it JupyterLab reopens the previous page's notebook too, and the commands
    # below ran that one (chapter 01 never ran after 00; the wait timed out at 600 s)
    page.goto(f"{url}/lab/tree/{name}?reset")
    page.wait_for_function("name => { const w = window.jupyterapp?.shell.currentWidget;"
                           " return w && w.context?.path === name && w.sessionContext?.session?.kernel; }", arg=name)
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    page.evaluate("window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")  # do not wait here
    page.wait_for_function(  # every code cell has run (an execution count) and the kernel is idle again
        "() => { const nb = window.jupyterapp.shell.currentWidget;"
        " const code = [...nb.content.model.cells].filter(c => c.type === 'code');"
        " return code.length > 0 && code.every(c => c.executionCount !== null)"
        " && nb.sessionContext.session.kernel.status === 'idle'; }", timeout=RUN_TIMEOUT_MS, polling=1000)
    return page


def test_start_here_runs_in_the_browser_with_every_check_passing(lab, browser):
    page = _open_and_run_all(browser, lab, "00_start_here.ipynb")
    assert page.locator('[data-mime-type="application/vnd.jupyter.error"]').count() == 0
    text = "\n".join(page.locator(".jp-OutputArea").all_inner_texts())  # outputs only: the prose mentions ✗
    assert "✓ 00_start_here.overfitting: correct!" in text and "✓ 00_start_here.dense_params: correct!" in text
    assert "✗" not in text
    assert "Jupyter news" not in page.locator("body").inner_text()  # lab settings: no news prompt
    page.close()


def test_moving_a_slider_changes_the_training_cost(lab, browser):
    page = _open_and_run_all(browser, lab, "01_big_models_and_their_economics.ipynb")
    calculator = page.locator(".widget-interact").filter(has_text="params (B)").first
    calculator.scroll_into_view_if_needed()
    cost = lambda: re.search(r"cost\s+\$([\d,]+)", calculator.inner_text()).group(1)  # noqa: E731
    page.wait_for_function("() => /cost\\s+\\$/.test(document.querySelector('.widget-interact')?.innerText || '')")
    before = cost()
    handle = calculator.locator(".widget-slider").first.locator(".noUi-handle")
    handle.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "before => { const m = /cost\\s+\\$([\\d,]+)/.exec(document.querySelector('.widget-interact').innerText);"
        " return m && m[1] !== before; }", arg=before)
    assert cost() != before
    page.close()
