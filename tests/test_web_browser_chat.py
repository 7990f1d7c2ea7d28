"""The chat of issue 18 in real Chromium: the answer stays in view, sources numbered as cited, errors
with Retry, the confidence in words, the question counter, Dutch all through, conversations with
feedback and Regenerate, example questions from the newest articles, asking within chosen
articles, and the Articles table on a phone.
"""
from __future__ import annotations

import json
import re

import pytest

from test_web_browser import (CHROMIUM, DESKTOP, PHONE, Q1, Q2, Q3, ask, browser, done, page, slow_url,  # noqa: F401
                              url)

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).exists(),
                                                   reason=f"no browser: {CHROMIUM} is absent")]
NOT_COVERED = "What is the recipe for Dutch apple pie?"


def open_page(browser, url, size=DESKTOP, locale="en-US", ctx=None):  # noqa: F811
    ctx = ctx or browser.new_context(viewport=size, locale=locale)
    pg = ctx.new_page()
    pg.qa_errors = []
    pg.on("pageerror", lambda e: pg.qa_errors.append(str(e)))
    pg.goto(url)
    pg.locator("#qa-q").wait_for(timeout=60_000)
    pg.wait_for_function("() => document.querySelector('#qa-send').textContent.length > 0")
    return pg


def answer_top_in_view(pg, n: int) -> bool:
    """Whether the top of answer number `n` (1-based) is inside the log's visible area."""
    return pg.evaluate(f"""() => {{
        const log = document.querySelector('#qa-log').getBoundingClientRect();
        const b = document.querySelectorAll('.qa-bot')[{n - 1}].getBoundingClientRect();
        return b.top >= log.top - 1 && b.top < log.bottom - 20 && log.bottom <= innerHeight + 1;
    }}""")


# ------------------------------------------------------------------ 10: the new answer's top stays in view
@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_top_of_each_new_answer_is_in_view(browser, url, size):  # noqa: F811
    pg = open_page(browser, url, size)
    try:
        for n, q in enumerate((Q1, Q3, Q2), 1):
            ask(pg, q)
            pg.wait_for_timeout(150)
            assert answer_top_in_view(pg, n), (size, n)
        pg.reload()  # and after a reload, the last answer's top
        pg.locator(".qa-turn").nth(2).wait_for()
        pg.wait_for_timeout(300)
        assert answer_top_in_view(pg, 3)
        assert pg.qa_errors == []
    finally:
        pg.context.close()


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_streamed_words_are_on_screen(browser, slow_url, size):  # noqa: F811
    slow, _ = slow_url
    pg = open_page(browser, slow, size)
    try:
        for q in (Q1, Q3):  # the second answer starts below the first one's long sources
            pg.locator("#qa-q").fill(q)
            pg.locator("#qa-q").press("Enter")
            n = pg.locator(".qa-turn").count()
            pg.wait_for_function(f"() => document.querySelectorAll('.qa-bot')[{n - 1}].querySelector('.qa-text')"
                                 "?.innerText.includes('Frankrijk')", timeout=30_000)
            assert answer_top_in_view(pg, n), (size, n)
            pg.wait_for_timeout(1200)  # more words: still in view
            assert answer_top_in_view(pg, n), (size, n)
            pg.locator("#qa-stop").click()
            pg.locator("#qa-send").wait_for(state="visible")
    finally:
        pg.context.close()


# ------------------------------------------------------------------ 11, 13: numbering and confidence
def test_answer_markers_match_the_source_numbers(page):  # noqa: F811
    ask(page, Q1)
    bot = page.locator(".qa-bot").first
    cites = bot.locator(".qa-cite")
    first_source = bot.locator(".qa-src").first
    assert cites.first.inner_text() == "[1]" and first_source.locator(".qa-n").inner_text() == "[1]"
    assert "qa-src-cited" in first_source.get_attribute("class")
    # every marker [n] names the article of source n
    for i in range(cites.count()):
        n = int(cites.nth(i).inner_text().strip("[]"))
        src = bot.locator(".qa-src").nth(n - 1)
        assert src.locator(".qa-title").get_attribute("data-a") == cites.nth(i).get_attribute("data-a")


