"""Accessibility of the chat in real Chromium: axe-core (from npm, tests/web) finds no serious or critical
violation on the Chat (with an answer, and with the reader open), Articles and Settings tabs at
1366x768 and 390x844; and the keyboard paths axe cannot see (tabs by arrow keys, the reader's focus trap).

axe-core is installed with `npm ci --prefix tests/web` (as .ci/run does).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from test_web_browser import ARGS, CHROMIUM, DESKTOP, PHONE, Q1, ask, browser, page, url  # noqa: F401

AXE = Path(__file__).resolve().parent / "web" / "node_modules" / "axe-core" / "axe.min.js"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no browser: {CHROMIUM} is absent"),
    pytest.mark.skipif(not AXE.exists(), reason="axe-core missing (install it: npm ci --prefix tests/web)"),
]


def serious(pg) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line each."""
    if not pg.evaluate("() => typeof window.axe !== 'undefined'"):
        pg.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    found = pg.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']})).violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`)""")
    return found


def tab(pg, n: int) -> None:
    pg.locator('#qa-tabs [role="tab"]').nth(n).click()
    pg.wait_for_timeout(400)


def test_axe_finds_it_detects_a_violation(page):
    """The check is real: a low-contrast element added to the page is reported."""
    page.evaluate("""() => { const p = document.createElement('p'); p.textContent = 'faint';
        p.style.color = '#eeeeee'; p.style.background = '#ffffff'; document.querySelector('#qa-log').append(p); }""")
    assert any(v.startswith("color-contrast") for v in serious(page))


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_no_serious_violations_on_any_tab(browser, url, size):  # noqa: F811
    ctx = browser.new_context(viewport=size, locale="en-US")
    try:
        pg = ctx.new_page()
        pg.goto(url)
        pg.locator("#qa-q").wait_for(timeout=60_000)
        pg.wait_for_function("() => document.querySelector('#qa-send').textContent.length > 0")
        assert serious(pg) == [], "empty chat"
        ask(pg, Q1)
        ask(pg, "What is the recipe for Dutch apple pie?")  # a "not in the articles" answer too
        assert serious(pg) == [], "chat with answers"
        pg.locator(".qa-cite").first.click()
        pg.locator("#qa-reader #qa-cited").wait_for()
        assert serious(pg) == [], "reader open"
        pg.keyboard.press("Escape")
        tab(pg, 1)
        assert serious(pg) == [], "Articles tab"
        tab(pg, 2)
        assert serious(pg) == [], "Settings tab"
    finally:
        ctx.close()


def test_tabs_follow_the_arrow_keys(page):
    tabs = page.locator('#qa-tabs [role="tab"]')
    tabs.nth(0).focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelectorAll('#qa-tabs [role=tab]')[1].getAttribute('aria-selected') === 'true'")
    assert page.evaluate("() => document.activeElement.id") == "qa-tab-articles-button"
    page.keyboard.press("End")
    page.wait_for_function("() => document.activeElement.id === 'qa-tab-settings-button'")
    page.keyboard.press("ArrowRight")  # wraps around
    page.wait_for_function("() => document.activeElement.id === 'qa-tab-chat-button'")
    assert tabs.nth(0).get_attribute("aria-selected") == "true"
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("() => document.activeElement.id === 'qa-tab-settings-button'")
    # one Tab stop for the tab list (set once the selected tab has re-rendered: wait for it on a loaded machine)
    page.wait_for_function("() => document.querySelectorAll('#qa-tabs [role=tab]')[1].getAttribute('tabindex') === '-1'")
    assert tabs.nth(1).get_attribute("tabindex") == "-1"


def test_reader_keeps_the_focus_inside(page):
    ask(page, Q1)
    page.locator(".qa-cite").first.click()
    page.locator("#qa-reader #qa-cited").wait_for()
    inside = []
    for key in ["Tab"] * 6 + ["Shift+Tab"] * 6:
        page.keyboard.press(key)
        inside.append(page.evaluate("() => document.querySelector('#qa-reader').contains(document.activeElement)"))
    assert all(inside), inside
    page.keyboard.press("Escape")
    page.locator("#qa-reader").wait_for(state="hidden")
    assert page.evaluate("() => document.activeElement.classList.contains('qa-cite')")  # back where it was opened


def test_upload_box_name_holds_its_words(page):
    tab(page, 1)
    box = page.locator("#qa-files .upload-container")
    box.wait_for()
    page.wait_for_timeout(300)
    name = box.get_attribute("aria-label")
    assert "Drop File Here" in name and "Click to Upload" in name, name
