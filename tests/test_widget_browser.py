"""A real browser (Debian's chromium, driven by Playwright) uses the widget and the Gradio UI.

The widget's host page (``examples/embed.html``) is served from a different loopback origin than
the Marquee API, as on a real site. The browser may only reach loopback: any other request is
aborted. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import dataclasses
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from PIL import Image
from sqlmodel import Session, select

from marquee import db
from marquee.service import Marquee
from marquee.settings import REPO_ROOT, Settings
from marquee.web import create_app
from marquee.serving import serve_in_thread
from retrieval.catalog import Catalog

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
EMBED_SERVER = "http://127.0.0.1:7860"  # what examples/embed.html points at
HOSTILE_TITLE = '<img src=x onerror="window.__pwned=1">'

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium "
                       "(scripts/test.sh installs it with apt-get)"),
]


@pytest.fixture
def site_marquee(demo_deps, demo_workspace, tmp_path) -> Marquee:
    """The demo catalog as a careless site might ship it: westerns have posters, and one title
    carries markup that must show as text, never run."""
    poster = tmp_path / "posters" / "western.png"
    poster.parent.mkdir()
    Image.new("RGB", (120, 180), (170, 60, 30)).save(poster)
    scratch = Settings(workspace=demo_workspace, database_url=f"sqlite:///{tmp_path / 'scratch.db'}")
    first_pick = Marquee(scratch, demo_deps).respond(None, "any good westerns?").reply.items[0].id
    items = []
    for item in demo_deps.catalog:
        if "Western" in item.genres:
            update = {"image": str(poster)}
            if item.id == first_pick:
                update["title"] = f"{HOSTILE_TITLE} {item.title}"
            item = item.model_copy(update=update)
        items.append(item)
    settings = Settings(workspace=demo_workspace, database_url=f"sqlite:///{tmp_path / 'browser.db'}",
                        image_folder=poster.parent)  # posters are served only from allowed folders
    return Marquee(settings, dataclasses.replace(demo_deps, catalog=Catalog(items)))


@pytest.fixture
def api_url(site_marquee) -> Iterator[str]:
    with serve_in_thread(create_app(site_marquee, site_marquee.settings)) as url:
        yield url


@pytest.fixture
def page_url(api_url) -> Iterator[str]:
    """examples/embed.html on its own loopback origin, pointed at the test's API server."""
    html = (REPO_ROOT / "examples" / "embed.html").read_text().replace(EMBED_SERVER, api_url).encode()

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *_args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/embed.html"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def loopback_only(context) -> None:
    """Abort every request that would leave the machine (fonts, CDNs)."""
    def route(route):
        host = urlparse(route.request.url).hostname or ""
        if host in ("127.0.0.1", "localhost", "::1") or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", route)


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def test_widget_on_another_origin_chats_shows_cards_takes_likes_and_remembers(
        browser, page_url, api_url, site_marquee):
    from playwright.sync_api import expect

    assert urlparse(page_url).netloc != urlparse(api_url).netloc
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    loopback_only(context)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(page_url)

    page.get_by_role("button", name="Open chat: Ask Reel for a movie").click()
    box = page.get_by_label("Your message")
    expect(box).to_be_focused()
    box.fill("any good westerns?")
    box.press("Enter")

    cards = page.locator("marquee-chat .card")
    expect(cards).to_have_count(5, timeout=60_000)
    expect(page.locator("marquee-chat .msg.bot").last).to_contain_text("Here are five westerns.")
    titles = cards.locator("h3").all_text_contents()
    assert any(HOSTILE_TITLE in title for title in titles), titles  # shown as text...
    assert page.evaluate("window.__pwned") is None  # ...never run
    poster = cards.first.locator("img")
    expect(poster).to_have_attribute("src", f"{api_url}/api/v1/items/{cards.first.get_attribute('data-item-id')}/image")
    page.wait_for_function("""() => [...document.querySelector('marquee-chat').shadowRoot
                                     .querySelectorAll('.card img')].every(i => i.complete && i.naturalWidth > 0)""")

    # the host page's loud styles stay out of the widget, and the widget's stay out of the page
    widget_font = cards.first.locator("h3").evaluate("e => getComputedStyle(e).fontFamily")
    assert "Georgia" not in widget_font
    assert page.locator("header h1").evaluate("e => getComputedStyle(e).fontFamily").startswith("Georgia")
    assert page.locator(".tape button").first.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 105, 180)"

    first = cards.first
    liked_id = first.get_attribute("data-item-id")
    like = first.get_by_role("button", name="Like", exact=False).first
    like.click()
    expect(like).to_have_attribute("aria-pressed", "true")
    screenshot(page, "widget-desktop.png")

    with Session(site_marquee.engine) as session:
        rows = session.exec(select(db.Feedback)).all()
        assert [(r.item_id, r.kind) for r in rows] == [(liked_id, "liked")]

    page.reload()  # the chat is still there, open, with the like remembered
    expect(page.locator("marquee-chat .msg.user")).to_have_text(["any good westerns?"], timeout=30_000)
    expect(page.locator("marquee-chat .card")).to_have_count(5)
    reloaded_like = page.locator(f'marquee-chat .card[data-item-id="{liked_id}"] button[data-kind="liked"]')
    expect(reloaded_like).to_have_attribute("aria-pressed", "true")

    # keyboard only: Escape closes and returns focus to the bubble, Enter reopens into the text box
    page.get_by_label("Your message").focus()
    page.keyboard.press("Escape")
    expect(page.locator("marquee-chat .panel")).to_be_hidden()
    assert page.evaluate("document.querySelector('marquee-chat').shadowRoot.activeElement.className") == "bubble"
    page.keyboard.press("Enter")
    expect(page.get_by_label("Your message")).to_be_focused()
    page.keyboard.type("newer")
    page.keyboard.press("Enter")
    expect(page.locator("marquee-chat .msg.user")).to_have_count(2)
    expect(page.locator("marquee-chat .cards")).to_have_count(2, timeout=60_000)
    assert len(site_marquee.turns(page.evaluate(
        "JSON.parse(Object.entries(localStorage).find(([k]) => k.startsWith('marquee:'))[1]).conversationId"))) == 2
    assert not errors
    context.close()


