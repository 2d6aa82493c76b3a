"""Build the classroom kit: executed reveal.js slides and HTML pages, for students and for the instructor.

Two audiences, each in its own folder, each executed once into ``build/executed/<audience>/``:

* ``build/instructor/{slides,html}`` from ``solutions/``: exercises solved, speaker notes kept;
* ``build/student/{slides,html}`` from ``chapters/``: exercise stubs, no solution and no hidden
  test (the regions between ``### BEGIN SOLUTION``/``### END SOLUTION`` and ``### BEGIN HIDDEN
  TESTS``/``### END HIDDEN TESTS`` are stripped again, in case a chapter still holds one), and no
  speaker notes. After building, every student page is searched for the lines of the solutions
  (tools/site_checks.py): the build fails when one is found.

Slides (``NN_name.slides.html``) are what ``jupyter nbconvert --to slides
--SlidesExporter.reveal_scroll=True`` makes of the executed notebook: the cells' ``slideshow``
metadata decides the slides, and cells of slide type ``notes`` become reveal.js speaker notes
(press ``s`` in a deck: the notes plugin opens the speaker view). HTML pages are ``NN_name.html``.
Each folder gets an ``index.html`` in course (= name) order, titled from each notebook's first heading.

Every folder works offline, opened straight from disk: reveal.js with its notes plugin, MathJax,
require.js, jQuery, the Jupyter widgets HTML manager and mermaid are copied into ``assets/`` beside
the pages (tools/offline_assets.py fetches them once from the npm registry, pinned and checked by
sha512, into ``build/cache/npm/``), and the pages load them by relative URL. The build fails when a
page still loads anything from another machine.

The kernel runs in the notebook's folder with the repository root on ``PYTHONPATH``. An executed
copy is reused while it is newer than its notebook and every file of ``rlft_core``; ``--fresh``
runs everything again. A cell that raises stops the build with the notebook's name. Widgets keep
their last drawn state, drawn by the widget renderer when the page opens; each widget output also
carries static snapshots of its figures, shown until the renderer has drawn the widget.

    python tools/build_site.py slides html                      # both kinds, both audiences
    python tools/build_site.py html --audience student          # one audience
    python tools/build_site.py slides --only 02 --fresh         # notebooks starting with 02, re-executed
    python tools/build_site.py slides html --lang zh            # 中文版: from zh/solutions and zh/chapters into build/zh/
"""
from __future__ import annotations

import argparse
import html
import importlib.util
import os
import sys
import time
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbclient import NotebookClient
from nbconvert import HTMLExporter, SlidesExporter

sys.path.insert(0, str(Path(__file__).resolve().parent))
import offline_assets  # noqa: E402  (a sibling script, not a package)
import site_checks  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
CHAPTERS = ROOT / "chapters"
BUILD = ROOT / "build"
CACHE = BUILD / "cache" / "npm"
AUDIENCES = {"instructor": SOLUTIONS, "student": CHAPTERS}      # audience -> the notebooks it gets
EDITIONS = {"en": AUDIENCES,                                     # language -> its AUDIENCES
            "zh": {"instructor": ROOT / "zh" / "solutions", "student": ROOT / "zh" / "chapters"}}
CELL_TIMEOUT = 600                                               # seconds for one cell
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
_spec = importlib.util.spec_from_file_location("make_chapters", ROOT / "tools" / "make_chapters.py")
make_chapters = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_chapters)

# nbconvert's own template (reveal or lab) plus: widget snapshots, and mermaid drawn without ES modules.
TEMPLATE = (Path(__file__).resolve().parent / "site_template.html.j2").read_text(encoding="utf-8")


def course_notebooks(source_dir: Path = SOLUTIONS, only: str | None = None) -> list[Path]:
    """The notebooks of the course in course order (= name order), optionally those starting with ``only``."""
    paths = sorted(source_dir.glob("*.ipynb"))
    if only:
        paths = [p for p in paths if p.name.startswith(only)]
    return paths


