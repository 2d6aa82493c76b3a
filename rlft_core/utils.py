"""Seeding, showing package source in a notebook, and an environment check."""
from __future__ import annotations

import inspect
import json
import os
import platform
import random
import re
import sys
from pathlib import Path

import numpy as np
import torch

from ._validate import check_int
from .i18n import cjk_font, get_language, tr


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's, numpy's and torch's global generators; return a seeded torch Generator.

    The same seed gives the same numbers on the same machine (CPU torch is deterministic for the
    operations the course uses).
    """
    check_int("seed", seed, low=0)
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
        shell = get_ipython()
        return shell is not None and "ZMQ" in type(shell).__name__
    except ImportError:
        return False


def show_source(obj) -> str:
    """Show the source of a function or class: highlighted in a notebook, plain text elsewhere.

    The notebooks call this instead of pasting a copy of package code that would drift
    (the Dive into Deep Learning habit). Returns the source text.
    """
    try:
        source = inspect.getsource(obj)
    except (TypeError, OSError) as e:
        raise ValueError(f"obj must be a function, class or module defined in Python source: {e}") from None
    if _in_notebook():
        from IPython.display import Markdown, display
        where = f"{inspect.getsourcefile(obj)}".split("site-packages/")[-1]
        header = tr("`{name}` — from `{file}`", name=f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}",
                    file=os.path.basename(where))
        display(Markdown(f"{header}\n```python\n{source}```"))
    else:
        print(source)
    return source


def doctor(verbose: bool = True) -> dict:
    """Check the course environment: versions, torch threads, a widget round-trip, the JupyterLab setting.

    Returns a dict of findings; prints a short report when ``verbose``. Raises nothing: a problem is
    reported as a line starting with ``PROBLEM``.
    """
    report = {"python": platform.python_version(), "platform": platform.platform()}
    problems = []
    if sys.version_info < (3, 10):
        problems.append(tr("Python 3.10 or newer is needed"))
    for mod in ("torch", "numpy", "gymnasium", "matplotlib", "ipywidgets", "tqdm"):
        try:
            report[mod] = __import__(mod).__version__
        except Exception as e:  # noqa: BLE001 - report, never crash
            problems.append(tr("{module} does not import: {error}", module=mod, error=e))
    report["torch_threads"] = torch.get_num_threads()
    report["cpu_count"] = os.cpu_count()
    report["cuda"] = torch.cuda.is_available()
    try:  # widget round-trip: a change of value reaches an observer
        import ipywidgets as widgets
        slider = widgets.IntSlider(value=1, min=0, max=10)
        seen = []
        slider.observe(lambda ch: seen.append(ch["new"]), names="value")
        slider.value = 7
        report["widget_roundtrip"] = seen == [7]
        if seen != [7]:
            problems.append(tr("an ipywidgets slider did not notify its observer"))
    except Exception as e:  # noqa: BLE001
        report["widget_roundtrip"] = False
        problems.append(tr("ipywidgets failed: {error}", error=e))
    try:
        import gymnasium as gym
        env = gym.make("CartPole-v1")
        env.reset(seed=0)
        env.step(0)
        env.close()
        report["gymnasium_cartpole"] = True
    except Exception as e:  # noqa: BLE001
        report["gymnasium_cartpole"] = False
        problems.append(tr("gymnasium CartPole-v1 failed: {error}", error=e))
    # JupyterLab setting of tools/lab-overrides.json: widget callbacks on the kernel's main thread
    # (JupyterLab 4.6's default "comms over subshells" can make pyplot redraws come out blank).
    # Overrides of this environment's JupyterLab, then the user's own settings, which win.
    plugin, key = "@jupyterlab/apputils-extension:kernels-settings", "commsOverSubshells"
    app_dir = Path(os.environ.get("JUPYTERLAB_DIR") or Path(sys.prefix, "share", "jupyter", "lab"))
    user_dir = Path(os.environ.get("JUPYTERLAB_SETTINGS_DIR") or Path.home() / ".jupyter" / "lab" / "user-settings")
    comms = None
    for path in [*sorted((app_dir / "settings" / "overrides.d").glob("*.json")), app_dir / "settings" / "overrides.json"]:
        try:
            comms = json.loads(path.read_text(encoding="utf-8")).get(plugin, {}).get(key, comms)
        except (OSError, ValueError, AttributeError):
            pass
    try:  # a JSON5 file: skip comment lines
        user_text = (user_dir / plugin.replace(":", "/")).with_suffix(".jupyterlab-settings").read_text(encoding="utf-8")
        found = re.search(rf'"{key}"\s*:\s*"(\w+)"', "\n".join(
            line for line in user_text.splitlines() if not line.lstrip().startswith("//")))
        comms = found.group(1) if found else comms
    except OSError:
        pass
    report["lab_comms_over_subshells"] = comms or tr("enabled (JupyterLab's default)")
    if comms != "disabled":
        problems.append(tr("JupyterLab handles widget callbacks on a second kernel thread, so slider redraws can "
                           "come out blank: run `python tools/setup_course.py lab-settings` (make lab does it), "
                           "then restart JupyterLab"))
    # Chinese in plots needs a CJK font; without one, plot text stays English (rlft_core.i18n)
    report["language"] = get_language()
    report["cjk_font"] = cjk_font() or tr("none: plots keep English text (install e.g. fonts-noto-cjk)")
    report["problems"] = problems
    if verbose:
        for key, value in report.items():
            if key != "problems":
                print(f"{key:>20}: {value}")
        print("\n".join(tr("PROBLEM: {problem}", problem=p) for p in problems)
              or tr("All good: the course is ready to run."))
    return report
