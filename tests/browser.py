"""Chromium for the dashboard's tests: Debian's browser (``/usr/bin/chromium``, installed by
``.ci/run``) driven by Playwright through its executable path, so nothing is downloaded.

Every page a test opens may reach the service under test and nothing else: requests to any
other host are aborted and recorded, and so are console errors and uncaught page errors; the
``Page`` wrapper fails the test if any happened."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Route, sync_playwright

CHROMIUM = os.environ.get("DECONFLICT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
"""The browser binary; CI installs Debian's ``chromium`` package."""

LAUNCH_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
VIEWPORT = {"width": 1366, "height": 768}


@dataclass
class Watched:
    page: Page
    base_url: str
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.blocked == [], f"the page tried to reach other hosts: {self.blocked}"
        assert self.errors == [], f"console or page errors: {self.errors}"


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def watched_page(browser: Browser, base_url: str) -> Iterator[Watched]:
    """A new context and page at 1366x768 that may only reach ``base_url``."""
    context = browser.new_context(viewport=VIEWPORT, base_url=base_url)
    page = context.new_page()
    watched = Watched(page, base_url)
    own = re.escape(base_url.rstrip("/"))

    def route(r: Route) -> None:
        if re.match(own + r"(/|$)", r.request.url):
            r.continue_()
        else:
            watched.blocked.append(r.request.url)
            r.abort()

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.errors.append(f"console: {message.text}")

    def page_error(error: Any) -> None:
        watched.errors.append(f"page error: {error}")

    def failed(request: Request) -> None:
        # An aborted stream when the page closes is not an error of the page.
        if "/v1/events" not in request.url and not request.url.startswith(base_url):
            watched.errors.append(f"request failed: {request.url}")

    context.route("**/*", route)
    page.on("console", console)
    page.on("pageerror", page_error)
    page.on("requestfailed", failed)
    try:
        yield watched
    finally:
        context.close()


def sign_in(watched: Watched, token: str) -> None:
    page = watched.page
    page.goto("/")
    page.fill("#token", token)
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector("#tabs:not([hidden])")
