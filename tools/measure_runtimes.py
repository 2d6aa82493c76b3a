"""Measure how long each notebook of solutions/ takes under nbval, and write the figures everywhere.

One source of truth: ``tools/runtimes.json`` holds the measured wall-clock seconds of every run of
this script (``samples``) and, per notebook, the smallest (``seconds``): on a machine shared with
other jobs each sample is an upper bound, so the smallest is the tightest. From it this script writes
* the run-time column of the course map in ``README.md``,
* the "Time to run: ~N s" line in the header cell of each notebook of ``solutions/`` (and so, after
  ``make chapters``, of ``chapters/``),
* the "(~N s)" after each notebook's heading in ``INSTRUCTORS.md``.
``tests/test_runtimes_consistent.py`` fails when any of them disagrees with the data file.

    python tools/measure_runtimes.py               # measure every notebook (~10 min), then write
    python tools/measure_runtimes.py --only 03 07  # measure some notebooks again, then write
    python tools/measure_runtimes.py --only 07 --reset  # notebook 07's code changed: drop its old samples
    python tools/measure_runtimes.py --write-only  # only rewrite README, headers, INSTRUCTORS

Each notebook is measured as ``python -m pytest -q --nbval-lax solutions/NN_x.ipynb`` in a fresh
process: the wall time includes pytest's and the kernel's start-up, as a student running the
notebook (or ``make test``) would see it. On a shared machine the figures are upper bounds.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tools" / "runtimes.json"
README = ROOT / "README.md"
INSTRUCTORS = ROOT / "INSTRUCTORS.md"
SOLUTIONS = ROOT / "solutions"

HEADER_TIME = re.compile(r"Time to run: ~\d+ s")          # in the second line of a notebook's title cell
INSTRUCTORS_HEADING = re.compile(r"^(## (\d\d) [^\n]*?) \(~[^)]*\)$", re.M)
README_ROW = re.compile(r"^(\| `(\d\d)_[a-z_]+` \|.*\| )([^|]*?)( \|)$", re.M)


def shown(seconds: float) -> str:
    """The figure people read: rounded *up* to 5 s, so that it stays an upper bound."""
    return f"~{5 * math.ceil(seconds / 5)} s"


def notebooks() -> list[Path]:
    return sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb"))


def measure(path: Path) -> dict:
    """Wall time of one notebook under nbval, in a fresh process."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                           str(path.relative_to(ROOT))], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 1), "passed": proc.returncode == 0,
            "load_average_after": round(os.getloadavg()[0], 1)}   # how busy the shared machine was


def load() -> dict:
    return json.loads(DATA.read_text()) if DATA.exists() else {"notebooks": {}}


def header_line(nb) -> str:
    return nb.cells[0].source.splitlines()[1]


def write_header(path: Path, text: str) -> bool:
    """Put "Time to run: ~N s" in the title cell's second line; True if the file changed."""
    raw = path.read_text()
    nb = nbformat.reads(raw, as_version=4)
    lines = nb.cells[0].source.split("\n")
    if not HEADER_TIME.search(lines[1]):
        raise ValueError(f"{path.name}: the title cell's second line has no 'Time to run: ~N s'")
    lines[1] = HEADER_TIME.sub(f"Time to run: {text}", lines[1])
    nb.cells[0].source = "\n".join(lines)
    new = nbformat.writes(nb) + "\n"
    if new != raw:
        path.write_text(new)
    return new != raw


def write_readme(figures: dict[str, str]) -> None:
    text = README.read_text()
    text = README_ROW.sub(lambda m: m.group(1) + figures.get(m.group(2), m.group(3)) + m.group(4), text)
    README.write_text(text)


def write_instructors(figures: dict[str, str]) -> None:
    text = INSTRUCTORS.read_text()
    text = INSTRUCTORS_HEADING.sub(lambda m: f"{m.group(1)} ({figures.get(m.group(2), '?')})", text)
    INSTRUCTORS.write_text(text)


def write_all(data: dict) -> dict[str, str]:
    figures = {name[:2]: shown(entry["seconds"]) for name, entry in data["notebooks"].items()}
    for path in notebooks():
        if path.stem[:2] in figures:
            write_header(path, figures[path.stem[:2]])
    write_readme(figures)
    write_instructors(figures)
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="notebook numbers to measure, e.g. 03 07")
    parser.add_argument("--write-only", action="store_true", help="do not measure; rewrite from the data file")
    parser.add_argument("--no-write", action="store_true", help="measure and save the data file only")
    parser.add_argument("--reset", action="store_true",
                        help="forget earlier samples of the notebooks measured (after their code changed)")
    args = parser.parse_args(argv)
    data = load()
    if not args.write_only:
        for path in notebooks():
            if args.only and path.stem[:2] not in args.only:
                continue
            result = measure(path)
            if args.reset:
                data["notebooks"].pop(path.stem, None)
            entry = data["notebooks"].setdefault(path.stem, {"samples": []})
            entry["samples"].append(result)
            # Every sample on a busy machine is an upper bound of the time; the smallest is the tightest.
            entry["seconds"] = min(sample["seconds"] for sample in entry["samples"])
            entry["passed"] = result["passed"]
            print(f"{path.stem:40s} {result['seconds']:6.1f} s  {'passed' if result['passed'] else 'FAILED'}", flush=True)
        data.setdefault("runs", []).append({
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": " ".join(["python tools/measure_runtimes.py", *(argv if argv is not None else sys.argv[1:])]),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}",
            "note": "wall clock under nbval on a machine shared with other jobs: upper bounds",
        })
        DATA.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    if args.no_write:
        return 0
    figures = write_all(data)
    print("written:", ", ".join(f"{k} {v}" for k, v in sorted(figures.items())))
    failed = [name for name, entry in data["notebooks"].items() if not entry["passed"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