def test_widget_fits_a_phone_screen(browser, page_url):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  device_scale_factor=2)
    loopback_only(context)
    page = context.new_page()
    page.goto(page_url)
    page.get_by_role("button", name="Open chat: Ask Reel for a movie").click()
    panel = page.locator("marquee-chat .panel")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 390, 844)
    page.get_by_label("Your message").fill("a western with Clint Eastwood")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("marquee-chat .card").first).to_be_visible(timeout=60_000)
    card = page.locator("marquee-chat .card").first.bounding_box()
    assert card["x"] >= 0 and card["x"] + card["width"] <= 390
    screenshot(page, "widget-phone.png")
    page.get_by_role("button", name="Close chat").click()
    expect(page.get_by_role("button", name="Open chat: Ask Reel for a movie")).to_be_visible()
    context.close()


def restart(site_marquee: Marquee, port: int):
    """A new process's worth of app (new Marquee, new guard, secret read back from the workspace) on ``port``."""
    again = Marquee(site_marquee.settings, site_marquee.deps)
    return serve_in_thread(create_app(again, again.settings), port=port, settings=again.settings)


def cards_in_transcript(page):
    return page.locator("#mq-chat .mq-card")


def test_gradio_ui_walks_the_readme_dialogue_and_survives_a_restart(browser, site_marquee):
    from playwright.sync_api import expect

    assert site_marquee.settings.ui_secret is None  # the secret is generated once and kept in the workspace
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    loopback_only(context)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    with serve_in_thread(create_app(site_marquee, site_marquee.settings), settings=site_marquee.settings) as url:
        port = urlparse(url).port
        page.goto(url + "/")
        box = page.locator("#mq-input textarea")
        box.fill("any good westerns? <b>not bold</b>")
        box.press("Enter")
        expect(cards_in_transcript(page)).to_have_count(5, timeout=60_000)
        expect(page.locator("#mq-chat")).to_contain_text("Here are five westerns")
        expect(page.locator("#mq-chat .user-row").first).to_contain_text("any good westerns? <b>not bold</b>")
        titles = page.locator("#mq-chat .mq-card h4").all_text_contents()
        assert all(t.strip() for t in titles) and any(HOSTILE_TITLE in t for t in titles), titles
        assert page.evaluate("window.__pwned") is None

        box.fill("more like the second one, but newer")
        box.press("Enter")
        expect(page.locator("#mq-chat .mq-cards")).to_have_count(2, timeout=60_000)  # both turns keep their cards
        newest = page.locator("#mq-chat .mq-cards").last.locator(".mq-card").first
        like = newest.get_by_role("button", name="Like", exact=False).first
        expect(like).to_have_accessible_name(re.compile(r"^Like \S"))  # the button says which film it likes
        labelled = like.evaluate("b => b.textContent").removeprefix("Like ").strip()
        assert labelled in newest.locator("h4").inner_text()
        like.focus()
        page.keyboard.press("Enter")  # keyboard reachable
        expect(page.locator("#mq-chat")).to_contain_text("Noted: you liked", timeout=30_000)
        expect(page.locator("#mq-chat .mq-act.mq-on")).to_have_count(1)
        screenshot(page, "gradio-desktop.png")
    with Session(site_marquee.engine) as session:
        assert [r.kind for r in session.exec(select(db.Feedback)).all()] == ["liked"]

    with restart(site_marquee, port):
        page.reload()
        expect(page.locator("#mq-chat .user-row")).to_have_count(2, timeout=30_000)
        expect(page.locator("#mq-chat .mq-cards")).to_have_count(2)
        expect(page.locator("#mq-chat")).to_contain_text("Noted: you liked")
        expect(page.locator("#mq-chat .mq-act.mq-on")).to_have_count(1)
        screenshot(page, "gradio-after-restart.png")

        box = page.locator("#mq-input textarea")
        box.fill("start over")
        box.press("Enter")
        expect(cards_in_transcript(page)).to_have_count(0, timeout=30_000)
        expect(page.locator("#mq-chat")).to_contain_text("cleared")
        screenshot(page, "gradio-start-over.png")
    assert not errors
    context.close()


