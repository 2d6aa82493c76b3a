"""The built slides and pages work with the network unplugged, and the student edition holds no answer.

The browser part builds notebook 02 (formulas, a mermaid concept map, a widget, two exercises) for
both audiences into a temporary folder (about 30 s of execution), opens the instructor's deck and
the student's page from disk in Debian's Chromium, aborts every request that is not for a local
file, and checks what a lecture hall would see. Never ``playwright install``: playwright only drives
``/usr/bin/chromium`` (``make test`` installs it when run as root).
"""
from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import os
import sys
import tarfile
from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "02_core_concepts.ipynb"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
LOCAL = ("file:", "data:", "blob:", "about:")
sys.path.insert(0, str(ROOT / "tools"))
import offline_assets  # noqa: E402
import site_checks  # noqa: E402

_spec = importlib.util.spec_from_file_location("build_site", ROOT / "tools" / "build_site.py")
build_site = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_site)


# --- the checkers, on pages written by hand -------------------------------------------------------

def test_external_resources_reports_every_way_a_page_fetches_from_another_machine():
    page = """<html><head>
    <script src="https://cdn.example/a.js"></script>
    <script src="assets/local.js"></script>
    <link rel="stylesheet" href="//fonts.example/b.css">
    <link rel="alternate" href="https://example.org/feed">
    <style>/* see https://docs.example/c */ .x { background: url(https://img.example/d.png) }
    @import "https://css.example/e.css";</style>
    <script type="module">const m = await import("https://esm.example/f.mjs");</script>
    <script>// docs at https://comment.example
    var src = 'https://widgets.example/g.js';</script>
    <script type="application/vnd.jupyter.widget-state+json">{"u": "https://state.example/h"}</script>
    </head><body><a href="https://arxiv.org/abs/1707.06347">PPO</a>
    <img src="data:image/png;base64,AAAA"><img src="http://img.example/i.png"></body></html>"""
    assert site_checks.external_resources(page) == [
        "https://cdn.example/a.js", "//fonts.example/b.css", "http://img.example/i.png",
        "https://img.example/d.png", "https://css.example/e.css", "https://esm.example/f.mjs",
        "https://widgets.example/g.js"]


def _small_notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# T\n$$a = b$$\n```mermaid\nflowchart LR\n  A --> B\n```"),
                nbformat.v4.new_code_cell("1 + 1")]
    nb.metadata["widgets"] = {build_site.WIDGET_STATE: {"state": {}, "version_major": 2, "version_minor": 0}}
    return nb


def test_nbconverts_own_pages_load_from_cdns_and_ours_load_nothing_remote(tmp_path):
    # The checker against nbconvert's real templates: its defaults fetch require.js, MathJax, the
    # widget renderer and mermaid from CDNs; our conversion of the same notebook fetches nothing.
    nb = _small_notebook()
    theirs, _ = HTMLExporter().from_notebook_node(nb)
    remote = site_checks.external_resources(theirs)
    assert any("require" in url for url in remote) and any("mathjax" in url for url in remote)
    assert any("mermaid" in url for url in remote)
    nbformat.write(nb, tmp_path / "t.ipynb")
    for kind in ("html", "slides"):
        page = build_site.convert(tmp_path / "t.ipynb", tmp_path / kind, kind)
        assert site_checks.external_resources(page.read_text(encoding="utf-8")) == []


def test_solution_lines_are_those_students_have_nowhere_else_and_leaks_are_found(tmp_path):
    for folder in ("solutions", "chapters", "pkg"):
        (tmp_path / folder).mkdir()
    solved = nbformat.v4.new_notebook()
    solved.cells = [nbformat.v4.new_code_cell(
        "def f(x):\n    ### BEGIN SOLUTION\n    y = x * 2 + secret\n    return y  # shared\n    z = 1\n"
        "    w = compute(v) + offset\n"
        "    ### END SOLUTION\n### BEGIN HIDDEN TESTS\nassert f_ok_hidden\n### END HIDDEN TESTS")]
    nbformat.write(solved, tmp_path / "solutions" / "01.ipynb")
    chapter = nbformat.v4.new_notebook()
    chapter.cells = [nbformat.v4.new_markdown_cell("Finish with `return y  # shared`.")]
    nbformat.write(chapter, tmp_path / "chapters" / "01.ipynb")
    # a checker hint in the package, split over two string literals: printed, it is one line
    (tmp_path / "pkg" / "m.py").write_text('HINT = ("w = compute(v) "\n        "+ offset")\n')
    lines = site_checks.solution_lines(tmp_path / "solutions", tmp_path / "chapters", tmp_path / "pkg")
    assert lines == {"y = x * 2 + secret", "assert f_ok_hidden"}       # "z = 1" is too short to tell
    site = tmp_path / "site"
    (site / "assets").mkdir(parents=True)
    (site / "clean.html").write_text("<p>y = x * 3</p>")
    # pygments splits a code line into spans; the widget state holds outputs as JSON strings
    (site / "code.html").write_text('<pre><span class="n">y</span> <span class="o">=</span> x '
                                    '<span class="o">*</span> 2 + secret</pre>')
    (site / "state.html").write_text('<script type="application/vnd.jupyter.widget-state+json">'
                                     '{"out": ["assert f_ok_hidden\\n"]}</script>')
    (site / "marker.html").write_text("<p>### BEGIN SOLUTION</p>")
    (site / "assets" / "lib.html").write_text("<p>y = x * 2 + secret</p>")      # not course text
    assert site_checks.leaked_lines(site, lines) == {
        "code.html": ["y = x * 2 + secret"], "marker.html": ["### BEGIN SOLUTION"],
        "state.html": ["assert f_ok_hidden"]}


