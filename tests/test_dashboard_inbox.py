"""The dashboard's inbox and exchanges views in a real browser against the demo: each party's
page lists exactly its own notifications in the order a duty officer works them, counts down to
their deadlines, acknowledges with a reply against the version read, takes new ones live from
the event stream, and answers incidents and requests so that the other party sees the answer.

Every check of what was written goes through the public API, as the other party would read it.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser

from browser import Watched, chromium, sign_in, watched_page
from deconflict.demo import scenario
from servers import free_port, running

pytestmark = pytest.mark.slow

SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "info": 3}
COUNTDOWN = re.compile(r"^(overdue )?(\d+h )?(\d+m )?\d+s( left)?$")
PAGE_TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str
) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("inbox")
    data, port = tmp / "demo", free_port()
    args = ["demo", "--data-dir", str(data), "--port", str(port), "--no-traffic"]
    with running(args, port, tmp / "log", database_url=module_database_url):
        tokens = json.loads((data / "demo-tokens.json").read_text())
        url = f"http://127.0.0.1:{port}"
        clients = {
            party: httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"})
            for party, token in tokens.items()
        }
        try:
            yield {"url": url, "tokens": tokens, "api": clients}
        finally:
            for client in clients.values():
                client.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def notifications(api: httpx.Client) -> list[dict[str, Any]]:
    r = api.get("/v1/notifications", params={"limit": 1000})
    assert r.status_code == 200, r.text
    assert r.json()["next"] is None
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def open_inbox(w: Watched, token: str, count: int) -> None:
    """Sign in, open the inbox and wait until it lists `count` notifications."""
    w.page.set_default_timeout(PAGE_TIMEOUT_MS)
    sign_in(w, token)
    w.page.click("#tabs button[data-view=inbox]")
    w.page.wait_for_selector("#live:has-text('live')")
    w.page.wait_for_function(
        "n => document.querySelectorAll('#inbox-list [data-notification-id]').length === n",
        arg=count,
    )


def listed(w: Watched) -> list[dict[str, Any]]:
    """The inbox as the page shows it, top to bottom."""
    rows: list[dict[str, Any]] = w.page.eval_on_selector_all(
        "#inbox-list [data-notification-id]",
        """rows => rows.map(li => {
            const c = li.querySelector('.countdown');
            return {id: li.dataset.notificationId, severity: li.dataset.severity,
                    state: li.dataset.state, deadline: c ? c.dataset.deadline || null : null,
                    countdown: c ? c.textContent : null};
        })""",
    )
    return rows


def work_order(row: dict[str, Any]) -> tuple[int, int, datetime]:
    """Unacknowledged first, then by severity, then by the nearest deadline (none last)."""
    deadline = (
        datetime.fromisoformat(row["deadline"])
        if row["deadline"]
        else datetime.max.replace(tzinfo=UTC)
    )
    return (row["state"] == "acknowledged", SEVERITY_RANK[row["severity"]], deadline)


def expect_refused(w: Watched, status: int) -> None:
    """The browser logs an answer of `status` the page provoked on purpose; take it out, once."""
    logged = [e for e in w.errors if f"status of {status} " in e]
    assert len(logged) == 1, w.errors
    w.errors.remove(logged[0])


def coalition_air_operation(title: str, point: list[float], start: str, end: str) -> dict[str, Any]:
    return {
        "kind": "air_operation",
        "title": title,
        "volumes": [
            {
                "geometry": {"type": "Point", "coordinates": point},
                "buffer_m": 5000,
                "altitude": {"lower": 6500, "upper": 7500, "units": "m", "reference": "AMSL"},
                "time": {"start": start, "end": end},
            }
        ],
    }


def declare(api: httpx.Client, declaration: dict[str, Any]) -> dict[str, Any]:
    r = api.post("/v1/declarations", json=declaration)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def told(api: httpx.Client, conflict_id: str) -> dict[str, Any]:
    (n,) = [n for n in notifications(api) if n["conflict_id"] == conflict_id]
    return n


def test_the_inbox_lists_the_partys_notifications_in_work_order_and_acknowledges_with_a_reply(
    demo: dict[str, Any], browser: Browser
) -> None:
    russia = demo["api"]["russia"]
    before = notifications(russia)
    assert any(n["severity"] == "critical" for n in before)
    with watched_page(browser, demo["url"]) as w:
        open_inbox(w, demo["tokens"]["russia"], len(before))
        rows = listed(w)
        by_id = {n["id"]: n for n in notifications(russia)}
        assert [r["id"] for r in rows] != []
        assert sorted(r["id"] for r in rows) == sorted(by_id)
        assert all(r["severity"] == by_id[r["id"]]["severity"] for r in rows)
        assert all(work_order(a) <= work_order(b) for a, b in itertools.pairwise(rows))
        assert rows[0]["severity"] == "critical"
        assert rows[0]["state"] != "acknowledged"
        open_rows = [r for r in rows if r["state"] != "acknowledged"]
        assert w.page.inner_text("#inbox-count") == str(len(open_rows))
        # every deadline counts down, and keeps counting
        assert all(r["deadline"] and COUNTDOWN.match(r["countdown"]) for r in open_rows), open_rows
        first = rows[0]["countdown"]
        w.page.wait_for_function(
            "t => document.querySelector('#inbox-list .countdown').textContent !== t", arg=first
        )

        target = rows[0]["id"]
        reply = "Received at Hmeimim; the strike window is moved by two hours."
        w.page.click(f"[data-notification-id='{target}'] button")
        w.page.wait_for_selector(f"#inbox-detail [data-detail-id='{target}']")
        version = int(w.page.get_attribute("#inbox-detail article", "data-version") or "0")
        assert "Escalation history" in w.page.inner_text("#ntf-escalations")
        w.page.fill("#ack-reply", reply)
        w.page.click("#ack-button")
        w.page.wait_for_selector(f"[data-notification-id='{target}'][data-state='acknowledged']")
        w.page.wait_for_function(
            "n => document.querySelector('#inbox-count').textContent === String(n)",
            arg=len(open_rows) - 1,
        )
        assert w.page.inner_text("#ntf-reply") == reply
        w.page.click("#ntf-record")  # the record of what was told, in the Record view
        w.page.wait_for_selector("#view-record:not([hidden])")
        w.assert_clean()

    acked = russia.get(f"/v1/notifications/{target}").json()
    me = russia.get("/v1/me").json()
    assert acked["state"] == "acknowledged"
    assert acked["reply"] == reply
    assert acked["acknowledged_by"] == me["id"]
    assert acked["version"] == version


def tab_to(w: Watched, selector: str, presses: int = 60) -> None:
    """Press Tab until the element matching `selector` has the focus."""
    for _ in range(presses):
        if w.page.evaluate("s => document.activeElement.matches(s)", selector):
            return
        w.page.keyboard.press("Tab")
    raise AssertionError(f"{selector} not reached with {presses} presses of Tab")


def test_a_notification_is_read_and_acknowledged_with_the_keyboard_alone(
    demo: dict[str, Any], browser: Browser
) -> None:
    medics = demo["api"]["medics"]
    waiting = [n for n in notifications(medics) if n["state"] != "acknowledged"]
    assert len(waiting) >= 2
    with watched_page(browser, demo["url"]) as w:
        open_inbox(w, demo["tokens"]["medics"], len(notifications(medics)))
        w.page.focus("#tabs button[data-view=inbox]")
        tab_to(w, "#inbox-list button.item")
        first, second = (r["id"] for r in listed(w)[:2])
        w.page.keyboard.press("ArrowDown")
        w.page.keyboard.press("Enter")
        w.page.wait_for_selector(f"#inbox-detail [data-detail-id='{second}']")
        outline = w.page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline not in ("none", ""), "the focused item shows no outline"
        w.page.keyboard.press("ArrowUp")
        assert (
            w.page.evaluate("document.activeElement.closest('li').dataset.notificationId") == first
        )
        tab_to(w, "#ack-reply")
        w.page.keyboard.type("Seen by the hospital coordinator.")
        tab_to(w, "#ack-button")
        w.page.keyboard.press("Enter")
        w.page.wait_for_selector(f"[data-notification-id='{second}'][data-state='acknowledged']")
        w.assert_clean()
    acked = medics.get(f"/v1/notifications/{second}").json()
    assert (acked["state"], acked["reply"]) == ("acknowledged", "Seen by the hospital coordinator.")


def test_a_notification_told_while_the_page_is_open_appears_live_without_reload(
    demo: dict[str, Any], browser: Browser
) -> None:
    russia, coalition = demo["api"]["russia"], demo["api"]["coalition"]
    with watched_page(browser, demo["url"]) as w:
        open_inbox(w, demo["tokens"]["russia"], len(notifications(russia)))
        w.page.evaluate("window.__same_page = true")
        fetched: list[str] = []
        w.page.on("request", lambda r: fetched.append(r.url))

        # over the Su-24's reconnaissance area, inside its band and window
        written = declare(
            coalition,
            coalition_air_operation(
                "Tornado transit over Ma'adan",
                [39.25, 35.8],
                "2017-04-07T03:00:00Z",
                "2017-04-07T04:00:00Z",
            ),
        )
        (conflict,) = [c for c in written["conflicts"] if c["other_party"] == "russia"]
        new = told(russia, conflict["id"])
        row = w.page.wait_for_selector(f"#inbox-list [data-notification-id='{new['id']}']")
        assert row is not None
        assert "coalition" in row.inner_text()
        assert row.get_attribute("data-severity") == new["severity"]
        assert w.page.evaluate("window.__same_page") is True
        assert not [u for u in fetched if httpx.URL(u).path == "/v1/notifications"], fetched
        w.assert_clean()


def test_an_acknowledgement_of_a_version_revised_since_it_was_read_is_refused_and_re_read(
    demo: dict[str, Any], browser: Browser
) -> None:
    russia, coalition = demo["api"]["russia"], demo["api"]["coalition"]
    written = declare(
        coalition,
        coalition_air_operation(
            "F-15E patrol, Palmyra road",
            [38.45, 34.1],
            "2017-04-07T07:00:00Z",
            "2017-04-07T08:00:00Z",
        ),
    )
    declaration = written["declaration"]
    (conflict,) = [c for c in written["conflicts"] if c["other_party"] == "russia"]
    read = told(russia, conflict["id"])
    with watched_page(browser, demo["url"]) as w:
        open_inbox(w, demo["tokens"]["russia"], len(notifications(russia)))
        w.page.click(f"[data-notification-id='{read['id']}'] button")
        w.page.wait_for_selector(f"#inbox-detail [data-version='{read['version']}']")
        w.page.fill("#ack-reply", "Clear of the Palmyra road.")

        # the coalition shortens its window: the overlap changes, russia is told again
        volumes = declaration["volumes"]
        volumes[0]["time"]["end"] = "2017-04-07T07:30:00Z"
        r = coalition.patch(
            f"/v1/declarations/{declaration['id']}",
            json={"volumes": volumes},
            headers={"If-Match": f'"{declaration["version"]}"'},
        )
        assert r.status_code == 200, r.text
        w.page.wait_for_selector("#ntf-show-revision")  # told on screen, but not swapped in
        w.page.click("#ack-button")
        revised = russia.get(f"/v1/notifications/{read['id']}").json()
        assert revised["version"] > read["version"]
        w.page.wait_for_selector(f"#inbox-detail [data-version='{revised['version']}']")
        assert "revised" in w.page.inner_text("#ack-problems")
        assert w.page.input_value("#ack-reply") == "Clear of the Palmyra road."
        assert russia.get(f"/v1/notifications/{read['id']}").json()["state"] != "acknowledged"

        w.page.click("#ack-button")
        w.page.wait_for_selector(
            f"[data-notification-id='{read['id']}'][data-state='acknowledged']"
        )
        expect_refused(w, 412)
        w.assert_clean()
    acked = russia.get(f"/v1/notifications/{read['id']}").json()
    assert (acked["state"], acked["version"]) == ("acknowledged", revised["version"])


def test_an_incident_reply_and_a_request_answer_made_on_the_page_reach_the_other_party(
    demo: dict[str, Any], browser: Browser
) -> None:
    russia, coalition = demo["api"]["russia"], demo["api"]["coalition"]
    occurred = (datetime.now(UTC) - timedelta(minutes=20)).isoformat()
    r = coalition.post(
        "/v1/incidents",
        json={
            "kind": "radar_lock_on",
            "title": "Fire-control radar lock on an F-22 near Tabqa",
            "occurred_at": occurred,
            "place": {
                "geometry": {"type": "Point", "coordinates": [38.55, 35.85]},
                "buffer_m": 2000,
            },
            "parties": ["russia"],
        },
    )
    assert r.status_code == 201, r.text
    incident = r.json()["incident"]
    reply = "No Russian air-defence unit was emitting in that sector at that time."
    answer = "Denied: our Su-24s work that corridor until 17:00Z."
    with watched_page(browser, demo["url"]) as w:
        w.page.set_default_timeout(PAGE_TIMEOUT_MS)
        sign_in(w, demo["tokens"]["russia"])
        w.page.wait_for_selector("#live:has-text('live')")
        w.page.click("#tabs button[data-view=exchanges]")
        w.page.click(f"[data-incident-id='{incident['id']}'] button")
        w.page.fill("#incident-reply", reply)
        w.page.click("#incident-reply-button")
        w.page.wait_for_selector(f"#incident-detail .replies:has-text('{reply}')")

        # a request made while the page is open arrives live, and is denied from the page
        r = coalition.post(
            "/v1/requests",
            json={
                "to": "russia",
                "template": "request_to_cross_line",
                "fields": {"line": "the Euphrates", "time": "16:00Z", "what": "two F/A-18E"},
            },
        )
        assert r.status_code == 201, r.text
        request = r.json()["request"]
        w.page.click("#exchanges-requests")
        w.page.click(f"[data-request-id='{request['id']}'] button")
        w.page.fill("#answer-text", answer)
        w.page.click("#answer-deny")
        w.page.wait_for_selector(f"[data-request-id='{request['id']}'] .state.denied")
        w.assert_clean()

    seen = coalition.get(f"/v1/incidents/{incident['id']}").json()
    assert [(x["party"], x["text"]) for x in seen["replies"]] == [("russia", reply)]
    answered = coalition.get(f"/v1/requests/{request['id']}").json()
    assert (answered["state"], answered["answer_text"]) == ("denied", answer)
    assert answered["answered_by"] == russia.get("/v1/me").json()["id"]
    # and the coalition is told of both, as notifications it must acknowledge
    subjects = {n["subject_id"]: n for n in notifications(coalition)}
    assert subjects[incident["id"]]["body"]["replies"][0]["text"] == reply
    assert subjects[request["id"]]["body"]["state"] == "denied"


def test_a_refused_message_shows_the_problem_by_its_form_and_a_template_message_is_sent(
    demo: dict[str, Any], browser: Browser
) -> None:
    russia = demo["api"]["russia"]
    with watched_page(browser, demo["url"]) as w:
        w.page.set_default_timeout(PAGE_TIMEOUT_MS)
        sign_in(w, demo["tokens"]["coalition"])
        w.page.click("#tabs button[data-view=exchanges]")
        w.page.click("#exchanges-messages")
        w.page.click("#message-new")
        w.page.select_option("#message-to", "russia")
        w.page.click("#message-submit")  # free text, left empty
        w.page.wait_for_selector("#message-problems:has-text('/text')")
        assert w.page.get_attribute("#message-text", "aria-invalid") == "true"

        w.page.select_option("#message-template", "received_deconflicting")
        w.page.fill("#message-field-time", "16:30Z")
        sentence = "Received. We are deconflicting and will answer by 16:30Z."
        assert w.page.inner_text("#message-preview") == sentence
        w.page.click("#message-submit")
        w.page.wait_for_selector(f"#message-list li:has-text('{sentence}')")
        expect_refused(w, 422)
        w.assert_clean()
    received = russia.get("/v1/messages").json()["items"]
    assert [(m["party"], m["text"]) for m in received] == [("coalition", sentence)]
    assert any(n["subject_id"] == received[0]["id"] for n in notifications(russia))


def test_the_coalitions_inbox_never_shows_russias_notifications(
    demo: dict[str, Any], browser: Browser
) -> None:
    own = notifications(demo["api"]["coalition"])
    theirs = notifications(demo["api"]["russia"])
    assert own
    assert theirs
    # russia's own operations: the coalition is told of conflicts with them, never their titles
    secret_titles = [
        e["declaration"]["title"]
        for e in scenario()["declarations"]
        if e["party"] == "russia" and e["declaration"]["kind"] != "coordination_measure"
    ]
    with watched_page(browser, demo["url"]) as w:
        open_inbox(w, demo["tokens"]["coalition"], len(own))
        for row in listed(w):  # read each one, so its body is on the page too
            w.page.click(f"[data-notification-id='{row['id']}'] button")
            w.page.wait_for_selector(f"#inbox-detail [data-detail-id='{row['id']}']")
        shown = {r["id"] for r in listed(w)}
        w.page.click("#tabs button[data-view=exchanges]")
        html = w.page.inner_html("#view-inbox") + w.page.inner_html("#view-exchanges")
        w.assert_clean()
    assert shown == {n["id"] for n in notifications(demo["api"]["coalition"])}
    assert not [n["id"] for n in theirs if n["id"] in html]
    assert not [t for t in secret_titles if t in html]