def test_gradio_ui_on_a_phone(browser, site_marquee):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  device_scale_factor=2)
    loopback_only(context)
    page = context.new_page()
    with serve_in_thread(create_app(site_marquee, site_marquee.settings), settings=site_marquee.settings) as url:
        page.goto(url + "/")
        box = page.locator("#mq-input textarea")
        box.fill("a western with Clint Eastwood")
        box.press("Enter")
        expect(cards_in_transcript(page)).to_have_count(5, timeout=60_000)
        first = cards_in_transcript(page).first
        first.scroll_into_view_if_needed()
        card = first.bounding_box()
        assert card["x"] >= 0 and card["x"] + card["width"] <= 390
        assert card["width"] >= 0.7 * 390  # readable: the card uses most of the phone's width
        buttons = first.locator(".mq-act")
        expect(buttons).to_have_count(3)
        assert all(b["y"] + b["height"] <= card["y"] + card["height"] for b in
                   (buttons.nth(i).bounding_box() for i in range(3)))
        screenshot(page, "gradio-phone.png")
        page.get_by_role("button", name="Reset", exact=True).click()
        expect(cards_in_transcript(page)).to_have_count(0, timeout=30_000)
        expect(page.locator("#mq-chat")).to_contain_text("cleared")
        screenshot(page, "gradio-phone-start-over.png")
    context.close()
