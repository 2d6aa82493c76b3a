"""Build the classroom kit: executed reveal.js slides and an executed HTML version of the course.

The notebooks are run from ``solutions/`` (the solved master copies, so every exercise cell has
an answer and every figure is drawn), in name order, which is course order. Each one is executed
once into ``build/executed/`` with its widget state stored in the notebook, then converted:

* slides (``make slides``) go to ``build/slides/NN_name.slides.html``: what
  ``jupyter nbconvert --to slides --SlidesExporter.reveal_scroll=True`` makes of the executed
  notebook, plus the widget snapshots below. The cells' ``slideshow`` metadata decides the slides
  (the authoring tool starts a slide at ``#``/``##`` headings and a sub-slide at ``###``); cells of
  slide type ``notes`` become reveal.js speaker notes (press ``s`` while presenting: reveal.js 4's
  notes plugin opens the speaker view in a pop-up window).
* HTML (``make html``) goes to ``build/html/NN_name.html``, outputs included;
* each folder gets an ``index.html`` listing the notebooks in course order, with the title read
  from each notebook's first heading.

The kernel runs with its working directory in ``solutions/`` (where a student's kernel runs in
``chapters/``) and with the repository root on ``PYTHONPATH``, so ``import rlft_core`` works even
without the editable install. An executed copy is reused while it is newer than its notebook and
than every file of ``rlft_core``; ``--fresh`` runs everything again. A cell that raises stops the
build with the notebook's name.

Widgets keep their last drawn state: their figures sit in the stored widget state, which the Jupyter
widgets HTML manager draws when the page opens. Each widget output also gets a static snapshot of
the figures in its widget tree (ipywidgets ``Image`` values and images in ``Output`` widgets), shown
only until the widget renderer has drawn the widget; so figures appear even where it cannot load.

What needs the network when the pages are *opened* (nbconvert 7.17's defaults; nothing is fetched
while building): reveal.js 4.0.2 from unpkg, MathJax, require.js and jQuery from cdnjs, and, for
widgets, the Jupyter widgets HTML manager from unpkg. Offline, text, printed outputs and figures (embedded PNGs, widget
snapshots) still show in the HTML pages, but the slides do not become a slideshow and formulas stay
as TeX source. ``--reveal-url`` (``make slides REVEAL_URL=...``) points the slides at another copy
of reveal.js 4.x; require.js and jQuery still come from cdnjs.

    python tools/build_site.py slides html             # both
    python tools/build_site.py slides --only 02        # only notebooks whose name starts with 02
    python tools/build_site.py html --fresh            # execute again even if up to date
"""
from __future__ import annotations

