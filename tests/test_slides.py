"""tools/build_site.py: executed reveal.js slides and HTML pages of the course, with an index.

Builds one fast notebook (solutions/02_core_concepts.ipynb, ~10 s) into a temporary folder, with a
speaker-notes cell added, and reads the slide structure back out of the HTML with a parser. (The
offline behaviour in a browser and the student edition: tests/test_offline_builds.py.)
"""
from __future__ import annotations

import importlib.util
import shutil
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.slow                      # a real browser / a build: `make unit-fast` skips it

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "solutions" / "02_core_concepts.ipynb"
NOTE = "Speaker note: ask the class which path SARSA takes near the cliff."

_spec = importlib.util.spec_from_file_location("build_site", ROOT / "tools" / "build_site.py")
build_site = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_site)


class SlideStructure(HTMLParser):
    """Top-level reveal.js slides: for each, its headings, sub-slide count, notes text and images."""

    def __init__(self):
        super().__init__()
        self.slides, self.depth, self._heading, self._in_notes = [], 0, None, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.depth += 1
            if self.depth == 1:
                self.slides.append({"headings": [], "subslides": 0, "notes": "", "images": []})
            elif self.depth == 2:
                self.slides[-1]["subslides"] += 1
        elif not self.slides:
            return
        elif tag in ("h1", "h2", "h3"):
            self._heading = [tag, ""]
        elif tag == "aside" and "notes" in attrs.get("class", "").split():
            self._in_notes += 1
        elif tag == "img":
            self.slides[-1]["images"].append(attrs.get("src", ""))

    def handle_endtag(self, tag):
        if tag == "section":
            self.depth -= 1
        elif tag in ("h1", "h2", "h3") and self._heading:
            # nbconvert ends each heading with a "¶" anchor link
            self.slides[-1]["headings"].append((self._heading[0], self._heading[1].strip().rstrip("¶").strip()))
            self._heading = None
        elif tag == "aside" and self._in_notes:
            self._in_notes -= 1

    def handle_data(self, data):
        if self._heading:
            self._heading[1] += data
        if self._in_notes and self.slides:
            self.slides[-1]["notes"] += data


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Notebook 02 plus a notes cell, built into slides and HTML in a temporary folder."""
    tmp = tmp_path_factory.mktemp("site")
    source_dir = tmp / "solutions"
    source_dir.mkdir()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    notes = nbformat.v4.new_markdown_cell(NOTE)
    notes.metadata["slideshow"] = {"slide_type": "notes"}
    nb.cells.append(notes)
    source = source_dir / NOTEBOOK.name
    nbformat.write(nb, source)
    written = build_site.build(["slides", "html"], [source], build_dir=tmp / "build")
    executed = nbformat.read(tmp / "build" / "executed" / "instructor" / NOTEBOOK.name, as_version=4)
    return {"tmp": tmp, "nb": nb, "written": written, "executed": executed}


def _slides_of(path: Path) -> list[dict]:
    parser = SlideStructure()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.slides


def test_slides_follow_the_slideshow_metadata_of_the_notebook(built):
    slide_types = [c.metadata.get("slideshow", {}).get("slide_type", "-") for c in built["nb"].cells]
    expected_subslides = []                     # per slide: 1 + the sub-slides that follow it
    for slide_type in slide_types:
        if slide_type == "slide":
            expected_subslides.append(1)
        elif slide_type == "subslide":
            expected_subslides[-1] += 1
    slides = _slides_of(built["written"]["slides"][0])
    assert [s["subslides"] for s in slides] == expected_subslides


def test_each_numbered_section_opens_its_own_slide(built):
    slides = _slides_of(built["written"]["slides"][0])
    first_headings = [s["headings"][0] for s in slides if s["headings"]]
    assert first_headings[0] == ("h1", "2 · Core concepts · 核心概念与联系")
    for number in ("2.1", "2.2", "2.3"):
        matches = [h for h in first_headings if h[0] == "h2" and h[1].startswith(number + " ")]
        assert len(matches) == 1, f"section {number} should open exactly one slide: {first_headings}"


def test_slides_embed_the_figures_of_the_executed_widgets(built):
    # Notebook 02 draws its figure in a widget (the ε slider's Output): the slides carry it as a snapshot.
    state = built["executed"].metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    drawn = [o["data"]["image/png"] for m in state.values() if m["model_name"] == "OutputModel"
             for o in m["state"]["outputs"] if "image/png" in o.get("data", {})]
    assert drawn, "notebook 02 should draw a figure in a widget"
    slides = _slides_of(built["written"]["slides"][0])
    images = [src for s in slides for src in s["images"]]
    assert [src for src in images if src.startswith("data:image/png;base64,")] == \
        [f"data:image/png;base64,{png}" for png in drawn]


def test_notes_cells_become_speaker_notes_not_slide_text(built):
    slides = _slides_of(built["written"]["slides"][0])
    with_notes = [s for s in slides if NOTE in s["notes"]]
    assert len(with_notes) == 1
    assert with_notes[0] is slides[-1]          # the notes cell is the last cell: the last slide's notes


def test_slides_use_the_local_reveal_with_scrolling_and_the_notes_plugin(built):
    page = built["written"]["slides"][0]
    text = page.read_text(encoding="utf-8")
    for script in ("assets/reveal.js/dist/reveal.js", "assets/reveal.js/plugin/notes/notes.js"):
        assert f'"{script}"' in text
        assert (page.parent / script).is_file()
    assert "var scroll = true" in text


def test_executed_copy_has_outputs_and_widget_state(built):
    executed = built["executed"]
    code_cells = [c for c in executed.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code_cells)
    assert any(o.get("output_type") == "error" for c in code_cells for o in c.outputs) is False
    assert executed.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]


def test_html_page_has_the_outputs_and_the_widgets(built):
    page = built["written"]["html"][0].read_text(encoding="utf-8")
    assert "data:image/png;base64," in page
    assert "application/vnd.jupyter.widget-state+json" in page
    # a heading of the notebook, as its markdown says it (nbconvert renders it as text in an <h2>)
    source = "\n".join(c.source for c in built["executed"].cells if c.cell_type == "markdown")
    heading = next(line[3:].strip() for line in source.splitlines() if line.startswith("## 2.2"))
    assert heading in page and "Q-learning and SARSA" in heading


def test_index_pages_list_the_notebooks_with_their_titles(built):
    for kind, suffix in (("slides", ".slides.html"), ("html", ".html")):
        index = built["written"][kind][-1]
        assert index.name == "index.html" and index.parent == built["tmp"] / "build" / "instructor" / kind
        text = index.read_text(encoding="utf-8")
        assert f'href="{NOTEBOOK.stem}{suffix}"' in text
        assert "2 · Core concepts · 核心概念与联系" in text


def test_executed_copy_is_reused_until_the_notebook_changes(built, capsys):
    source = built["tmp"] / "solutions" / NOTEBOOK.name
    executed_dir = built["tmp"] / "build" / "executed" / "instructor"
    build_site.execute_notebook(source, executed_dir)
    assert "up to date" in capsys.readouterr().out


def test_course_notebooks_come_in_name_order_and_titles_come_from_the_first_heading(tmp_path):
    for name in ("10_faq.ipynb", "02_b.ipynb", "00_a.ipynb"):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("x = 1"),
                    nbformat.v4.new_markdown_cell(f"Intro text\n# {name[:2]} · Title {name}\n## sub")]
        nbformat.write(nb, tmp_path / name)
    paths = build_site.course_notebooks(tmp_path)
    assert [p.name for p in paths] == ["00_a.ipynb", "02_b.ipynb", "10_faq.ipynb"]
    assert [p.name for p in build_site.course_notebooks(tmp_path, only="02")] == ["02_b.ipynb"]
    titles = [build_site.notebook_title(nbformat.read(p, as_version=4), "?") for p in paths]
    assert titles == ["00 · Title 00_a.ipynb", "02 · Title 02_b.ipynb", "10 · Title 10_faq.ipynb"]
    assert build_site.notebook_title(nbformat.v4.new_notebook(), "fallback") == "fallback"


def _model(name, buffers=(), **state):
    return {"model_name": name, "model_module": "@jupyter-widgets/controls", "state": state,
            "buffers": list(buffers)}


def test_widget_figures_walk_the_widget_tree_in_display_order():
    png = lambda tag: f"iVBORw0KGgo{tag}"                     # noqa: E731  (base64 PNG magic + a tag)
    state = {
        "box": _model("VBoxModel", children=["IPY_MODEL_slider", "IPY_MODEL_out", "IPY_MODEL_row"]),
        "slider": _model("FloatSliderModel", value=0.5),
        "out": _model("OutputModel", outputs=[{"output_type": "stream", "text": "hi"},
                                               {"output_type": "display_data", "data": {"image/png": png("out")}},
                                               {"output_type": "display_data",
                                                "data": {build_site.WIDGET_VIEW: {"model_id": "inner"}}}]),
        "inner": _model("ImageModel", buffers=[{"path": ["value"], "encoding": "base64", "data": png("inner")}]),
        "row": _model("HBoxModel", children=["IPY_MODEL_img", "IPY_MODEL_box", "IPY_MODEL_jpeg"]),   # a cycle
        "img": _model("ImageModel", buffers=[{"path": ["value"], "encoding": "base64", "data": png("img")}],
                      format="png"),
        "jpeg": _model("ImageModel", buffers=[{"path": ["value"], "encoding": "base64", "data": "/9j/"}],
                       format="jpeg"),
    }
    assert build_site.widget_figures(state, "box") == [png("out"), png("inner"), png("img")]
    assert build_site.widget_figures(state, "slider") == []
    assert build_site.widget_figures(state, "missing") == []
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {build_site.WIDGET_STATE: {"state": state, "version_major": 2, "version_minor": 0}}
    view = {"output_type": "display_data", "metadata": {},
            "data": {"text/plain": "VBox()", build_site.WIDGET_VIEW: {"model_id": "box", "version_major": 2}}}
    nb.cells = [nbformat.v4.new_code_cell("box", outputs=[nbformat.from_dict(view)])]
    assert build_site.add_widget_snapshots(nb) == 1
    assert nb.cells[0].outputs[0].metadata["rlft_snapshots"] == [png("out"), png("inner"), png("img")]


def test_index_escapes_titles(tmp_path):
    index = build_site.write_index(tmp_path, [("a.html", "<script>x</script> & co")], "Course")
    text = index.read_text(encoding="utf-8")
    assert "<script>x</script>" not in text and "&lt;script&gt;" in text


def test_a_failing_cell_stops_the_build_naming_the_notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Broken"), nbformat.v4.new_code_cell("1 / 0")]
    nbformat.write(nb, tmp_path / "99_broken.ipynb")
    with pytest.raises(RuntimeError, match="99_broken.ipynb"):
        build_site.execute_notebook(tmp_path / "99_broken.ipynb", tmp_path / "executed")


def test_bad_arguments_raise_value_error(tmp_path, built):
    executed = built["tmp"] / "build" / "executed" / "instructor" / NOTEBOOK.name
    with pytest.raises(ValueError, match="kind"):
        build_site.convert(executed, tmp_path, "pdf")
    with pytest.raises(ValueError, match="kinds"):
        build_site.build(["pdf"], [executed], build_dir=tmp_path)
    with pytest.raises(ValueError, match="sources"):
        build_site.build(["html"], [], build_dir=tmp_path)
    with pytest.raises(ValueError, match="audience"):
        build_site.build(["html"], [executed], build_dir=tmp_path, audience="parents")
