"""Screenshots of the dashboard's main views for the README, from a real demo server.

    .venv/bin/python tools/screenshots.py            # writes docs/screenshots/*.png

Starts ``deconflict demo`` (with its simulated traffic) on a fresh data dir, waits for the first
encounter, signs in as the coalition in Debian's Chromium at 1366x768 and saves each view.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser import chromium, sign_in, watched_page  # noqa: E402
from servers import free_port, running  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
VIEWS = ["map", "inbox", "exchanges", "channel", "record"]
FIRST_ITEM = {
    "inbox": "#inbox-list li[data-notification-id] button",
    "exchanges": "li[data-incident-id] button",
}
"""What each view has selected in its screenshot."""


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data, port = Path(tmp) / "demo", free_port()
        url = f"http://127.0.0.1:{port}"
        args = ["demo", "--data-dir", str(data), "--port", str(port)]
        with running(args, port, Path(tmp) / "log"):
            tokens = json.loads((data / "demo-tokens.json").read_text())
            headers = {"Authorization": f"Bearer {tokens['coalition']}"}
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                items = httpx.get(f"{url}/v1/notifications", headers=headers).json()["items"]
                if any(n["subject"] == "encounter" for n in items):
                    break
                time.sleep(0.5)
            # Something in each view: an incident Russia reports about the coalition.
            httpx.post(
                f"{url}/v1/incidents",
                headers={"Authorization": f"Bearer {tokens['russia']}"},
                json={
                    "kind": "unsafe_intercept",
                    "title": "Su-35 intercept of an F-22 south of Tabqa",
                    "description": "Closest approach about 150 m, no radio contact on guard.",
                    "occurred_at": "2017-06-18T14:40:00Z",
                    "place": {
                        "geometry": {"type": "Point", "coordinates": [38.55, 35.75]},
                        "buffer_m": 3000,
                    },
                    "parties": ["coalition"],
                },
            ).raise_for_status()
            with chromium() as browser, watched_page(browser, url) as w:
                sign_in(w, tokens["coalition"])
                for view in VIEWS:
                    w.page.click(f"#tabs button[data-view={view}]")
                    w.page.wait_for_timeout(1500)
                    first = FIRST_ITEM.get(view)
                    if first is not None and w.page.query_selector(first) is not None:
                        w.page.click(first)
                        w.page.wait_for_timeout(800)
                    if view == "record":
                        listed = httpx.get(f"{url}/v1/conflicts", headers=headers).json()
                        conflict = listed["items"][0]
                        field = w.page.query_selector("#view-record input")
                        if field is not None:
                            field.fill(conflict["id"])
                            field.press("Enter")
                            w.page.wait_for_timeout(1000)
                    w.page.screenshot(path=str(OUT / f"{view}.png"))
                    print("saved", OUT / f"{view}.png")
                w.assert_clean()


if __name__ == "__main__":
    main()