def test_confidence_in_words_in_both_languages(browser, url):  # noqa: F811
    for locale, sure, absent in (("en-US", r"^(Sure|Fairly sure|Unsure — check the sources) · \d+% chance this answer is right$",
                                  r"^(Not in the articles|Probably not in the articles — closest passages below) · "
                                  r"\d+% chance the articles do not answer this$"),
                                 ("nl-NL", r"^(Zeker|Vrij zeker|Onzeker — controleer de bronnen) · \d+% kans dat dit antwoord klopt$",
                                  r"^(Staat niet in de artikelen|Waarschijnlijk niet in de artikelen — de dichtstbijzijnde "
                                  r"passages staan hieronder) · \d+% kans dat de artikelen dit niet beantwoorden$")):
        pg = open_page(browser, url, locale=locale)
        try:
            ask(pg, Q1)
            ask(pg, NOT_COVERED)
            confs = pg.locator(".qa-conf").all_inner_texts()
            assert re.match(sure, confs[0]) and re.match(absent, confs[1]), confs
        finally:
            pg.context.close()


# ------------------------------------------------------------------ 12: errors stay visible, with Retry
def test_server_down_shows_the_error_and_retry_answers(page):  # noqa: F811
    page.route("**/gradio_api/call/chat", lambda route: route.abort())
    page.locator("#qa-q").fill(Q1)
    page.locator("#qa-q").press("Enter")
    err = page.locator(".qa-bot .qa-error")
    err.wait_for()
    page.wait_for_timeout(500)  # nothing renders over it afterwards
    assert "cannot be reached" in err.inner_text() and err.get_attribute("role") == "alert"
    assert page.locator(".qa-bot .qa-retry").is_visible() and page.locator("#qa-send").is_visible()
    page.reload()  # the error is kept with the conversation
    page.locator(".qa-bot .qa-error").wait_for()
    page.unroute("**/gradio_api/call/chat")
    page.locator(".qa-bot .qa-retry").click()
    assert "Canada" in done(page, 1)
    assert page.locator(".qa-bot .qa-error").count() == 0 and page.locator(".qa-turn").count() == 1


def test_a_stream_cut_short_is_an_error_too(page):  # noqa: F811
    def cut(route):  # the event stream ends before its `complete` event
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body="event: heartbeat\ndata: null\n\n")
    page.route(re.compile(r".*/gradio_api/call/chat/[^/]+$"), cut)
    page.locator("#qa-q").fill(Q1)
    page.locator("#qa-q").press("Enter")
    page.locator(".qa-bot .qa-error").wait_for()
    assert "connection to the server was lost" in page.locator(".qa-bot .qa-error").inner_text()


# ------------------------------------------------------------------ 16: the question's length
def test_question_counter_and_the_cap(page):  # noqa: F811
    box, count = page.locator("#qa-q"), page.locator("#qa-count")
    box.fill("x" * 100)
    assert count.is_hidden()
    box.fill("x" * 1700)
    assert count.inner_text() == "1700 / 2000 characters"
    page.evaluate("""() => { const b = document.querySelector('#qa-q'); b.focus(); b.value = ''; }""")
    page.evaluate("""() => { const dt = new DataTransfer(); dt.setData('text', 'y'.repeat(2600));
        document.querySelector('#qa-q').dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true})); }""")
    page.wait_for_timeout(100)
    assert "Limit reached" in count.inner_text() and "the rest was cut" in count.inner_text()
    box.fill("z" * 2000)
    assert "Limit reached" in count.inner_text()
    box.fill("short")
    assert count.is_hidden()