def test_the_student_copy_of_a_notebook_has_no_solution_hidden_test_or_speaker_note():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION"),
                nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\nassert f() == 42\n### END HIDDEN TESTS"),
                nbformat.v4.new_markdown_cell("Ask about 42.")]
    nb.cells[2].metadata["slideshow"] = {"slide_type": "notes"}
    student = build_site.for_students(nb)
    text = "\n".join(cell.source for cell in student.cells)
    assert "42" not in text and "BEGIN" not in text
    assert "raise NotImplementedError()" in text


# --- fetching a pinned tarball ---------------------------------------------------------------------

def test_fetch_checks_the_sha512_and_unpacks_only_the_wanted_files(tmp_path, monkeypatch):
    registry = tmp_path / "registry" / "@demo" / "lib" / "-"
    registry.mkdir(parents=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in (("package/dist/lib.js", b"var lib;"), ("package/dist/lib.js.map", b"{}"),
                           ("package/dist/font.woff2", b"wOF2"), ("package/LICENSE", b"MIT")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    (registry / "lib-1.0.0.tgz").write_bytes(buffer.getvalue())
    pinned = "sha512-" + base64.b64encode(hashlib.sha512(buffer.getvalue()).digest()).decode()
    monkeypatch.setattr(offline_assets.shutil, "which", lambda name: None)       # the no-npm route
    monkeypatch.setenv("npm_config_registry", (tmp_path / "registry").as_uri())
    asset = offline_assets.Asset("@demo/lib", "1.0.0", pinned, "lib", ("dist/lib.js", "dist/*.woff2", "LICENSE"), "MIT")
    tarball = offline_assets.fetch(asset, tmp_path / "cache")
    assert tarball.name == "demo-lib-1.0.0.tgz"
    folder = offline_assets.unpacked(asset, tmp_path / "cache")
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == \
        ["LICENSE", "dist/font.woff2", "dist/lib.js"]
    tampered = offline_assets.Asset("@demo/lib", "1.0.0", "sha512-AAAA", "lib", ("LICENSE",), "MIT")
    with pytest.raises(RuntimeError, match="sha512"):
        offline_assets.fetch(tampered, tmp_path / "cache2")
    assert not (tmp_path / "cache2" / tarball.name).exists()


# --- a real build, opened in Chromium with the network cut -----------------------------------------

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    build_dir = tmp_path_factory.mktemp("offline") / "build"
    written = {audience: build_site.build(["slides", "html"], [source / NOTEBOOK], build_dir=build_dir,
                                          audience=audience)
               for audience, source in build_site.AUDIENCES.items()}
    return {"dir": build_dir, "written": written}


def _pages(site):
    return [page for by_kind in site["written"].values() for pages in by_kind.values() for page in pages]


@pytest.mark.slow
def test_no_built_page_loads_anything_from_another_machine(site):
    for page in _pages(site):
        assert site_checks.external_resources(page.read_text(encoding="utf-8")) == [], page


@pytest.mark.slow
def test_every_folder_carries_the_libraries_with_their_licences(site):
    for audience in ("student", "instructor"):
        for kind in ("slides", "html"):
            assets = site["dir"] / audience / kind / "assets"
            listing = (assets / "LICENSES.md").read_text(encoding="utf-8")
            for asset in offline_assets.ASSETS:
                assert list((assets / asset.folder).glob("LICENSE*")), asset.name
                assert f"| {asset.name} | {asset.version} |" in listing


@pytest.mark.slow
def test_the_student_build_holds_no_solution_line_and_the_instructor_build_does(site):
    lines = site_checks.solution_lines(ROOT / "solutions", ROOT / "chapters", ROOT / "rlft_core")
    for kind in ("slides", "html"):
        assert site_checks.leaked_lines(site["dir"] / "student" / kind, lines) == {}
        # the same search finds notebook 02's answers in the instructor's pages
        found = site_checks.leaked_lines(site["dir"] / "instructor" / kind, lines)
        assert "target = r if done else r + gamma * np.max(Q[s_next])" in found[NOTEBOOK.replace(
            ".ipynb", ".slides.html" if kind == "slides" else ".html")]


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.exists(), (f"Chromium is needed at {CHROMIUM}: `sudo apt-get install -y chromium` "
                               "(`make test` does it as root). Do not run `playwright install`.")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                              args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        yield chromium
        chromium.close()


def _open_offline(browser, page_path: Path):
    """A new page with every non-local request aborted; returns (context, page, requests, failures)."""
    context = browser.new_context()
    requests, failures = [], []

    def only_local(route):
        (route.continue_ if route.request.url.startswith(LOCAL) else route.abort)()
    context.route("**/*", only_local)
    context.on("request", lambda request: requests.append(request.url))         # the speaker view too
    context.on("requestfailed", lambda request: failures.append(request.url))
    page = context.new_page()
    page.goto(page_path.as_uri())
    return context, page, requests, failures


def _wait_until_drawn(page, notebook: nbformat.NotebookNode):
    markdown = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    display_formulas, diagrams = markdown.count("$$") // 2, markdown.count("```mermaid")
    assert display_formulas >= 1 and diagrams >= 1
    # MathJax 2 keeps each formula's TeX in a <script type="math/tex"> and puts its output beside it
    page.wait_for_function("() => window.MathJax && MathJax.isReady && MathJax.Hub.queue.pending === 0",
                           timeout=30_000)
    counts = page.evaluate("""() => ({formulas: document.querySelectorAll('script[type^="math/tex"]').length,
        typeset: document.querySelectorAll('.MathJax_CHTML').length,
        displayed: document.querySelectorAll('.MJXc-display').length})""")
    assert counts["displayed"] >= display_formulas and counts["typeset"] == counts["formulas"], counts
    page.wait_for_function(f"() => document.querySelectorAll('.jp-RenderedMermaid svg').length === {diagrams}",
                           timeout=30_000)
    visible = page.evaluate("document.body.innerText")
    assert "$$" not in visible, "a formula was left as TeX source"


@pytest.mark.slow
def test_the_deck_runs_offline_with_keyboard_speaker_view_formulas_and_diagrams(site, browser):
    deck = site["written"]["instructor"]["slides"][0]
    notebook = nbformat.read(ROOT / "solutions" / NOTEBOOK, as_version=4)
    note = next(c.source for c in notebook.cells if c.metadata.get("slideshow", {}).get("slide_type") == "notes")
    context, page, requests, failures = _open_offline(browser, deck)
    _wait_until_drawn(page, notebook)
    page.wait_for_selector(".reveal.ready", timeout=30_000)
    first = page.locator(".slides > section.present h1").inner_text()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => location.hash === '#/1'", timeout=10_000)
    assert page.locator(".slides > section.present h1, .slides > section.present h2").first.inner_text() != first
    assert page.locator("aside.notes").count() >= 1
    page.evaluate("""() => {                      // go to the slide that holds the note
        const slide = document.querySelector('aside.notes').closest('section');
        const top = slide.parentElement.matches('.slides') ? slide : slide.parentElement;
        const h = [...top.parentElement.children].indexOf(top);
        const v = top === slide ? 0 : [...top.children].filter(c => c.matches('section')).indexOf(slide);
        location.hash = `#/${h}/${v}`;
    }""")
    page.wait_for_function("() => document.querySelector('section.present aside.notes') !== null", timeout=10_000)
    with context.expect_page(timeout=10_000) as speaker_view:
        page.keyboard.press("s")
    speaker = speaker_view.value
    speaker.wait_for_function("(text) => document.body.innerText.includes(text)", arg=note[:40], timeout=20_000)
    assert [url for url in requests if not url.startswith(LOCAL)] == []
    assert failures == [], "a local asset is missing"
    context.close()


@pytest.mark.slow
def test_the_student_page_runs_offline_with_formulas_diagrams_and_widgets(site, browser):
    page_path = site["written"]["student"]["html"][0]
    executed = nbformat.read(site["dir"] / "executed" / "student" / NOTEBOOK, as_version=4)
    widget_outputs = sum(build_site.WIDGET_VIEW in output.get("data", {})
                         for cell in executed.cells if cell.cell_type == "code" for output in cell.outputs)
    assert widget_outputs >= 1
    context, page, requests, failures = _open_offline(browser, page_path)
    _wait_until_drawn(page, executed)
    # the widget renderer draws each widget view into a .widget-subarea, which hides its snapshot
    page.wait_for_function(f"() => document.querySelectorAll('.widget-subarea').length === {widget_outputs}",
                           timeout=30_000)
    assert page.locator(".rlft-widget-snapshot:visible").count() == 0
    assert [url for url in requests if not url.startswith(LOCAL)] == []
    assert failures == [], "a local asset is missing"
    context.close()