def notebook_title(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The text of the notebook's first markdown heading (``# 0 · Start here · 环境搭建``)."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip()
    return fallback


def _newest_package_mtime() -> float:
    return max((p.stat().st_mtime for p in (ROOT / "rlft_core").rglob("*.py")), default=0.0)


def for_students(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student's copy: solution and hidden-test regions stripped (as make_chapters does), no speaker notes."""
    chapter = make_chapters.chapter_from_solution(nb)
    chapter.cells = [c for c in chapter.cells if c.metadata.get("slideshow", {}).get("slide_type") != "notes"]
    return chapter


def execute_notebook(source: Path, executed_dir: Path, fresh: bool = False,
                     timeout: int = CELL_TIMEOUT, prepare=None) -> Path:
    """Run ``source`` top to bottom into ``executed_dir/<name>``, widget state stored; return that path.

    ``prepare`` (notebook -> notebook) is applied before running. The kernel's working directory is
    the notebook's folder; the repository root is put on ``PYTHONPATH``. Reuses an executed copy
    that is newer than the notebook and the package unless ``fresh``. Raises ``RuntimeError``
    naming the notebook when a cell fails.
    """
    executed_dir.mkdir(parents=True, exist_ok=True)
    target = executed_dir / source.name
    if (not fresh and target.exists()
            and target.stat().st_mtime > max(source.stat().st_mtime, _newest_package_mtime())):
        print(f"  {source.name}: executed copy is up to date", flush=True)
        return target
    nb = nbformat.read(source, as_version=4)
    nb = prepare(nb) if prepare else nb
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + env_path if env_path else "")
    start = time.perf_counter()
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                                resources={"metadata": {"path": str(source.parent)}})
        client.execute()
    except Exception as error:          # CellExecutionError, timeouts, a dead kernel
        raise RuntimeError(f"executing {source} failed:\n{error}") from error
    finally:
        os.environ["PYTHONPATH"] = env_path
        if not env_path:
            del os.environ["PYTHONPATH"]
    nbformat.write(nb, target)
    print(f"  {source.name}: executed in {time.perf_counter() - start:.0f} s", flush=True)
    return target


def widget_figures(state: dict, model_id: str, seen: set | None = None) -> list[str]:
    """Base64 PNGs drawn by the widget ``model_id`` and its descendants, in display order.

    ``state`` is the ``state`` dict of a notebook's stored widget state: ``Image`` widgets hold
    their PNG in a base64 buffer, ``Output`` widgets hold ordinary notebook outputs.
    """
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in state:
        return []
    seen.add(model_id)
    model = state[model_id]
    pngs = []
    if model.get("model_name") == "ImageModel" and model["state"].get("format", "png") == "png":
        pngs += [b["data"] for b in model.get("buffers", []) if b.get("path") == ["value"]
                 and b.get("encoding") == "base64"]
    references = []
    for output in model["state"].get("outputs", []) if model.get("model_name") == "OutputModel" else []:
        png = output.get("data", {}).get("image/png")
        if png:
            pngs.append("".join(png) if isinstance(png, list) else png)
        nested = output.get("data", {}).get(WIDGET_VIEW)        # a widget shown inside the Output
        if nested:
            pngs += widget_figures(state, nested.get("model_id", ""), seen)
    for value in model["state"].values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item.startswith("IPY_MODEL_"):
                references.append(item[len("IPY_MODEL_"):])
    for child in references:
        pngs += widget_figures(state, child, seen)
    return pngs


def add_widget_snapshots(nb: nbformat.NotebookNode) -> int:
    """Attach to every widget output the PNGs of its widget tree (output metadata ``rlft_snapshots``).

    Returns how many widget outputs got at least one figure. Changes ``nb`` in place.
    """
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    with_figures = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            view = output.get("data", {}).get(WIDGET_VIEW)
            if not view:
                continue
            pngs = widget_figures(state, view.get("model_id", ""))
            if pngs:
                output.setdefault("metadata", {})["rlft_snapshots"] = pngs
                with_figures += 1
    return with_figures


def convert(executed: Path, out_dir: Path, kind: str) -> Path:
    """Write the slides (``kind="slides"``) or the HTML page (``kind="html"``) of an executed notebook.

    Every library is loaded from ``assets/`` beside the page (``offline_assets.EXPORTER_URLS``).
    """
    options = {"extra_loaders": [DictLoader({"rlft.html.j2": TEMPLATE})], "template_file": "rlft.html.j2",
               **offline_assets.EXPORTER_URLS}
    if kind == "slides":
        exporter = SlidesExporter(reveal_url_prefix=offline_assets.REVEAL_URL_PREFIX, reveal_theme=offline_assets.REVEAL_THEME,
                                  reveal_scroll=True, **options)
        suffix = ".slides.html"
    elif kind == "html":
        exporter = HTMLExporter(**options)
        suffix = ".html"
    else:
        raise ValueError(f"kind must be 'slides' or 'html', got {kind!r}")
    nb = nbformat.read(executed, as_version=4)
    nb.metadata["title"] = notebook_title(nb, executed.stem)
    add_widget_snapshots(nb)
    body, _resources = exporter.from_notebook_node(nb, resources={"metadata": {"name": executed.stem}})
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / (executed.stem + suffix)
    target.write_text(body, encoding="utf-8")
    return target


def write_index(out_dir: Path, entries: list[tuple[str, str]], heading: str, note: str = "") -> Path:
    """An ``index.html`` linking ``(file name, title)`` entries in the given (course) order."""
    items = "\n".join(f'  <li><a href="{html.escape(name, quote=True)}">{html.escape(title)}</a></li>'
                      for name, title in entries)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{html.escape(heading)}</title>
