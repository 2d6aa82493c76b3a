"""The install routes: tools/setup_course.py (no make needed), the Makefile, Binder, and doctor()'s check.

The torch command is checked for each case (Linux with PyTorch's CPU index reachable or not, other
systems); the reachability probe against local HTTP servers; the script's dry run against what
`make -n` prints for the same targets; the Binder pins against pyproject.toml; and doctor() against
JupyterLab settings folders written here.
"""
from __future__ import annotations

import http.server
import importlib.util
import json
import os
import shlex
import socket
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest

from rlft_core import doctor

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("setup_course", ROOT / "tools" / "setup_course.py")
setup_course = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(setup_course)
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def test_torch_comes_from_the_cpu_index_only_on_linux_when_it_answers():
    base = ["py", "-m", "pip", "install", "--quiet", "torch==2.13.0"]
    assert setup_course.torch_command("py", "Linux", reachable=True) == base + ["--index-url", CPU_INDEX]
    assert setup_course.torch_command("py", "Linux", reachable=False) == base
    for system in ("Windows", "Darwin"):                      # PyPI's wheels there are CPU builds
        assert setup_course.torch_command("py", system, reachable=True) == base
    assert "not reachable" in setup_course.torch_route("Linux", False)
    assert CPU_INDEX in setup_course.torch_route("Linux", True)