import argparse
import html
import os
import sys
import time
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbclient import NotebookClient
from nbconvert import HTMLExporter, SlidesExporter

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
BUILD = ROOT / "build"
DEFAULT_REVEAL_URL = "https://unpkg.com/reveal.js@4.0.2"      # nbconvert 7.17's own default
CELL_TIMEOUT = 600                                               # seconds for one cell
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# A widget output as nbconvert writes it (a div holding the view's <script>), plus static snapshots
# after that <script>. The widget renderer draws the widget into a div.widget-subarea that it inserts
# before the <script>; the CSS rule then hides the snapshots.
WIDGET_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block data_widget_view scoped -%}
{%- set view_id = uuid4() -%}
{%- set mime = (output.data | filter_data_type)[0] -%}
<div id="{{ view_id }}" class="jupyter-widgets jp-OutputArea-output {{ extra_class }}">
<script type="text/javascript">var element = document.getElementById('{{ view_id }}');</script>
<script type="{{ mime }}">{{ output.data[mime] | json_dumps | escape_html_script }}</script>
{%- set snapshots = output.metadata.get('rlft_snapshots', []) -%}
{%- if snapshots %}
<style>.widget-subarea ~ .rlft-widget-snapshot { display: none; }</style>
{%- for png in snapshots %}
<img class="rlft-widget-snapshot" alt="figure of the widget, as last drawn" src="data:image/png;base64,{{ png }}">
{%- endfor -%}
{%- endif %}
</div>
{%- endblock data_widget_view -%}
"""


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


def execute_notebook(source: Path, executed_dir: Path, fresh: bool = False,
                     timeout: int = CELL_TIMEOUT) -> Path:
    """Run ``source`` top to bottom into ``executed_dir/<name>``, widget state stored; return that path.

    The kernel's working directory is the notebook's folder; the repository root is put on
    ``PYTHONPATH``. Reuses an executed copy that is newer than the notebook and the package unless
    ``fresh``. Raises ``RuntimeError`` naming the notebook when a cell fails.
    """
    executed_dir.mkdir(parents=True, exist_ok=True)
    target = executed_dir / source.name
    if (not fresh and target.exists()
            and target.stat().st_mtime > max(source.stat().st_mtime, _newest_package_mtime())):
        print(f"  {source.name}: executed copy is up to date", flush=True)
        return target
    nb = nbformat.read(source, as_version=4)
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


def convert(executed: Path, out_dir: Path, kind: str, reveal_url: str = DEFAULT_REVEAL_URL) -> Path:
    """Write the slides (``kind="slides"``) or the HTML page (``kind="html"``) of an executed notebook."""
    templates = {"extra_loaders": [DictLoader({"rlft.html.j2": WIDGET_TEMPLATE})], "template_file": "rlft.html.j2"}
    if kind == "slides":
        exporter = SlidesExporter(reveal_url_prefix=reveal_url, reveal_scroll=True, **templates)
        suffix = ".slides.html"
    elif kind == "html":
        exporter = HTMLExporter(**templates)
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


def write_index(out_dir: Path, entries: list[tuple[str, str]], heading: str) -> Path:
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
<p>Executed from <code>solutions/</code> (exercises solved). Run the notebooks yourself with
<code>make lab</code>.</p>
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


def build(kinds: list[str], sources: list[Path], build_dir: Path = BUILD, fresh: bool = False,
          reveal_url: str = DEFAULT_REVEAL_URL) -> dict[str, list[Path]]:
    """Execute ``sources`` once and convert each to every kind in ``kinds``; write the index pages.

    Returns ``{kind: [written page, ...]}`` (index page last).
    """
    for kind in kinds:
        if kind not in ("slides", "html"):
            raise ValueError(f"kinds must hold 'slides' and/or 'html', got {kind!r}")
    if not sources:
        raise ValueError("sources is empty: no notebooks to build")
    written: dict[str, list[Path]] = {kind: [] for kind in kinds}
    entries: dict[str, list[tuple[str, str]]] = {kind: [] for kind in kinds}
    for source in sources:
        executed = execute_notebook(source, build_dir / "executed", fresh=fresh)
        title = notebook_title(nbformat.read(executed, as_version=4), source.stem)
        for kind in kinds:
            page = convert(executed, build_dir / kind, kind, reveal_url=reveal_url)
            written[kind].append(page)
            entries[kind].append((page.name, title))
    for kind in kinds:
        heading = "rlft-course: " + ("slides" if kind == "slides" else "the course, executed")
        written[kind].append(write_index(build_dir / kind, entries[kind], heading))
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kinds", nargs="+", choices=["slides", "html"])
    parser.add_argument("--only", help="build only the notebooks whose file name starts with this")
    parser.add_argument("--fresh", action="store_true", help="execute again even if an executed copy is up to date")
    parser.add_argument("--build-dir", type=Path, default=BUILD)
    parser.add_argument("--reveal-url", default=os.environ.get("REVEAL_URL") or DEFAULT_REVEAL_URL,
                        help="URL prefix of reveal.js (default: nbconvert's CDN copy of 4.0.2)")
    args = parser.parse_args(argv)
    sources = course_notebooks(only=args.only)
    if not sources:
        print(f"no notebooks in {SOLUTIONS} match", file=sys.stderr)
        return 1
    start = time.perf_counter()
    written = build(list(dict.fromkeys(args.kinds)), sources, build_dir=args.build_dir, fresh=args.fresh,
                    reveal_url=args.reveal_url)
    for kind, pages in written.items():
        print(f"{kind}: {len(pages) - 1} notebooks -> {pages[-1]}")
    print(f"done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