# ------------------------------------------------------------------ 18: Dutch all through
def test_dutch_ui_is_dutch_throughout(browser, url, tmp_path):  # noqa: F811
    ctx = browser.new_context(viewport=DESKTOP, locale="en-US")
    try:
        pg = open_page(browser, url, ctx=ctx)
        ask(pg, Q1)
        pg.locator('#qa-tabs [role="tab"]').nth(2).click()
        pg.locator("#qa-lang-select").select_option("nl")
        pg.locator('#qa-tabs [role="tab"]').nth(0).click()
        pg.wait_for_function("() => document.querySelector('#qa-send').textContent === 'Vraag'")
        bot = pg.locator(".qa-bot").first
        text = bot.inner_text()  # the earlier answer's labels follow the switch
        assert "Bronnen" in text and "kans dat dit antwoord klopt" in text and "Sources" not in text, text
        assert pg.locator(".qa-copy").first.inner_text() == "Kopiëren"
        bad = tmp_path / "kapot.pdf"
        bad.write_bytes(b"%PDF-1.4\n1 0 obj <</Length 99999>> stream\nxx")
        pg.locator('#qa-tabs [role="tab"]').nth(1).click()
        pg.locator("#qa-files input[type=file]").set_input_files([str(bad)])
        pg.wait_for_function("() => document.querySelector('#qa-files').innerText.includes('kapot.pdf')", timeout=60_000)
        pg.locator("#qa-add").click()
        pg.wait_for_function("() => document.querySelector('#qa-status').innerText.includes('kapot.pdf')", timeout=60_000)
        status = pg.locator("#qa-status").inner_text()
        assert "Niets geïndexeerd" in status and "geen leesbare PDF" in status, status
        assert "Error" not in status and "PdfReadError" not in status and "PdfStreamError" not in status
        big = tmp_path / "groot.txt"  # over the 5 MB limit: gradio's toast, in Dutch
        big.write_text("woord " * 1_000_000)
        pg.locator("#qa-files input[type=file]").set_input_files([str(big)])
        toast = pg.locator('[data-testid="toast-body"]')
        toast.wait_for(timeout=60_000)
        pg.wait_for_timeout(300)
        assert "Te groot (hoogstens 5.0 MB)" in toast.inner_text() and "exceed" not in toast.inner_text()
        assert pg.qa_errors == []
    finally:
        ctx.close()


# ------------------------------------------------------------------ 19: conversations, feedback, Regenerate
def conv_titles(pg) -> list[str]:
    return pg.locator("#qa-convlist .qa-conv-open").all_inner_texts()


def test_conversations_new_switch_rename_delete_undo_search(page):  # noqa: F811
    ask(page, Q1)
    page.locator("#qa-new").click()
    assert page.locator(".qa-turn").count() == 0
    ask(page, Q3)
    assert conv_titles(page) == [Q3, Q1]  # newest first; nothing was wiped
    page.locator("#qa-convlist .qa-conv-open", has_text=Q1).click()
    assert page.locator(".qa-user").all_inner_texts() == [Q1]
    page.locator("#qa-convlist .qa-conv-cur .qa-conv-ren").click()
    page.locator("#qa-convlist input").fill("Countries")
    page.locator("#qa-convlist input").press("Enter")
    assert "Countries" in conv_titles(page)
    page.locator("#qa-convsearch").fill("news agency")  # searches the questions too
    assert conv_titles(page) == [Q3]
    page.locator("#qa-convsearch").fill("")
    page.locator("#qa-convlist .qa-conv", has_text="Countries").locator(".qa-conv-del").click()
    assert "Countries" not in conv_titles(page) and page.locator(".qa-user").all_inner_texts() == [Q3]
    page.locator("#qa-undo-conv button").click()
    assert "Countries" in conv_titles(page) and page.locator(".qa-user").all_inner_texts() == [Q1]
    page.reload()  # kept in the browser, and this tab stays in its conversation
    page.locator(".qa-turn").first.wait_for()
    assert page.locator(".qa-user").all_inner_texts() == [Q1] and len(conv_titles(page)) == 2


def test_two_tabs_keep_their_own_conversations(browser, url):  # noqa: F811
    ctx = browser.new_context(viewport=DESKTOP, locale="en-US")
    try:
        a = open_page(browser, url, ctx=ctx)
        ask(a, Q1)
        b = open_page(browser, url, ctx=ctx)  # a new tab opens the latest conversation ...
        assert b.locator(".qa-user").all_inner_texts() == [Q1]
        b.locator("#qa-new").click()  # ... and starts its own
        ask(b, Q3)
        a.wait_for_function(f"() => [...document.querySelectorAll('#qa-convlist .qa-conv-open')].some((x) => x.innerText === {json.dumps(Q3)})")
        ask(a, Q2)  # tab a goes on in its own conversation, untouched by b
        assert a.locator(".qa-user").all_inner_texts() == [Q1, Q2]
        assert b.locator(".qa-user").all_inner_texts() == [Q3]
        stored = a.evaluate("() => Object.keys(localStorage).filter((k) => k.startsWith('qa-conv:')).map((k) => "
                            "JSON.parse(localStorage[k]).turns.map((t) => t.q))")
        assert sorted(stored) == sorted([[Q1, Q2], [Q3]])
        # b follows a's conversation when it opens it
        b.locator("#qa-convlist .qa-conv-open", has_text=Q1).click()
        assert b.locator(".qa-user").all_inner_texts() == [Q1, Q2]
    finally:
        ctx.close()