<style>body {{ font-family: sans-serif; max-width: 46em; margin: 2em auto; line-height: 1.6 }}</style>
</head>
<body>
<h1>{html.escape(heading)}</h1>
<p>{html.escape(note)} Run the notebooks yourself with <code>make lab</code>.</p>
<ul style="list-style: none; padding-left: 0">
{items}
</ul>
</body>
</html>
"""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "index.html"
    target.write_text(page, encoding="utf-8")
    return target


INDEX_NOTES = {
    "instructor": "Instructor edition, executed from solutions/: exercises solved; in a deck, press s for "
                  "the speaker notes.",
    "student": "Student edition, executed from chapters/: the exercises are yours to solve.",
}


def build(kinds: list[str], sources: list[Path], build_dir: Path = BUILD, fresh: bool = False,
          audience: str = "instructor", cache_dir: Path = CACHE) -> dict[str, list[Path]]:
    """Execute ``sources`` once for ``audience`` and convert each to every kind in ``kinds``.

    Pages go to ``build_dir/<audience>/<kind>/`` with an index page and the ``assets/`` they load.
    Returns ``{kind: [written page, ...]}`` (index page last).
    """
    for kind in kinds:
        if kind not in ("slides", "html"):
            raise ValueError(f"kinds must hold 'slides' and/or 'html', got {kind!r}")
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {sorted(AUDIENCES)}, got {audience!r}")
    if not sources:
        raise ValueError("sources is empty: no notebooks to build")
    prepare = for_students if audience == "student" else None
    written: dict[str, list[Path]] = {kind: [] for kind in kinds}
    entries: dict[str, list[tuple[str, str]]] = {kind: [] for kind in kinds}
    for source in sources:
        executed = execute_notebook(source, build_dir / "executed" / audience, fresh=fresh, prepare=prepare)
        title = notebook_title(nbformat.read(executed, as_version=4), source.stem)
        for kind in kinds:
            page = convert(executed, build_dir / audience / kind, kind)
            written[kind].append(page)
            entries[kind].append((page.name, title))
    for kind in kinds:
        out_dir = build_dir / audience / kind
        offline_assets.install(out_dir, cache_dir)
        heading = f"rlft-course ({audience}): " + ("slides" if kind == "slides" else "the course, executed")
        written[kind].append(write_index(out_dir, entries[kind], heading, INDEX_NOTES[audience]))
    return written


def check_site(pages: list[Path], audience: str, secret_lines: set[str]) -> list[str]:
    """Problems of built pages: resources on other machines; for students, solution lines."""
    problems = [f"{page.name} loads {url}" for page in pages
                for url in site_checks.external_resources(page.read_text(encoding="utf-8"))]
    if audience == "student":
        for folder in sorted({page.parent for page in pages}):
            problems += [f"{folder.name}/{name} shows solution lines: {found[:3]}"
                         for name, found in site_checks.leaked_lines(folder, secret_lines).items()]
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kinds", nargs="+", choices=["slides", "html"])
    parser.add_argument("--audience", choices=["student", "instructor", "both"], default="both")
    parser.add_argument("--only", help="build only the notebooks whose file name starts with this")
    parser.add_argument("--fresh", action="store_true", help="execute again even if an executed copy is up to date")
    parser.add_argument("--build-dir", type=Path, default=None, help="default: build/ (build/zh/ for --lang zh)")
    parser.add_argument("--lang", choices=sorted(EDITIONS), default="en", help="the edition: en, or zh (中文版)")
    args = parser.parse_args(argv)
    folders = EDITIONS[args.lang]
    build_dir = args.build_dir or (BUILD if args.lang == "en" else BUILD / args.lang)
    audiences = list(AUDIENCES) if args.audience == "both" else [args.audience]
    secret_lines = site_checks.solution_lines(SOLUTIONS, CHAPTERS, ROOT / "rlft_core")
    start, problems = time.perf_counter(), []
    for audience in audiences:
        sources = course_notebooks(folders[audience], only=args.only)
        if not sources:
            print(f"no notebooks in {folders[audience]} match", file=sys.stderr)
            return 1
        print(f"{audience}: {len(sources)} notebooks from {folders[audience].relative_to(ROOT)}/", flush=True)
        written = build(list(dict.fromkeys(args.kinds)), sources, build_dir=build_dir, fresh=args.fresh,
                        audience=audience)
        for kind, pages in written.items():
            print(f"  {kind}: {len(pages) - 1} notebooks -> {pages[-1]}")
            problems += check_site(pages, audience, secret_lines)
    print(f"done in {time.perf_counter() - start:.0f} s")
    if problems:
        print("The build is NOT fit to hand out:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print("checked: no page loads anything from the network; no student page shows a solution line")
    return 0


if __name__ == "__main__":
    sys.exit(main())