class _Index(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):                                         # noqa: N802 (http.server's name)
        self.send_response(self.status if self.path == "/whl/cpu/torch/" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


def _serve(status):
    handler = type("Handler", (_Index,), {"status": status})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/whl/cpu"


def test_the_probe_says_reachable_only_when_the_index_answers_in_time():
    server, url = _serve(200)
    try:
        assert setup_course.cpu_index_reachable(url, timeout=2) is True
        assert setup_course.cpu_index_reachable(url + "/missing", timeout=2) is False      # 404
    finally:
        server.shutdown()
    with socket.socket() as closed:                           # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    assert setup_course.cpu_index_reachable(f"http://127.0.0.1:{port}/whl/cpu", timeout=2) is False
    with socket.socket() as silent:                           # accepts, never answers: the timeout decides
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        start = time.perf_counter()
        assert setup_course.cpu_index_reachable(f"http://127.0.0.1:{silent.getsockname()[1]}/x", timeout=0.5) is False
        assert time.perf_counter() - start < 5


def _run_script(*args):
    done = subprocess.run([sys.executable, "tools/setup_course.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    return done.stdout.splitlines()


def test_the_torch_step_prints_its_route_and_the_command_for_each_case():
    for case, extra in (("reachable", ["--index-url", CPU_INDEX]), ("unreachable", [])):
        lines = _run_script("torch", "--dry-run", "--cpu-index", case)
        expected = [sys.executable, "-m", "pip", "install", "--quiet", "torch==2.13.0", *extra]
        assert lines[-1] == "would run: " + shlex.join(expected)
        assert lines[0].startswith("torch 2.13.0")


def _make_steps(target: str, venv: Path, *variables: str) -> list[list[str]]:
    """The commands `make -n` prints for ``target`` with a fresh virtual environment, as comparable steps."""
    out = subprocess.run(["make", "-n", target, f"VENV={venv}", "PYTHON=python3", *variables], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    steps = []
    for line in out.splitlines():
        if line.startswith("test -x") and "-m venv" in line:
            steps.append(["venv", line.split()[-1]])
        elif line.startswith("cp tools/lab-overrides.json"):
            steps.append(["lab-settings", line.split()[-1]])
        elif "tools/setup_course.py torch" in line:
            steps.append(["torch"])
        elif line.removeprefix("LANG=C.UTF-8 ").startswith(str(venv)):
            steps.append(shlex.split(line.removeprefix("LANG=C.UTF-8 ")))
    return steps


def _script_steps(target: str, venv: Path, reachable: bool, language: str = "en") -> list[list[str]]:
    steps = []
    for step in setup_course.plan(target, venv, "Linux", reachable, as_root=os.geteuid() == 0, language=language):
        if step[1:3] == ["-m", "venv"]:
            steps.append(["venv", step[3]])
        elif step[0] == "apply-lab-settings":
            steps.append(["lab-settings", step[1]])
        elif step == setup_course.torch_command(str(venv / "bin/python"), "Linux", reachable):
            steps.append(["torch"])                 # the Makefile runs the script's own torch step
        else:
            steps.append(step)
    return steps


@pytest.mark.parametrize("reachable", [True, False])
def test_the_dry_run_of_lab_and_test_matches_the_makefile(tmp_path, reachable):
    venv = tmp_path / "venv"
    for target in ("lab", "test"):
        assert _make_steps(target, venv) == _script_steps(target, venv, reachable), target
    # the lean install: `make lab` installs the package without extras; the extras come with `make test`
    python = str(venv / "bin/python")
    assert [s for s in _make_steps("lab", venv) if "-e" in s] == [[python, "-m", "pip", "install", "--quiet", "-e", "."]]
    assert [python, "-m", "pip", "install", "--quiet", "-e", ".[dev,bench,compare]"] in _make_steps("test", venv)


def test_zh_make_lab_lang_zh_opens_the_chinese_edition_like_the_script(tmp_path):
    venv = tmp_path / "venv"
    make_steps = _make_steps("lab", venv, "LANG=zh")
    assert make_steps == _script_steps("lab", venv, True, language="zh")
    assert make_steps[-1][-1] == "zh/chapters/00_start_here.ipynb" and (ROOT / make_steps[-1][-1]).exists()
    assert _make_steps("lab", venv, "LANG=en_US.UTF-8")[-1][-1] == "chapters/00_start_here.ipynb"


def test_lab_settings_merge_into_existing_overrides(tmp_path):
    target = tmp_path / "settings" / "overrides.json"
    target.parent.mkdir()
    target.write_text(json.dumps({"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"},
                                  "@jupyterlab/apputils-extension:kernels-settings": {"other": 1}}))
    merged = setup_course.apply_lab_settings(target)
    assert json.loads(target.read_text()) == merged == {
        "@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"},
        "@jupyterlab/apputils-extension:kernels-settings": {"other": 1, "commsOverSubshells": "disabled"}}


def test_doctor_reports_whether_the_jupyterlab_setting_is_in_effect(tmp_path, monkeypatch):
    app_dir, user_dir = tmp_path / "lab", tmp_path / "user-settings"
    monkeypatch.setenv("JUPYTERLAB_DIR", str(app_dir))
    monkeypatch.setenv("JUPYTERLAB_SETTINGS_DIR", str(user_dir))
    report = doctor(verbose=False)
    assert report["lab_comms_over_subshells"].startswith("enabled")
    assert any("lab-settings" in p for p in report["problems"])
    setup_course.apply_lab_settings(app_dir / "settings" / "overrides.json")      # what make lab / Binder do
    report = doctor(verbose=False)
    assert report["lab_comms_over_subshells"] == "disabled" and report["problems"] == []
    # the user's own settings win over the overrides (a commented-out line does not count)
    user_file = user_dir / "@jupyterlab" / "apputils-extension" / "kernels-settings.jupyterlab-settings"
    user_file.parent.mkdir(parents=True)
    user_file.write_text('{\n  // "commsOverSubshells": "disabled",\n  "commsOverSubshells": "perComm"\n}\n')
    report = doctor(verbose=False)
    assert report["lab_comms_over_subshells"] == "perComm" and len(report["problems"]) == 1


def _pins(lines):
    return {line.split("==")[0].lower(): line.split("==")[1] for line in lines if "==" in line}


def test_binder_installs_the_notebooks_dependencies_with_the_cpu_torch_and_the_lab_setting():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [line.strip() for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
    assert _pins(requirements) == _pins(project["dependencies"])
    assert f"--extra-index-url {CPU_INDEX}" in requirements
    post_build = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install --no-cache-dir --no-deps -e ." in post_build
    assert "tools/setup_course.py lab-settings" in post_build
    assert (ROOT / "binder" / "postBuild").stat().st_mode & 0o111
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"


def test_lab_needs_only_the_core_dependencies_and_test_adds_the_extras():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = set(_pins(project["dependencies"]))
    assert {"pytest", "playwright", "trl", "stable-baselines3", "tensorboard"}.isdisjoint(core)
    extras = {name for extra in ("dev", "bench", "compare") for name in _pins(project["optional-dependencies"][extra])}
    assert {"pytest", "playwright", "trl", "stable-baselines3", "tensorboard"} <= extras


def test_the_windows_plan_uses_the_venvs_scripts_folder_and_pypis_cpu_wheel(tmp_path):
    venv = tmp_path / "venv"
    python = str(venv / "Scripts" / "python.exe")
    steps = setup_course.plan("test", venv, "Windows", reachable=True, python="py")
    assert steps[0] == ["py", "-m", "venv", str(venv)]
    assert steps[2] == [python, "-m", "pip", "install", "--quiet", "torch==2.13.0"]       # no CPU index needed
    assert steps[4] == ["apply-lab-settings", str(venv / "share" / "jupyter" / "lab" / "settings" / "overrides.json")]
    assert steps[-2] == [python, "-m", "pip", "install", "--quiet", "-e", ".[dev,bench,compare]"]
    assert steps[-1][:3] == [python, "-m", "pytest"]
    assert all(step[0] in ("py", python, "apply-lab-settings") for step in steps)
    with pytest.raises(ValueError, match="target"):
        setup_course.plan("docs", venv, "Windows", reachable=True)