def test_feedback_is_saved_and_regenerate_answers_again(page, tmp_path_factory):  # noqa: F811
    ask(page, Q1)
    page.locator(".qa-fb-up").first.click()
    page.locator(".qa-fbnote input").fill("Right countries")
    page.locator(".qa-fbnote button").click()
    page.locator(".qa-bot .qa-note[role=status]", has_text="Thanks").wait_for()
    assert page.locator(".qa-fb-up").first.get_attribute("aria-pressed") == "true"
    files = list(tmp_path_factory.getbasetemp().glob("browser*/index-feedback.jsonl"))
    assert files, "no feedback file beside the index"
    for _ in range(50):  # the note follows in a second record of the same id
        recs = [json.loads(x) for x in files[0].read_text("utf-8").splitlines()]
        last = [r for r in recs if r["question"] == Q1][-1]
        if last["note"]:
            break
        page.wait_for_timeout(100)
    assert last["rating"] == "up" and last["note"] == "Right countries" and "Canada" in last["answer"]
    assert last["sources"] and last["sources"][0]["quotes"]
    page.locator(".qa-regen").first.click()
    assert "Canada" in done(page, 1)
    assert page.locator(".qa-turn").count() == 1 and page.locator(".qa-fb-up").first.get_attribute("aria-pressed") == "false"


# ------------------------------------------------------------------ 17: example questions from the newest articles
def test_example_questions_come_from_the_newest_articles(browser, url):  # noqa: F811
    for locale, want in (("en-US", "What happened: “Kleinveldhuizen approves herring-shaped library”?"),
                         ("nl-NL", "Wat is er gebeurd: “Kleinveldhuizen approves herring-shaped library”?")):
        pg = open_page(browser, url, locale=locale)
        try:
            chip = pg.locator(".qa-example").first
            pg.wait_for_function(f"() => document.querySelector('.qa-example').innerText === {json.dumps(want)}")
            chip.click()
            assert "herring" in done(pg, 1)
            assert "herring-shaped" in pg.locator(".qa-src .qa-title").first.inner_text()
        finally:
            pg.context.close()


# ------------------------------------------------------------------ 20: ask within chosen articles
def test_ask_within_a_search_of_the_articles(page):  # noqa: F811
    page.locator('#qa-tabs [role="tab"]').nth(1).click()
    page.locator("#qa-artsearch").fill("herring")
    assert page.locator("#qa-articles tbody tr:visible").count() == 1
    page.locator(".qa-askwithin[data-which=shown]").click()
    page.locator("#qa-scope").wait_for(state="visible")
    assert page.locator("#qa-scope").inner_text().startswith("Asking within 1 article")
    ask(page, Q1)
    titles = set(page.locator(".qa-bot").first.locator(".qa-src .qa-title").all_inner_texts())
    assert titles == {"Kleinveldhuizen approves herring-shaped library"}, titles
    page.locator("#qa-scope-clear").click()
    assert "Canada" in ask(page, Q1)  # all articles again
    # and by ticking boxes
    page.locator('#qa-tabs [role="tab"]').nth(1).click()
    page.locator("#qa-artsearch").fill("")
    page.locator("#qa-articles tr", has_text="Weird").locator(".qa-pick").check()
    page.locator(".qa-askwithin[data-which=picked]").click()
    page.locator("#qa-new").click()
    assert "Petra Oosterdijk" in ask(page, "Who opened the pumping station?")
    titles = set(page.locator(".qa-bot").first.locator(".qa-src .qa-title").all_inner_texts())
    assert len(titles) == 1 and "title" in titles.pop()  # only the chosen article ("Weird ... title")


