"""The course works for a person in a real browser: JupyterLab + ipywidgets, driven in Chromium.

Starts JupyterLab on 127.0.0.1 (random free port, random token, throw-away settings and workspace
folders), opens a copy of ``chapters/00_start_here.ipynb`` in Debian's Chromium through playwright,
runs all cells, and checks what a student would see: the sliders render, moving the γ slider redraws
the figure (into a whole plot, not a blank or half-drawn image), the preference buttons add a label,
and no cell shows an error. A screenshot is saved as ``build/browser_screenshot.png``. On failure
the message holds the cell prompts, error outputs, browser console and the server log's tail.

Needs ``/usr/bin/chromium`` (``apt-get install -y chromium``; ``make test`` installs it when run as
root). Without it this test fails and says so: it is never skipped. Never run ``playwright install``:
the browser is Debian's, playwright only drives it.
"""
from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import numpy as np
import pytest

pytestmark = pytest.mark.slow                      # a real browser / a build: `make unit-fast` skips it

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "chapters" / "00_start_here.ipynb"
SCREENSHOT = ROOT / "build" / "browser_screenshot.png"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
HOW_TO_INSTALL = (f"Chromium is needed at {CHROMIUM} for the browser test. Install Debian's package: "
                  "`sudo apt-get install -y chromium` (`make test` does it when run as root). "
                  "Do not run `playwright install`.")
SERVER_START_TIMEOUT = 60       # seconds
RUN_ALL_TIMEOUT = 150           # seconds for every cell of the notebook (~30 s expected)
WIDGET_TIMEOUT = 30             # seconds for one redraw / one label

# Throw-away JupyterLab settings: every cell kept in the DOM (so the test sees them all), no
# autosave, no news or update pop-ups over the notebook; and widget messages handled by the kernel's
# main shell, as `make lab` must configure it too. JupyterLab 4.6's default sends widget (comm)
# messages to a kernel *subshell*, a second thread: the first slider update of a session then runs on
# the main thread and the next ones on the subshell, at the same time, and pyplot callbacks such as
# notebook 00's `interactive` draw blank or half-drawn figures (seen here with ipykernel 7.4).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabServer:
    def __init__(self, url: str, token: str, log_path: Path):
        self.url, self.token, self.log_path = url, token, log_path

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else "(no log)"
        return "\n".join(text.splitlines()[-lines:])


@pytest.fixture
def chromium():
    """Debian's Chromium, or a failure that says how to install it (never a skip)."""
    if not CHROMIUM.exists():
        pytest.fail(HOW_TO_INSTALL)
    return CHROMIUM


@pytest.fixture
def lab_server(tmp_path):
    """JupyterLab serving a temporary copy of notebook 00; shut down (kernels included) at the end."""
    with serving_a_copy(NOTEBOOK, tmp_path) as server:
        yield server


@contextlib.contextmanager
def serving_a_copy(notebook: Path, tmp_path: Path):
    """JupyterLab serving a temporary folder that holds a copy of ``notebook``."""
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(notebook, root / notebook.name)
    with running_lab(root, tmp_path) as server:
        yield server


