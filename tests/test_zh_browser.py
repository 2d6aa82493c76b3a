"""The Chinese edition in a real browser: zh/chapters/00_start_here.ipynb, run in JupyterLab and
Chromium, shows the checker's Chinese message and the widgets' Chinese labels, with no error.

The expected texts are computed here, in this process, by the package itself in Chinese (the
checker run on an unattempted stub; the labels through ``tr``), and then looked for on the page.
Uses the JupyterLab and Chromium machinery of tests/test_browser.py. A screenshot is saved as
``build/browser_screenshot_zh.png``.
"""
from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from rlft_core import i18n
from rlft_core.exercises import check_discounted_return
from test_browser import (CHROMIUM_ARGS, ERRORS_JS, PROMPTS_JS, WIDGET_TIMEOUT, _wait_for,  # noqa: F401
                          chromium, open_and_run_all, serving_a_copy)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "zh" / "chapters" / "00_start_here.ipynb"
SCREENSHOT = ROOT / "build" / "browser_screenshot_zh.png"
CJK = re.compile(r"[\u3400-\u9fff]")


def in_chinese(make_text):
    try:
        i18n.set_language("zh")
        return make_text()
    finally:
        i18n.set_language("en")


def not_attempted_message() -> str:
    """The first line the Chinese checker prints for the shipped stub of notebook 00."""
    def stub(rewards, gamma):
        raise NotImplementedError()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert check_discounted_return(stub) is False
    return next(line.strip() for line in out.getvalue().splitlines() if line.strip())


@pytest.fixture
def zh_lab(tmp_path):
    with serving_a_copy(NOTEBOOK, tmp_path) as server:
        yield server


def test_zh_notebook_00_shows_chinese_checker_messages_and_widget_labels(chromium, zh_lab):
    from playwright.sync_api import sync_playwright
    message = in_chinese(not_attempted_message)
    tie, check = in_chinese(lambda: i18n.tr("Tie")), in_chinese(lambda: i18n.tr("Check"))
    assert CJK.search(message) and CJK.search(tie) and CJK.search(check), (message, tie, check)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), headless=True,
                                             chromium_sandbox=False, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        page.set_default_timeout(WIDGET_TIMEOUT * 1000)

        def explain():
            return (f"cell prompts: {page.evaluate(PROMPTS_JS)}\nerror outputs: {page.evaluate(ERRORS_JS)}\n"
                    f"server log:\n{zh_lab.log_tail()}")

        try:
            open_and_run_all(page, zh_lab, NOTEBOOK, explain)

            # The Chinese checker message, as the package prints it, is on the page.
            shown = page.locator(".jp-OutputArea-output", has_text=message)
            assert shown.count() >= 1, f"checker message {message!r} not on the page\n{explain()}"
            # The widgets speak Chinese: the labeller's tie button and the quiz's check button.
            assert page.get_by_role("button", name=tie, exact=True).count() == 1, explain()
            quiz_buttons = page.get_by_role("button", name=check, exact=True)
            assert quiz_buttons.count() >= 3, f"{quiz_buttons.count()} quiz buttons labelled {check!r}\n{explain()}"
            # and they work: a label pressed in Chinese is counted, in the Chinese status line.
            before = in_chinese(lambda: i18n.tr("{seen} of {n} pairs seen: {labelled} labelled, {skipped} skipped",
                                                seen=0, n=3, labelled=0, skipped=0))
            after = in_chinese(lambda: i18n.tr("{seen} of {n} pairs seen: {labelled} labelled, {skipped} skipped",
                                               seen=1, n=3, labelled=1, skipped=0))
            assert page.get_by_text(before, exact=True).count() == 1, f"status {before!r} not shown\n{explain()}"
            page.get_by_role("button", name=tie, exact=True).click()
            _wait_for(lambda: page.get_by_text(after, exact=True).count() == 1, WIDGET_TIMEOUT,
                      f"the status line {after!r}", explain)
            # The markdown is Chinese too (the first heading).
            heading = page.locator(".jp-MarkdownCell h1").first.inner_text()
            assert CJK.search(heading), heading
            assert page.evaluate(ERRORS_JS) == [], explain()
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=False)
        finally:
            browser.close()
