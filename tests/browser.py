"""Headless Chromium (Debian's, which `make test` installs) for the tests of the pages wopmatch
writes: a page that records its console errors, page errors and every request it makes."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from typing import Any, Iterator

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# CI installs Debian's chromium and sets this, so a missing browser fails there instead of skipping.
REQUIRE_BROWSER = os.environ.get("WOPMATCH_REQUIRE_BROWSER") == "1"
needs_browser = pytest.mark.skipif(CHROMIUM is None and not REQUIRE_BROWSER,
                                   reason="Debian's chromium is not installed")


@contextmanager
def offline_page(width: int = 900, height: int = 1200) -> Iterator[tuple[Any, list[str], list[str]]]:
    """(page, errors, requests): the page's console and page errors, and the URL of each request."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                                           "--disable-background-networking", "--disable-component-update",
                                           "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            yield page, errors, requests
        finally:
            browser.close()
