"""Checks run on a built site: nothing loads from the network, and a student build holds no answer.

* ``external_resources(page)``: every URL a page would *fetch* from another machine when opened:
  ``src``/``href`` of scripts, stylesheets, images and frames, and quoted ``http(s)://`` URLs inside
  the page's own scripts and styles (``import("https://…")``, ``url(https://…)``, ``'https://…'``).
  Links a reader may click (``<a href>``) are not fetched and are not reported.
* ``solution_lines(solutions, chapters, package)``: the lines of the solution and hidden-test
  regions of ``solutions/*.ipynb`` that a student has nowhere else: lines that also appear in the
  chapters' own cells or in the ``rlft_core`` package (which students install, and whose reference
  code and checker hints the chapters show) are no secret.
* ``leaked_lines(folder, lines)``: which of those lines the text of a built folder contains.
"""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat

SOLUTION = re.compile(r"^[ \t]*### BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*### END SOLUTION", re.S | re.M)
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[^\n]*\n(.*?)^[ \t]*### END HIDDEN TESTS", re.S | re.M)
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
MIN_LINE_LENGTH = 8             # shorter lines ("pass", "})") say nothing about an answer
QUOTED_URL = re.compile(r"""(?:["'`(]|@import\s+)\s*((?:https?:)?//[^\s"'`)]+)""", re.I)
CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
JOINED_LITERALS = re.compile(r"""(["'])\s+\1""")      # "a - "\n "b": Python joins them into "a - b"
FETCHING_ATTRS = {"script": "src", "img": "src", "iframe": "src", "source": "src", "audio": "src",
                  "video": "src", "embed": "src", "object": "data", "link": "href"}
SCRIPT_TYPES = ("", "text/javascript", "application/javascript", "module", "text/x-mathjax-config")
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _remote(url: str) -> bool:
    return bool(re.match(r"^\s*(https?:)?//", url, re.I))


class _PageScan(HTMLParser):
    """Collects fetched URLs, the text of executable scripts and styles, and all visible text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.fetched, self.code, self.text, self._in = [], [], [], None

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        attr = FETCHING_ATTRS.get(tag)
        if attr and attrs.get(attr) and not (tag == "link" and "alternate" in attrs.get("rel", "")):
            self.fetched.append(attrs[attr])
        if tag == "script":
            self._in = "code" if attrs.get("type", "").lower() in SCRIPT_TYPES else attrs.get("type", "data")
        elif tag == "style":
            self._in = "style"

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._in = None

    def handle_data(self, data):
        if self._in == "code":
            self.code.append(data)
        elif self._in == "style":
            self.code.append(CSS_COMMENT.sub("", data))
        elif self._in == WIDGET_STATE:
            self.text.extend(_strings(json.loads(data)) if data.strip() else [])
        else:
            self.text.append(data)


def _strings(value) -> list[str]:
    """Every string inside a JSON value (the widget state holds outputs as nested JSON)."""
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [s for item in items for s in _strings(item)]


def external_resources(page: str) -> list[str]:
    """The URLs on other machines that ``page`` (HTML text) loads when opened, in page order."""
    scan = _PageScan()
    scan.feed(page)
    found = [url for url in scan.fetched if _remote(url)]
    for code in scan.code:
        found += [m.group(1) for m in QUOTED_URL.finditer(code)]
    return found


def _normalise(text: str) -> str:
    return " ".join(text.split())


def page_text(page: str) -> str:
    """The text of an HTML page, code and widget-state outputs included, whitespace collapsed."""
    scan = _PageScan()
    scan.feed(page)
    return _normalise("".join(scan.text) + " " + " ".join(scan.code))


def _sources(folder: Path) -> str:
    return _normalise("\n".join(cell.source for path in sorted(folder.glob("*.ipynb"))
                                for cell in nbformat.read(path, as_version=4).cells))


def solution_lines(solutions: Path, chapters: Path, package: Path) -> set[str]:
    """Normalised lines of the solution/hidden-test regions that students have nowhere else."""
    package_text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(package.rglob("*.py")))
    public = _sources(chapters) + " " + _normalise(JOINED_LITERALS.sub("", package_text))
    lines = set()
    for path in sorted(solutions.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for match in [*SOLUTION.finditer(cell.source), *HIDDEN.finditer(cell.source)]:
                lines |= {_normalise(line) for line in match.group(1).splitlines()}
    return {line for line in lines if len(line) >= MIN_LINE_LENGTH and line not in public}


def leaked_lines(folder: Path, lines: set[str]) -> dict[str, list[str]]:
    """``{file: [solution line or marker found in it]}`` over the HTML files below ``folder``."""
    leaks = {}
    for path in sorted(folder.rglob("*.html")):
        if "assets" in path.relative_to(folder).parts:
            continue
        text = page_text(path.read_text(encoding="utf-8"))
        found = sorted(line for line in [*lines, *MARKERS] if line in text)
        if found:
            leaks[str(path.relative_to(folder))] = found
    return leaks
