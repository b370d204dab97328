"""The web page as a person uses it, in Debian's Chromium driven by Playwright: ask, read the
highlighted passage, open a citation and land on the passage, narrow by publisher, go back, all
from the keyboard where a person would; and a hostile source that runs nothing. With the real
model, over a real `itsqa serve` on 127.0.0.1.

Chromium comes from Debian's package (`apt-get install chromium`, as .ci/run does). Without it
the tests are skipped, unless ITSQA_REQUIRE_BROWSER=1 (CI) makes that a failure. Screenshots go
to ITSQA_SCREENSHOTS (a folder) when set."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import CORPUS, clean_env

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE_MD = """---
title: Quarterly <script>window.pwned = 1</script> briefing
publisher: <img src=x onerror="window.pwned = 2">
---
# Zebra crossings <b onmouseover="window.pwned = 3">policy</b>

The zebra crossing review <script>window.pwned = 4</script> found that pedestrian
crossings <img src=x onerror="window.pwned = 5"> need brighter paint and better lights.
"""
HOSTILE_TOML = """
["hostile.md"]
url = "javascript:window.pwned = 6"
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("ITSQA_REQUIRE_BROWSER"):
            pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    work = tmp_path_factory.mktemp("browser")
    shutil.copytree(CORPUS, work / "corpus")
    (work / "corpus" / "hostile.md").write_text(HOSTILE_MD, encoding="utf-8")
    with (work / "corpus" / "sources.toml").open("a", encoding="utf-8") as fh:
        fh.write(HOSTILE_TOML)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "itsqa", "serve", "--port", str(port)],
                            cwd=work, env=clean_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                    if b'"ok"' in r.read():
                        break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"itsqa serve exited: {proc.stdout.read() if proc.stdout else ''}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def _shot(page: object, name: str) -> None:
    folder = os.environ.get("ITSQA_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=False)  # type: ignore[attr-defined]


def _ask(page: object, question: str) -> None:
    box = page.locator("#q")  # type: ignore[attr-defined]
    box.fill(question)
    box.press("Enter")
    page.wait_for_selector("#results li.hit")  # type: ignore[attr-defined]


def test_ask_read_follow_a_citation_and_come_back(server: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(server + "/")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'q'")
    _ask(page, "what are the quantum priorities")
    first = page.locator("#results li.hit").first
    assert "National Quantum Strategy" in first.locator("mark").first.inner_text()
    assert "q=what+are+the+quantum+priorities" in page.url
    page.wait_for_function("document.getElementById('index-status').textContent.includes('refreshed')")
    _shot(page, "answer-desktop.png")
    first.locator("a.cite").click()
    page.wait_for_selector("#cited")
    assert "/source/" in page.url and "#c" in page.url
    assert "National Quantum Strategy" in page.locator("#cited").inner_text()
    box = page.locator("#cited").bounding_box()
    assert box is not None and 0 <= box["y"] < 900, "the cited passage is scrolled into view"
    page.go_back()
    page.wait_for_selector("#results li.hit")
    assert page.locator("#q").input_value() == "what are the quantum priorities"
    page.close()


def test_the_keyboard_alone_is_enough(server: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(server + "/sources")
    page.keyboard.press("Tab")
    page.goto(server + "/?q=tech+envoy")
    page.wait_for_selector("#results li.hit")
    page.locator("body").click()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type(" to the US")
    page.keyboard.press("Enter")
    # The earlier answer stays on screen while the new one loads: wait for the new one.
    # (a selector, not a function: the page's CSP forbids the eval that polling would need).
    page.wait_for_selector("body:not(.busy) #results li.hit")
    assert "US" in page.url
    for _ in range(40):  # Tab through to the first citation, then follow it with Enter
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('cite')"):
            break
    assert page.evaluate("document.activeElement.classList.contains('cite')")
    page.keyboard.press("Enter")
    page.wait_for_selector("#cited")
    page.close()


def test_filters_narrow_the_results(server: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(server + "/")
    page.locator("#scope summary").click()
    page.locator("#publisher").fill("Burges")
    _ask(page, "technology envoys")
    titles = page.locator("#results .citation").all_inner_texts()
    assert len(titles) == 5 and all("Burges Salmon" in t for t in titles)
    assert "publisher=Burges" in page.url
    page.goto(server + "/?q=technology&until=2023-03")
    page.wait_for_selector("#results li.hit")
    assert all("2023-04" not in t for t in page.locator("#results .citation").all_inner_texts())
    page.close()


def test_a_hostile_source_runs_nothing(server: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(server + "/")
    _ask(page, "zebra crossing review brighter paint")
    text = page.locator("#results").inner_text()
    assert "<script>" in text or "<img" in text, "the markup is shown as text"
    page.locator("#results a.cite").first.click()
    page.wait_for_selector("#cited")
    assert page.locator("#meta a[href^='javascript']").count() == 0
    assert "javascript:window.pwned = 6" in page.locator("#meta").inner_text()
    page.goto(server + "/sources")
    page.wait_for_selector("#sources tbody tr")
    assert page.evaluate("typeof window.pwned") == "undefined"
    page.close()


def test_readable_on_a_phone(server: str, browser) -> None:
    page = browser.new_page(viewport={"width": 375, "height": 740})
    page.goto(server + "/?q=who+is+the+tech+envoy+to+the+US")
    page.wait_for_selector("#results li.hit")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"no sideways scrolling on a phone ({width} px wide)"
    _shot(page, "answer-phone.png")
    page.close()