@contextlib.contextmanager
def running_lab(root: Path, tmp_path: Path):
    """JupyterLab serving ``root``, settings and runtime files under ``tmp_path``; shut down (kernels
    included) on exit. Also used by ``bench/widgets_latency.py``."""
    settings = tmp_path / "lab-settings"
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    env = dict(os.environ,
               JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "lab-workspaces"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"),
               JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    port, token = _free_port(), secrets.token_hex(24)
    log_path = tmp_path / "jupyterlab.log"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:                   # CI and containers run as root
        command.append("--allow-root")
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    server = LabServer(f"http://127.0.0.1:{port}", token, log_path)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited with code {process.returncode}:\n{server.log_tail()}")
            try:
                server.api("/api/status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer within {SERVER_START_TIMEOUT} s:\n{server.log_tail()}")
                time.sleep(0.3)
        yield server
    finally:
        try:
            for kernel in server.api("/api/kernels"):
                server.api(f"/api/kernels/{kernel['id']}", method="DELETE")
        except OSError:
            pass
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_for(condition, timeout: float, what: str, explain=lambda: ""):
    """Poll ``condition()`` until it returns something truthy; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}\n{explain()}")
        time.sleep(0.25)


# Error outputs: JupyterLab renders a cell's exception as stderr text with the traceback.
ERRORS_JS = """() => {
  const out = [];
  for (const node of document.querySelectorAll('.jp-OutputArea-output')) {
    const mime = node.getAttribute('data-mime-type') || '';
    const text = node.innerText || '';
    if (/Traceback \\(most recent call last\\)/.test(text) ||
        (mime === 'application/vnd.jupyter.stderr' && /\\w+Error\\b/.test(text))) out.push(text.slice(0, 2000));
  }
  return out;
}"""


def _ink(src: str) -> tuple[float, float]:
    """Fractions of (non-white, near-black) pixels of a ``data:image/png;base64,...`` image."""
    from PIL import Image
    header, _, data = src.partition(",")
    assert header == "data:image/png;base64", f"the figure is not an inline PNG: {header[:60]!r}"
    grey = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("L"))
    return float((grey < 200).mean()), float((grey < 60).mean())


PROMPTS_JS = """() => Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt'))
                        .map(node => node.innerText.trim())"""


def open_and_run_all(page, server, notebook: Path, explain) -> None:
    """Open ``notebook`` (served at the server's root) in JupyterLab, run all its cells through the
    Run menu, and wait until every code cell has run with no error on the page."""
    page.goto(f"{server.url}/lab/tree/{notebook.name}?reset&token={server.token}")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="visible", timeout=60_000)
    n_code_cells = sum(cell.cell_type == "code" for cell in nbformat.read(notebook, as_version=4).cells)
    _wait_for(lambda: len(page.evaluate(PROMPTS_JS)) == n_code_cells, 30,
              f"all {n_code_cells} code cells to be shown", explain)
    _wait_for(lambda: any(k["execution_state"] == "idle" for k in server.api("/api/kernels")),
              60, "an idle kernel", explain)

    # Run → Run All Cells (a plain text selector would also match "Restart Kernel and Run All Cells…")
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

    def all_cells_ran():
        if page.evaluate(ERRORS_JS):
            pytest.fail(f"a cell shows an error:\n{explain()}")
        prompts = page.evaluate(PROMPTS_JS)
        return (len(prompts) == n_code_cells and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts)
                and all(k["execution_state"] == "idle" for k in server.api("/api/kernels")))

    started = time.monotonic()
    _wait_for(all_cells_ran, RUN_ALL_TIMEOUT, "all cells to run", explain)
    print(f"all {n_code_cells} code cells ran in {time.monotonic() - started:.1f} s")
    assert page.evaluate(ERRORS_JS) == [], explain()


def test_course_settings_keep_widget_callbacks_on_the_main_kernel_thread(lab_server):
    """`make setup` installs tools/lab-overrides.json: comms over subshells would run pyplot
    callbacks on a second thread, and slider redraws could come out blank."""
    settings = lab_server.api("/lab/api/settings/@jupyterlab/apputils-extension:kernels-settings")
    assert settings["schema"]["properties"]["commsOverSubshells"]["default"] == "disabled", \
        "run `make setup`: it copies tools/lab-overrides.json into the venv's JupyterLab settings"


def test_notebook_00_runs_in_jupyterlab_with_working_widgets(chromium, lab_server):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: `pip install -e '.[dev]'` (or `make test`) installs it")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), headless=True,
                                             chromium_sandbox=False, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        page.set_default_timeout(WIDGET_TIMEOUT * 1000)
        console = []
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: console.append(f"page error: {error}"))

        def explain():
            prompts = page.evaluate(PROMPTS_JS)
            return (f"cell prompts: {prompts}\nerror outputs: {page.evaluate(ERRORS_JS)}\n"
                    f"browser console (last 10): {console[-10:]}\nserver log:\n{lab_server.log_tail()}")

        try:
            open_and_run_all(page, lab_server, NOTEBOOK, explain)
            assert page.evaluate(ERRORS_JS) == [], explain()

            # The widgets rendered: the γ slider (interactive) and the labelling buttons.
            assert page.locator(".jupyter-widgets").count() > 0, explain()
            sliders = page.locator(".widget-slider")
            assert sliders.count() >= 1, f"no slider rendered\n{explain()}"

            # Moving the γ slider (three quick key presses, like a short drag) redraws the figure under it.
            slider_cell = page.locator(".jp-CodeCell", has=page.locator(".widget-slider")).first
            slider_cell.scroll_into_view_if_needed()
            images = slider_cell.locator(".jp-OutputArea-output img")
            images.first.wait_for(state="visible")
            assert images.count() == 1, f"expected one figure under the slider, found {images.count()}"
            src_before = images.first.get_attribute("src")
            ink_before, dark_before = _ink(src_before)
            assert ink_before > 0.05 and dark_before > 0.005, f"the first figure looks empty: {ink_before, dark_before}"
            readout_before = float(slider_cell.locator(".widget-readout").first.inner_text())
            handle = slider_cell.locator(".noUi-handle").first
            handle.focus()
            for _ in range(3):
                handle.press("ArrowLeft")

            def redrawn_and_settled():
                if images.count() != 1 or images.first.get_attribute("src") in (None, src_before):
                    return False
                return all(k["execution_state"] == "idle" for k in lab_server.api("/api/kernels"))

            _wait_for(redrawn_and_settled, WIDGET_TIMEOUT, "the figure to be redrawn after moving the slider", explain)
            time.sleep(0.5)                                   # let a late redraw land before judging it
            readout_after = float(slider_cell.locator(".widget-readout").first.inner_text())
            assert readout_after < readout_before, (readout_before, readout_after)
            # The redrawn figure is a whole plot (bars, axes, labels), not a blank or half-drawn image.
            ink_after, dark_after = _ink(images.first.get_attribute("src"))
            assert ink_after > 0.5 * ink_before and dark_after > 0.5 * dark_before, (
                f"the redrawn figure is blank or incomplete: non-white {ink_after:.3f} (before {ink_before:.3f}), "
                f"near-black {dark_after:.4f} (before {dark_before:.4f})")

            # The preference-labelling buttons add a label.
            status = page.get_by_text(re.compile(r"pairs seen: \d+ labelled"))
            assert "0 labelled" in status.inner_text(), status.inner_text()
            page.get_by_role("button", name="A", exact=True).click()
            _wait_for(lambda: "1 labelled" in status.inner_text(), WIDGET_TIMEOUT,
                      "the status line to count the label", explain)
            assert status.inner_text().startswith("1 of 3 pairs seen"), status.inner_text()

            assert page.evaluate(ERRORS_JS) == [], explain()
            slider_cell.scroll_into_view_if_needed()
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
        finally:
            browser.close()
