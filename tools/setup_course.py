"""Set the course up without make (Windows, or anywhere): the steps of `make lab` and `make test`.

    python tools/setup_course.py lab            # .venv, torch (CPU), the course package, JupyterLab setting, open JupyterLab
    python tools/setup_course.py lab --lang zh  # the same, opening the Chinese edition (zh/chapters): 中文版
    python tools/setup_course.py test           # the same, plus the test/bench/compare extras, then the whole suite
    python tools/setup_course.py torch          # only torch, into the running Python (the Makefile calls this)
    python tools/setup_course.py lab-settings   # only the JupyterLab setting, for the running Python (conda, Binder, a hub)
    ... --dry-run                               # print the commands, run nothing

On Windows: ``py -3.11 tools\\setup_course.py lab``. Needs only Python 3.10+ (standard library).

torch comes first and as the CPU build: PyPI's Linux wheel of torch is the CUDA build (several GB of
NVIDIA libraries). On Linux the script asks PyTorch's CPU wheel index (5 s timeout) and installs
from it when it answers; otherwise (an offline machine with a local mirror, a firewall) it installs
``torch==2.13.0`` from the configured index and says so. macOS and Windows wheels on PyPI are CPU builds.

The JupyterLab setting (tools/lab-overrides.json) keeps widget callbacks on the kernel's main
thread: JupyterLab 4.6 otherwise handles them on a second thread, where matplotlib's pyplot can
draw blank figures when a slider moves. ``rlft_core.doctor()`` reports whether it is in effect.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TORCH_VERSION = "2.13.0"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PROBE_TIMEOUT = 5                                   # seconds to wait for PyTorch's CPU index
OVERRIDES = ROOT / "tools" / "lab-overrides.json"
TEST_EXTRAS = ".[dev,bench,compare]"
# three Chinese chapters run under nbval too (the Makefile says why these)
ZH_NBVAL = ["zh/chapters/00_start_here.ipynb", "zh/chapters/05_preferences_and_dpo_math.ipynb",
            "zh/chapters/12_grpo_and_verifiable_rewards.ipynb"]
SUITE = ["-m", "pytest", "-q", "-n", "2", "--dist", "loadfile", "--nbval-lax", "tests", "chapters", "solutions", *ZH_NBVAL]
FIRST_NOTEBOOK = {"en": "chapters/00_start_here.ipynb", "zh": "zh/chapters/00_start_here.ipynb"}


def cpu_index_reachable(url: str = CPU_INDEX, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether PyTorch's CPU wheel index answers within ``timeout`` seconds."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/torch/", timeout=timeout) as response:
            return response.status == 200
    except (OSError, ValueError):        # URLError, timeouts, refused connections, bad URLs
        return False


def torch_command(python: str, system: str, reachable: bool) -> list[str]:
    """The pip command that installs torch's CPU build for ``system`` (``platform.system()``)."""
    command = [python, "-m", "pip", "install", "--quiet", f"torch=={TORCH_VERSION}"]
    if system == "Linux" and reachable:
        command += ["--index-url", CPU_INDEX]
    return command


def torch_route(system: str, reachable: bool) -> str:
    """One line saying where torch comes from, printed before installing it."""
    if system != "Linux":
        return f"torch {TORCH_VERSION}: the {system} wheel from the configured index is a CPU build"
    if reachable:
        return f"torch {TORCH_VERSION}: CPU build from PyTorch's CPU index ({CPU_INDEX})"
    return (f"torch {TORCH_VERSION}: PyTorch's CPU index is not reachable; installing from the index pip is "
            "configured with (a local mirror has the CPU build; plain PyPI would give the CUDA build)")


def venv_python(venv: Path, system: str) -> Path:
    return venv / ("Scripts/python.exe" if system == "Windows" else "bin/python")


def lab_settings_file(prefix: Path) -> Path:
    """Where JupyterLab of the environment at ``prefix`` reads its overrides (its app settings folder)."""
    return prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.json"


def apply_lab_settings(target: Path) -> dict:
    """Merge tools/lab-overrides.json into the overrides file ``target`` (other settings are kept)."""
    merged = json.loads(target.read_text(encoding="utf-8")) if target.exists() else {}
    for plugin, settings in json.loads(OVERRIDES.read_text(encoding="utf-8")).items():
        merged.setdefault(plugin, {}).update(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    return merged


def plan(target: str, venv: Path, system: str, reachable: bool, python: str = sys.executable,
         as_root: bool = False, language: str = "en") -> list[list[str]]:
    """The commands of ``make <target>`` (lab or test), in order. ``["apply-lab-settings", file]``
    stands for merging the JupyterLab setting into ``file``."""
    if target not in ("lab", "test"):
        raise ValueError(f"target must be 'lab' or 'test', got {target!r}")
    py = str(venv_python(venv, system))
    steps = [[python, "-m", "venv", str(venv)],
             [py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
             torch_command(py, system, reachable),
             [py, "-m", "pip", "install", "--quiet", "-e", "."],
             ["apply-lab-settings", str(lab_settings_file(venv))]]
    if target == "lab":
        return steps + [[py, "-m", "jupyter", "lab", "--ServerApp.ip=127.0.0.1",
                         *(["--allow-root"] if as_root else []), FIRST_NOTEBOOK[language]]]
    return steps + [[py, "-m", "pip", "install", "--quiet", "-e", TEST_EXTRAS], [py, *SUITE]]


def run(steps: list[list[str]], dry_run: bool) -> int:
    for step in steps:
        shown = (f"merge {OVERRIDES.relative_to(ROOT)} into {step[1]}" if step[0] == "apply-lab-settings"
                 else shlex.join(step))
        print(("would run: " if dry_run else "+ ") + shown, flush=True)
        if dry_run:
            continue
        if step[0] == "apply-lab-settings":
            apply_lab_settings(Path(step[1]))
        elif step[1:3] == ["-m", "venv"] and Path(step[3], "pyvenv.cfg").exists():
            print("  (the virtual environment exists)")
        else:
            code = subprocess.call(step, cwd=ROOT)
            if code:
                return code
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["lab", "test", "torch", "lab-settings"])
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv", help="virtual environment (lab, test)")
    parser.add_argument("--cpu-index", choices=["probe", "reachable", "unreachable"], default="probe",
                        help="whether PyTorch's CPU index is reachable (default: ask it, 5 s timeout)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands without running them")
    parser.add_argument("--lang", choices=sorted(FIRST_NOTEBOOK), default="en",
                        help="the edition `lab` opens: en, or zh (中文版, like `make lab LANG=zh`)")
    args = parser.parse_args(argv)
    system = platform.system()
    if args.what == "lab-settings":
        return run([["apply-lab-settings", str(lab_settings_file(Path(sys.prefix)))]], args.dry_run)
    reachable = (cpu_index_reachable() if system == "Linux" and args.cpu_index == "probe"
                 else args.cpu_index == "reachable")
    print(torch_route(system, reachable), flush=True)
    if args.what == "torch":
        return run([torch_command(sys.executable, system, reachable)], args.dry_run)
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    venv = args.venv if args.venv.is_absolute() else Path.cwd() / args.venv
    if shutil.which("make") and not args.dry_run:
        print("(make is installed: `make lab` / `make test` run these same steps and skip the done ones)")
    return run(plan(args.what, venv, system, reachable, as_root=as_root, language=args.lang), args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
