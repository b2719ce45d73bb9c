"""The web UI in a real browser: Playwright driving Debian's chromium against the app served by uvicorn.

Needs ``/usr/bin/chromium`` (Debian package ``chromium``; Playwright's own browser download is not used)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from hugginggpt.config import HuggingGPTConfig
from hugginggpt.server.app import create_app

from .conftest import LiveServer

pytestmark = pytest.mark.slow
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
            assert "text-to-speech" in page.locator("#hg-plan").inner_text()
            assert "piper" in page.locator("#hg-models").inner_text() or "speech" in page.locator(
                "#hg-models").inner_text()
            answer = page.locator("#hg-chat").inner_text()
            assert "text-to-speech" in answer
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
            assert "positive" in page.locator("#hg-chat").inner_text()
            assert "vader" in page.locator("#hg-models").inner_text()
        finally:
            browser.close()
