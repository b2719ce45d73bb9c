"""The web UI in a real browser: Playwright driving Debian's chromium against the app served by uvicorn.

Needs ``/usr/bin/chromium`` (Debian package ``chromium``; Playwright's own browser download is not used)."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from hugginggpt.config import HuggingGPTConfig
from hugginggpt.server.app import create_app

from .conftest import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # a real run in the page: its answer alone may take 300 s
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
DOCS_SHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "ui.png"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: `apt-get install -y chromium` (as root), "
                                                  "then the Playwright Python package drives /usr/bin/chromium")
def test_ui_chat_with_image_upload_shows_plan_image_and_audio(tmp_path, shared_agent):
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")
    from PIL import Image
    from skimage import data

    photo = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(photo)
    app = create_app(HuggingGPTConfig(workspace=tmp_path / "ws"), agent=shared_agent)
    with LiveServer(app) as server, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(server.url + "/ui/")
            page.wait_for_selector("#hg-input textarea", timeout=60_000)
            page.set_input_files("#hg-input input[type=file]", str(photo))
            page.wait_for_selector("#hg-input img", timeout=30_000)  # the upload's thumbnail
            page.fill("#hg-input textarea", "describe this image and read it aloud")
            page.keyboard.press("Enter")
            # The answer: an audio player in the chat, the plan graph and the models table on the side.
            page.wait_for_selector("#hg-chat button[aria-label='Play']", timeout=300_000)
            page.wait_for_selector("#hg-progress .hg-step.done >> text=Answer", timeout=60_000)
            time.sleep(1.0)  # let the waveform and images finish painting before the screenshot
            assert page.locator("#hg-chat img").first.is_visible()
            assert page.locator("#hg-chat audio").count() >= 1
            assert page.locator("#hg-plan svg.hg-plan").is_visible()
            expect = sync_api.expect  # auto-retrying reads: Gradio paints the side panels asynchronously
            expect(page.locator("#hg-plan")).to_contain_text("text-to-speech", timeout=30_000)
            expect(page.locator("#hg-models")).to_contain_text(re.compile("piper|speech"), timeout=30_000)
            expect(page.locator("#hg-chat")).to_contain_text("text-to-speech", timeout=30_000)
            # Gradio's chatbot puts a "Share" button (Spaces only: elsewhere an error toast) under media messages.
            assert page.locator("#hg-chat button[aria-label='Download']").first.is_visible()
            assert _visible(page, "#hg-chat button[aria-label='Share'], #hg-chat button[title='Share']") == 0
            assert page.locator("#hg-progress .hg-outcome.succeeded").is_visible()
            shot = tmp_path / "ui.png"
            page.screenshot(path=str(shot))
            assert shot.stat().st_size > 10_000
            if os.environ.get("HUGGINGGPT_UPDATE_DOCS_SCREENSHOT") == "1":  # refresh docs/img/ui.png on request
                shutil.copyfile(shot, DOCS_SHOT)
        finally:
            browser.close()
    # The UI's run is stored like any API run.
    runs = app.state.hg.db.list_runs()
    assert [(r.source, r.status) for r in runs] == [("ui", "succeeded")]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: `apt-get install -y chromium` (as root)")
def test_ui_behind_api_key_logs_in_and_runs(tmp_path, shared_agent):
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")
    app = create_app(HuggingGPTConfig(workspace=tmp_path / "ws", server={"api_key": "ui-key"}), agent=shared_agent)
    with LiveServer(app) as server, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.goto(server.url + "/ui/")
            assert "/login" in page.url
            page.fill("input[name=key]", "ui-key")
            page.click("button[type=submit]")
            page.wait_for_selector("#hg-input textarea", timeout=60_000)
            page.fill("#hg-input textarea", "what is the sentiment of: what a wonderful day")
            page.keyboard.press("Enter")
            page.wait_for_selector("#hg-progress .hg-step.done >> text=Answer", timeout=300_000)
            sync_api.expect(page.locator("#hg-chat")).to_contain_text("positive", timeout=30_000)
            sync_api.expect(page.locator("#hg-models")).to_contain_text("vader", timeout=30_000)
        finally:
            browser.close()


def _visible(page, selector: str) -> int:
    return int(page.eval_on_selector_all(selector, "els => els.filter(e => e.offsetParent !== null).length"))


def _send(page, app, text: str, timeout: float = 300) -> str:
    """Type ``text``, press Enter, wait for the run to be stored as finished and for the box to be usable again;
    returns the run's status."""
    before = len(app.state.hg.db.list_runs())
    page.fill("#hg-input textarea", text)
    page.keyboard.press("Enter")
    deadline = time.time() + timeout
    while True:
        runs = app.state.hg.db.list_runs()
        if len(runs) > before and runs[0].status not in ("queued", "running"):
            break
        assert time.time() < deadline, f"no finished run for {text!r}"
        time.sleep(0.1)
    page.wait_for_function("id => !document.querySelector('#hg-input textarea').disabled && "
                           "document.querySelector('#hg-progress').innerText.includes(id)", arg=runs[0].id,
                           timeout=60_000)
    return str(runs[0].status)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: `apt-get install -y chromium` (as root)")
