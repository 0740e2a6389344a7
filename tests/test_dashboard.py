"""The dashboard as a whole: served by the service with everything it loads, usable in a real
browser with every other host unreachable, at 1366x768, with no console errors.

The views' own behaviour is tested in test_dashboard_map.py, test_dashboard_inbox.py and
test_dashboard_channel.py."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from browser import chromium, sign_in, watched_page
from deconflict.api.web_routes import CONTENT_SECURITY_POLICY, WEB_ROOT
from servers import free_port, running

OWN_FILES = ["index.html", "app.css", *(f"js/{p.name}" for p in (WEB_ROOT / "js").glob("*.js"))]
TABS = ["map", "inbox", "exchanges", "channel", "record"]


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str
) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("dashboard")
    data, port = tmp / "demo", free_port()
    args = ["demo", "--data-dir", str(data), "--port", str(port), "--no-traffic"]
    with running(args, port, tmp / "log", database_url=module_database_url):
        tokens = json.loads((data / "demo-tokens.json").read_text())
        yield {"url": f"http://127.0.0.1:{port}", "tokens": tokens}


def test_the_page_and_its_assets_come_from_the_service_with_a_self_only_policy(
    demo: dict[str, Any],
) -> None:
    page = httpx.get(demo["url"] + "/")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY
    assert "connect-src 'self'" in CONTENT_SECURITY_POLICY
    referenced = re.findall(r'(?:src|href)="(/ui/[^"]+)"', page.text)
    assert len(referenced) >= 4
    for path in referenced:
        r = httpx.get(demo["url"] + path)
        assert r.status_code == 200, path
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert httpx.get(demo["url"] + "/ui/../../pyproject.toml").status_code == 404


@pytest.mark.parametrize("name", OWN_FILES)
def test_the_pages_own_files_name_no_other_host(name: str) -> None:
    text = (WEB_ROOT / name).read_text(encoding="utf-8")
    assert not re.search(r"https?://|//[a-z0-9-]+\.[a-z]{2,}/", text), name


def test_a_bad_token_is_refused_on_the_page(demo: dict[str, Any]) -> None:
    with chromium() as browser, watched_page(browser, demo["url"]) as w:
        w.page.goto("/")
        w.page.fill("#token", "not-a-token")
        w.page.click("#sign-in-form button[type=submit]")
        w.page.wait_for_selector("#sign-in-error:has-text('not valid')")
        assert w.page.is_hidden("#tabs")
        # The refused sign-in answers 401, which the browser logs as a failed resource.
        w.errors[:] = [e for e in w.errors if "401" not in e]
        w.assert_clean()


def test_every_view_opens_with_every_other_host_blocked_and_fits_the_screen(
    demo: dict[str, Any], tmp_path: Path
) -> None:
    with chromium() as browser, watched_page(browser, demo["url"]) as w:
        sign_in(w, demo["tokens"]["coalition"])
        assert "coalition" in w.page.inner_text("#whoami")
        w.page.wait_for_selector("#live:has-text('live')")
        for tab in TABS:
            w.page.click(f"#tabs button[data-view={tab}]")
            w.page.wait_for_selector(f"#view-{tab}:not([hidden])")
            w.page.wait_for_timeout(300)  # the live stream never lets the network idle
            width = w.page.evaluate("document.documentElement.scrollWidth")
            assert width <= 1366, (tab, width)
            assert w.page.get_attribute(f"#tabs button[data-view={tab}]", "aria-current") == "page"
        # A reload keeps the session of this tab (the token is in sessionStorage only).
        w.page.reload()
        w.page.wait_for_selector("#tabs:not([hidden])")
        w.page.click("#sign-out")
        w.page.wait_for_selector("#sign-in:not([hidden])")
        assert w.page.evaluate("sessionStorage.length") == 0
        w.assert_clean()


def test_text_from_another_party_is_shown_as_text_never_as_markup(demo: dict[str, Any]) -> None:
    """A party's free text reaches other parties' screens; markup in it must stay text (the
    token in the page's session is what an injected script would steal)."""
    hostile = '<img id="pwned" src="/ui/nothing.png" onerror="document.title=1">Su-35 intercept'
    r = httpx.post(
        demo["url"] + "/v1/incidents",
        headers={"Authorization": f"Bearer {demo['tokens']['russia']}"},
        json={
            "kind": "unsafe_intercept",
            "title": hostile,
            "description": "<script>document.title='pwned'</script>",
            "occurred_at": "2017-06-18T14:40:00Z",
            "place": {
                "geometry": {"type": "Point", "coordinates": [38.55, 35.75]},
                "buffer_m": 3000,
            },
            "parties": ["coalition"],
        },
    )
    assert r.status_code == 201, r.text
    with chromium() as browser, watched_page(browser, demo["url"]) as w:
        sign_in(w, demo["tokens"]["coalition"])
        for tab, item in (("exchanges", "li[data-incident-id] button"), ("inbox", None)):
            w.page.click(f"#tabs button[data-view={tab}]")
            if item is not None:
                w.page.click(item)
            w.page.wait_for_selector(f"#view-{tab} :text('Su-35 intercept')")
            assert w.page.query_selector("#pwned") is None
            assert w.page.query_selector("#main script") is None
            assert "<img" in w.page.inner_text(f"#view-{tab}")
        assert w.page.title() == "deconflict"
        w.assert_clean()