# ------------------------------------------------------------------ 22: the Articles table on a phone
@pytest.mark.viewport(PHONE)
def test_article_dates_do_not_wrap_on_a_phone(page):  # noqa: F811
    page.evaluate("() => localStorage.setItem('qa-lang', 'nl')")  # the longer Dutch headers ("Stukken") too
    page.reload()
    page.locator("#qa-q").wait_for()
    page.locator('#qa-tabs [role="tab"]').nth(1).click()
    cell = page.locator("#qa-articles td.qa-date").first
    cell.wait_for()
    # the text's own height (the cell is as tall as its row's title): one line, not a letter per line
    lines = page.evaluate("""() => [...document.querySelectorAll('#qa-articles td.qa-date, #qa-articles th')].map((c) => {
        const r = document.createRange(); r.selectNodeContents(c);
        return r.getBoundingClientRect().height / parseFloat(getComputedStyle(c).fontSize); })""")
    assert lines and max(lines) < 1.9, lines
    widths = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert widths[0] <= widths[1], widths


@pytest.mark.viewport(PHONE)
def test_phone_opens_the_conversation_list_on_demand(page):  # noqa: F811
    ask(page, Q1)
    side = page.locator("#qa-side")
    assert side.is_hidden()
    page.locator("#qa-convs-toggle").click()
    assert side.is_visible() and page.locator("#qa-convs-toggle").get_attribute("aria-expanded") == "true"
    assert page.locator("#qa-convlist .qa-conv-open").first.inner_text() == Q1
    page.keyboard.press("Escape")
    assert side.is_hidden()
    widths = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert widths[0] <= widths[1], widths


# ------------------------------------------------------------------ 14: an article's date, set in the Articles tab
def test_set_an_articles_date_in_the_articles_tab(page):  # noqa: F811
    page.locator('#qa-tabs [role="tab"]').nth(1).click()
    row = page.locator("#qa-articles tr", has_text="herring-shaped")
    assert row.locator("td.qa-date").inner_text() == "2026-03-12"

    def set_date(value: str) -> None:
        dd = page.locator("#qa-date-dd input")
        dd.click()
        dd.fill("herring")
        page.locator("ul[role=listbox] li", has_text="herring").first.click()
        page.wait_for_function("() => document.querySelector('#qa-date-value input, #qa-date-value textarea').value !== ''")
        page.locator("#qa-date-value input, #qa-date-value textarea").first.fill(value)
        page.locator("#qa-setdate").click()

    set_date("2025-02-30")
    page.wait_for_function("() => document.querySelector('#qa-status').innerText.includes('does not exist')")
    set_date("2025-01-02")
    page.wait_for_function("() => document.querySelector('#qa-status').innerText.includes('date set to 2025-01-02')",
                           timeout=60_000)
    page.locator("#qa-articles tr", has_text="herring-shaped").locator("td.qa-date", has_text="2025-01-02").wait_for()
    set_date("2026-03-12")  # back as it was, for the other tests on this server
    page.wait_for_function("() => document.querySelector('#qa-status').innerText.includes('date set to 2026-03-12')",
                           timeout=60_000)


def test_opening_another_conversation_stops_the_answer_and_keeps_its_state(browser, slow_url):  # noqa: F811
    slow, _ = slow_url
    pg = open_page(browser, slow)
    try:
        pg.locator("#qa-q").fill(Q1)
        pg.locator("#qa-q").press("Enter")
        pg.wait_for_function("() => document.querySelector('.qa-bot .qa-text')?.innerText.includes('Bulgarije')")
        pg.locator("#qa-new").click()
        pg.locator("#qa-send").wait_for(state="visible")
        pg.wait_for_timeout(300)
        states = pg.evaluate("() => Object.keys(localStorage).filter((k) => k.startsWith('qa-conv:'))"
                             ".map((k) => JSON.parse(localStorage[k]).turns.map((t) => t.state))")
        assert states == [["stopped"]], states
        pg.locator("#qa-convlist .qa-conv-open", has_text=Q1).click()
        assert "Stopped." in pg.locator(".qa-bot").first.inner_text()
        assert pg.locator(".qa-bot .qa-retry").is_visible()
    finally:
        pg.context.close()