def test_ui_enter_while_a_run_goes_on_and_failed_runs_shown_as_failed(tmp_path, shared_agent):
    """Before: Enter during a run was dropped by Gradio (its default trigger mode ignores a submit while the last
    one is pending) and the run's last update then wiped the text; the arrow cleared the box and dropped it too.
    Now the box is disabled while a run goes on, and every message sent with Enter is run."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")
    app = create_app(HuggingGPTConfig(workspace=tmp_path / "ws"), agent=shared_agent)
    with LiveServer(app) as server, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.goto(server.url + "/ui/")
            page.wait_for_selector("#hg-input textarea", timeout=60_000)
            page.fill("#hg-input textarea", "read this aloud: 'The plan has two steps, and both of them ran.'")
            page.keyboard.press("Enter")
            page.wait_for_function("() => document.querySelector('#hg-input textarea').disabled", timeout=60_000)
            assert "Working on your request" in (page.get_attribute("#hg-input textarea", "placeholder") or "")
            assert page.locator("#hg-input button.submit-button").is_disabled()
            page.keyboard.press("Enter")  # nothing to send, and nothing lost: the box is disabled
            page.wait_for_function("() => !document.querySelector('#hg-input textarea').disabled", timeout=300_000)
            # Straight after the answer, Enter sends the next message (the box has the focus again).
            page.wait_for_function("() => document.activeElement === document.querySelector('#hg-input textarea')",
                                   timeout=10_000)
            assert _send(page, app, "what is the sentiment of: this is a terrible, awful day") == "succeeded"
            sync_api.expect(page.locator("#hg-chat")).to_contain_text("negative", timeout=30_000)
            # A run whose only task fails is shown as failed, in the progress card and in the answer.
            assert _send(page, app, "translate this to French: good morning") == "failed"
            assert page.locator("#hg-progress .hg-outcome.failed").is_visible()
            assert page.locator("#hg-progress .hg-step.failed >> text=Run").is_visible()
            sync_api.expect(page.locator("#hg-chat .message-row").last).to_contain_text("Failed", timeout=30_000)
            # The LLM settings are off on a server without an API key, and say why.
            # The accordion renders its content after the click: expect() waits for it (a bare read raced it).
            page.click("#hg-settings")
            sync_api.expect(page.locator("#hg-settings")).to_contain_text(
                re.compile("needs an API key|turned off"), timeout=30_000)
            page.screenshot(path=str(tmp_path / "ui-failed.png"))
        finally:
            browser.close()
    statuses = [r.status for r in reversed(app.state.hg.db.list_runs())]
    assert statuses == ["succeeded", "succeeded", "failed"]  # three messages, three runs: none dropped
