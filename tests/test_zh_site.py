"""The Chinese classroom kit: `make html slides LANG=zh` builds zh/ into build/zh/, offline, with the
Chinese text and speaker notes, and no solution in the student pages."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_site  # noqa: E402
import site_checks  # noqa: E402

NOTEBOOK = "02_core_concepts.ipynb"


@pytest.mark.slow
def test_zh_site_is_chinese_offline_and_without_solutions_for_students(tmp_path):
    build_dir = tmp_path / "build"
    written = {audience: build_site.build(["slides", "html"], [folder / NOTEBOOK], build_dir=build_dir, audience=audience)
               for audience, folder in build_site.EDITIONS["zh"].items()}
    pages = [page for by_kind in written.values() for kind_pages in by_kind.values() for page in kind_pages]
    assert all(site_checks.external_resources(page.read_text(encoding="utf-8")) == [] for page in pages)
    student_page = (build_dir / "student" / "html" / NOTEBOOK.replace(".ipynb", ".html")).read_text(encoding="utf-8")
    assert "核心概念" in student_page and "学习目标" in student_page
    lines = site_checks.solution_lines(ROOT / "solutions", ROOT / "chapters", ROOT / "rlft_core")
    for kind in ("slides", "html"):
        assert site_checks.leaked_lines(build_dir / "student" / kind, lines) == {}
    deck = (build_dir / "instructor" / "slides" / NOTEBOOK.replace(".ipynb", ".slides.html")).read_text(encoding="utf-8")
    assert "讲者备注" in deck and "讲者备注" not in student_page
