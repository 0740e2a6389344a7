"""Escalation, notifications and rosters as pure functions: the state machine against a table of
cases, deadlines from the severity table, the life of one notification (told, delivered,
acknowledged, revised, escalated) and who of a party is on shift. No store, no clock."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deconflict.errors import IllegalTransition, InvalidInput
from deconflict.escalation import (
    MOVES,
    Acknowledge,
    Action,
    Escalation,
    Event,
    Notify,
    Phase,
    Remind,
    Revise,
    Tick,
    step,
)
from deconflict.notifications import (
    MAX_REPLY_CHARS,
    Deadlines,
    EscalationRecord,
    Notification,
    NotificationState,
    Subject,
    acknowledge,
    deliver,
    escalate,
    from_json,
    new_notification,
    revise,
)
from deconflict.rosters import MAX_LEVELS, MAX_MEMBERS, Roster, parse_roster
from deconflict.rules import Severity

T0 = datetime(2017, 4, 7, 0, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
TWO_MIN = 2 * MIN
TOP = 3

WAITING = Phase.WAITING
ACKED = Phase.ACKNOWLEDGED


# The state machine ------------------------------------------------------------------------------


def test_the_table_names_a_move_for_every_phase_and_event() -> None:
    events = set(typing.get_args(Event))
    assert events == {Tick, Acknowledge, Revise}
    assert set(MOVES) == {(phase, event) for phase in Phase for event in events}


@dataclass(frozen=True)
class Move:
    """One step: ``before`` (phase, level, deadline as minutes after T0 or None), the event at
    ``at`` minutes after T0, and what must come of it."""

    name: str
    before: tuple[Phase, int, float | None]
    event: Event
    at: float
    after: tuple[Phase, int, float | None]
    actions: tuple[Action, ...] = ()
    top: int = TOP
    interval: timedelta | None = TWO_MIN


def minutes(m: float | None) -> datetime | None:
    return None if m is None else T0 + m * MIN


MOVE_CASES = [
    Move(
        "tick_before_the_deadline_changes_nothing", (WAITING, 1, 2), Tick(), 1.99, (WAITING, 1, 2)
    ),
    # At the deadline: one level up, a fresh deadline one interval from now.
    Move(
        "tick_at_the_deadline_escalates", (WAITING, 1, 2), Tick(), 2, (WAITING, 2, 4), (Notify(2),)
    ),
    Move(
        "second_level_escalates_to_third", (WAITING, 2, 4), Tick(), 4, (WAITING, 3, 6), (Notify(3),)
    ),
    # After an outage the next level still gets a full interval, counted from the tick.
    Move(
        "late_tick_escalates_one_level_only",
        (WAITING, 1, 2),
        Tick(),
        30,
        (WAITING, 2, 32),
        (Notify(2),),
    ),
    Move("top_level_is_reminded", (WAITING, TOP, 6), Tick(), 6, (WAITING, TOP, 8), (Remind(TOP),)),
    # The roster was cut to fewer levels under it: the top there is now is reminded.
    Move(
        "level_above_a_cut_roster_reminds_its_top",
        (WAITING, 3, 6),
        Tick(),
        6,
        (WAITING, 2, 8),
        (Remind(2),),
        top=2,
    ),
    Move(
        "a_party_without_roster_is_reminded_at_level_1",
        (WAITING, 1, 2),
        Tick(),
        2,
        (WAITING, 1, 4),
        (Remind(1),),
        top=1,
    ),
    Move(
        "no_deadline_never_escalates",
        (WAITING, 1, None),
        Tick(),
        10_000,
        (WAITING, 1, None),
        interval=None,
    ),
    Move("acknowledge_ends_it_where_it_is", (WAITING, 2, 4), Acknowledge(), 3, (ACKED, 2, None)),
    Move(
        "acknowledge_after_the_deadline_still_ends_it",
        (WAITING, 1, 2),
        Acknowledge(),
        9,
        (ACKED, 1, None),
    ),
    Move(
        "revise_starts_again_at_level_1",
        (WAITING, 3, 6),
        Revise(),
        5,
        (WAITING, 1, 7),
        (Notify(1),),
    ),
    Move("acknowledged_ignores_the_clock", (ACKED, 2, None), Tick(), 10_000, (ACKED, 2, None)),
    Move("acknowledged_stays_acknowledged", (ACKED, 2, None), Acknowledge(), 1, (ACKED, 2, None)),
    Move(
        "revise_reopens_an_acknowledged_one",
        (ACKED, 3, None),
        Revise(),
        20,
        (WAITING, 1, 22),
        (Notify(1),),
    ),
    Move(
        "revise_to_no_deadline_waits_without_one",
        (WAITING, 2, 4),
        Revise(),
        3,
        (WAITING, 1, None),
        (Notify(1),),
        interval=None,
    ),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in MOVE_CASES])
def test_escalation_moves(case: Move) -> None:
    phase, level, deadline = case.before
    state = Escalation(phase, level, minutes(deadline))
    after, actions = step(state, case.event, minutes(case.at), top=case.top, interval=case.interval)
    phase, level, deadline = case.after
    assert after == Escalation(phase, level, minutes(deadline))
    assert actions == list(case.actions)
    assert after.phase is MOVES[(case.before[0], type(case.event))]


def test_the_move_table_covers_every_phase_and_event() -> None:
    assert {(c.before[0], type(c.event)) for c in MOVE_CASES} == set(MOVES)


def test_the_top_level_keeps_being_reminded_every_interval() -> None:
    state = Escalation.start(T0, TWO_MIN)
    seen: list[tuple[timedelta, Action]] = []
    now = T0
    while now < T0 + 20 * MIN:
        now += timedelta(seconds=10)
        state, actions = step(state, Tick(), now, top=TOP, interval=TWO_MIN)
        seen += [(now - T0, a) for a in actions]
    # levels 2 and 3 at the first two deadlines, then a reminder at every one after
    assert seen == [
        (2 * MIN, Notify(2)),
        (4 * MIN, Notify(3)),
        *[(k * TWO_MIN, Remind(TOP)) for k in range(3, 11)],
    ]
    assert state.level == TOP


@settings(max_examples=300, deadline=None)
@given(
    top=st.integers(1, MAX_LEVELS),
    interval_s=st.integers(1, 3600),
    gaps_s=st.lists(st.integers(0, 4 * 3600), max_size=40),
)
def test_ticks_without_ack_never_skip_or_pass_the_top(
    top: int, interval_s: int, gaps_s: list[int]
) -> None:
    interval = timedelta(seconds=interval_s)
    state = Escalation.start(T0, interval)
    now = T0
    due_ticks = 0
    for gap in gaps_s:
        now += timedelta(seconds=gap)
        assert state.deadline is not None
        due = now >= state.deadline
        before = state.level
        state, actions = step(state, Tick(), now, top=top, interval=interval)
        due_ticks += due
        assert state.level - before in (0, 1)
        assert 1 <= state.level <= top
        assert state.level == min(1 + due_ticks, top)
        if not due:
            assert actions == []
        elif before < top:
            assert actions == [Notify(before + 1)]
            assert state.deadline == now + interval
        else:
            assert actions == [Remind(top)]
            assert state.deadline == now + interval


# Deadlines by severity ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "allowed"),
    [
        (Severity.CRITICAL, timedelta(minutes=2)),
        (Severity.HIGH, timedelta(minutes=5)),
        (Severity.MEDIUM, timedelta(minutes=15)),
        (Severity.INFO, None),
    ],
)
def test_deadlines_by_severity(severity: Severity, allowed: timedelta | None) -> None:
    assert Deadlines().interval(severity) == allowed
    n = notification(severity=severity)
    assert n.deadline == (None if allowed is None else T0 + allowed)


def test_a_channel_may_set_its_own_deadlines() -> None:
    fast = Deadlines(critical=timedelta(seconds=30), medium=None)
    assert fast.interval(Severity.CRITICAL) == timedelta(seconds=30)
    assert fast.interval(Severity.HIGH) == timedelta(minutes=5)
    assert notification(severity=Severity.MEDIUM, deadlines=fast).deadline is None


# One notification's life ----------------------------------------------------------------------

VIEW = {"id": "cfl_1", "declaration_id": "dcl_mine", "other_party": "russia", "version": 1}
DUTY = ("prn_duty",)


def notification(
    severity: Severity = Severity.CRITICAL,
    deadlines: Deadlines | None = None,
    **kw: Any,
) -> Notification:
    return new_notification(
        id="ntf_1",
        party="coalition",
        subject=Subject.CONFLICT,
        subject_id="cfl_1",
        severity=severity,
        body=kw.pop("body", VIEW),
        now=kw.pop("now", T0),
        deadlines=deadlines or Deadlines(),
        notified=kw.pop("notified", DUTY),
        conflict_id="cfl_1",
        declaration_id="dcl_mine",
        **kw,
    )


def on_shift(level: int) -> tuple[str, ...]:
    return (f"prn_level{level}",)


def test_a_new_notification_is_pending_at_level_1_with_its_first_recipients() -> None:
    n = notification()
    assert (n.state, n.version, n.escalation_level) == (NotificationState.PENDING, 1, 1)
    assert n.escalations == (EscalationRecord(1, T0, DUTY),)
    wire = n.to_json()
    for key in ("id", "subject", "severity", "state", "deadline", "escalation_level"):
        assert key in wire
    assert (wire["conflict_id"], wire["declaration_id"]) == ("cfl_1", "dcl_mine")
    assert wire["deadline"] == "2017-04-07T00:02:00Z"


def test_a_notification_reads_back_as_it_was_written() -> None:
    n = escalate(notification(), T0 + TWO_MIN, top=TOP, deadlines=Deadlines(), on_shift=on_shift)[0]
    n = acknowledge(deliver(n, "prn_a", "fetch", T0 + 3 * MIN), "prn_b", "Seen", T0 + 4 * MIN)
    assert from_json(n.to_json()) == n


def test_the_first_delivery_is_recorded_and_later_ones_change_nothing() -> None:
    n = deliver(notification(), "prn_a", "fetch", T0 + MIN)
    assert n.state is NotificationState.DELIVERED
    assert (n.delivered_at, n.delivered_to, n.delivered_via) == (T0 + MIN, "prn_a", "fetch")
    assert deliver(n, "prn_b", "webhook", T0 + 2 * MIN) is n
    assert n.deadline == T0 + TWO_MIN  # delivery is not acknowledgement: the deadline runs on


def test_acknowledging_stops_the_deadline_and_records_who_and_the_reply() -> None:
    n = deliver(notification(), "prn_a", "fetch", T0)
    acked = acknowledge(n, "prn_b", "Holding fire", T0 + MIN)
    assert acked.state is NotificationState.ACKNOWLEDGED
    assert (acked.acknowledged_at, acked.acknowledged_by, acked.reply) == (
        T0 + MIN,
        "prn_b",
        "Holding fire",
    )
    assert acked.deadline is None
    assert acked.delivered_to == "prn_a"
    later = escalate(acked, T0 + 60 * MIN, top=TOP, deadlines=Deadlines(), on_shift=on_shift)
    assert later == (acked, [])


def test_acknowledging_unfetched_counts_as_delivery_to_the_acknowledger() -> None:
    acked = acknowledge(notification(), "prn_b", None, T0 + MIN)
    assert (acked.delivered_at, acked.delivered_to, acked.delivered_via) == (
        T0 + MIN,
        "prn_b",
        "acknowledgement",
    )


def test_a_second_acknowledgement_is_refused() -> None:
    acked = acknowledge(notification(), "prn_b", None, T0)
    with pytest.raises(IllegalTransition):
        acknowledge(acked, "prn_c", "again", T0 + MIN)


def test_a_reply_is_limited_in_length() -> None:
    n = notification()
    assert acknowledge(n, "prn_b", "x" * MAX_REPLY_CHARS, T0).reply == "x" * MAX_REPLY_CHARS
    with pytest.raises(InvalidInput) as raised:
        acknowledge(n, "prn_b", "x" * (MAX_REPLY_CHARS + 1), T0)
    assert [(e.field, e.rule) for e in raised.value.errors] == [("/reply", "length")]


def test_escalating_records_the_level_time_and_who_was_on_shift() -> None:
    n = notification()
    n, actions = escalate(n, T0 + TWO_MIN, top=TOP, deadlines=Deadlines(), on_shift=on_shift)
    assert actions == [Notify(2)]
    n, actions = escalate(n, T0 + 2 * TWO_MIN, top=TOP, deadlines=Deadlines(), on_shift=on_shift)
    assert actions == [Notify(3)]
    n, actions = escalate(n, T0 + 3 * TWO_MIN, top=TOP, deadlines=Deadlines(), on_shift=on_shift)
    assert actions == [Remind(3)]
    assert n.escalation_level == TOP
    assert n.deadline == T0 + 4 * TWO_MIN
    assert n.escalations == (
        EscalationRecord(1, T0, DUTY),
        EscalationRecord(2, T0 + TWO_MIN, ("prn_level2",)),
        EscalationRecord(3, T0 + 2 * TWO_MIN, ("prn_level3",)),
        EscalationRecord(3, T0 + 3 * TWO_MIN, ("prn_level3",), reminder=True),
    )
    # escalating is not a new version: the version the recipient read can still be acknowledged
    assert n.version == 1


def test_nothing_escalates_before_its_deadline() -> None:
    n = notification()
    assert escalate(
        n,
        T0 + TWO_MIN - timedelta(microseconds=1),
        top=TOP,
        deadlines=Deadlines(),
        on_shift=on_shift,
    ) == (n, [])


def test_an_info_notification_never_escalates() -> None:
    n = notification(severity=Severity.INFO)
    assert n.deadline is None
    assert escalate(
        n, T0 + timedelta(days=30), top=TOP, deadlines=Deadlines(), on_shift=on_shift
    ) == (
        n,
        [],
    )


def test_a_revision_starts_again_at_level_1_and_must_be_acknowledged_again() -> None:
    n = notification()
    for k in (1, 2):
        n, _ = escalate(n, T0 + k * TWO_MIN, top=TOP, deadlines=Deadlines(), on_shift=on_shift)
    n = acknowledge(deliver(n, "prn_a", "fetch", T0 + 5 * MIN), "prn_a", "ok", T0 + 5 * MIN)
    moved = {**VIEW, "version": 2}
    later = T0 + 7 * MIN
    r = revise(
        n, body=moved, severity=Severity.HIGH, now=later, deadlines=Deadlines(), notified=DUTY
    )
    assert (r.version, r.state, r.escalation_level) == (2, NotificationState.PENDING, 1)
    assert (r.body, r.severity) == (moved, Severity.HIGH)
    assert r.deadline == later + timedelta(minutes=5)
    assert r.updated_at == later
    assert r.created_at == T0
    for cleared in ("delivered_at", "delivered_to", "delivered_via", "acknowledged_at", "reply"):
        assert getattr(r, cleared) is None
    assert r.escalations[:-1] == n.escalations
    assert r.escalations[-1] == EscalationRecord(1, later, DUTY)


def test_a_revision_that_tells_nothing_new_is_no_revision() -> None:
    n = notification()
    assert (
        revise(
            n,
            body=dict(VIEW),
            severity=n.severity,
            now=T0 + MIN,
            deadlines=Deadlines(),
            notified=(),
        )
        is n
    )


def test_a_resolved_subject_is_told_as_info_without_deadline() -> None:
    n = notification()
    resolved = {**VIEW, "version": 2, "state": "resolved"}
    r = revise(
        n, body=resolved, severity=Severity.INFO, now=T0 + MIN, deadlines=Deadlines(), notified=()
    )
    assert (r.severity, r.deadline, r.version) == (Severity.INFO, None, 2)
    assert (
        escalate(r, T0 + timedelta(days=1), top=TOP, deadlines=Deadlines(), on_shift=on_shift)[1]
        == []
    )


# Rosters: who is on shift ---------------------------------------------------------------------


def roster_of(*levels: list[tuple[Any, Any]]) -> dict[str, Any]:
    return {
        "levels": [
            {"name": f"level {n}", "members": [{"principal": p, "shift": s} for p, s in members]}
            for n, members in enumerate(levels, start=1)
        ]
    }


def at(hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(2017, 4, 7, hh, mm, ss, tzinfo=UTC)


def test_a_shift_includes_its_start_and_excludes_its_end() -> None:
    r = parse_roster("un", roster_of([("prn_day", "06:00-18:00")]))
    assert r.on_shift(1, at(6)) == ("prn_day",)
    assert r.on_shift(1, at(17, 59, 59)) == ("prn_day",)
    assert r.on_shift(1, at(18)) == ()
    assert r.on_shift(1, at(5, 59, 59)) == ()


def test_a_night_shift_crosses_midnight_and_00_to_00_is_the_whole_day() -> None:
    r = parse_roster(
        "un", roster_of([("prn_night", "18:00-06:00")], [("prn_always", "00:00-00:00")])
    )
    assert [r.on_shift(1, at(h)) for h in (17, 18, 23, 0, 5, 6)] == [
        (),
        ("prn_night",),
        ("prn_night",),
        ("prn_night",),
        ("prn_night",),
        (),
    ]
    assert all(r.on_shift(2, at(h)) == ("prn_always",) for h in range(24))


def test_shifts_are_in_utc_whatever_the_offset_of_the_clock() -> None:
    r = parse_roster("un", roster_of([("prn_day", "06:00-18:00")]))
    damascus = timezone(timedelta(hours=3))
    assert r.on_shift(1, datetime(2017, 4, 7, 8, 59, tzinfo=damascus)) == ()  # 05:59Z
    assert r.on_shift(1, datetime(2017, 4, 7, 9, 0, tzinfo=damascus)) == ("prn_day",)  # 06:00Z
    assert r.on_shift(1, datetime(2017, 4, 7, 20, 59, tzinfo=damascus)) == ("prn_day",)
    assert r.on_shift(1, datetime(2017, 4, 7, 21, 0, tzinfo=damascus)) == ()  # 18:00Z


def test_levels_with_nobody_on_shift_are_gaps() -> None:
    r = parse_roster(
        "un",
        roster_of(
            [("prn_day", "06:00-18:00"), ("prn_night", "18:00-06:00")],
            [("prn_senior_day", "06:00-18:00")],
            [],
        ),
    )
    assert r.top == 3
    assert r.gaps(at(12)) == [3]
    assert r.gaps(at(20)) == [2, 3]
    assert r.on_shift(4, at(12)) == ()
    assert parse_roster("un", roster_of([("prn_a", "00:00-00:00")])).gaps(at(3)) == []


def test_a_party_without_roster_has_one_level_and_it_is_a_gap() -> None:
    empty = Roster("un", ())
    assert (empty.top, empty.gaps(at(12)), empty.on_shift(1, at(12))) == (1, [1], ())


def test_a_roster_reads_back_as_it_was_written() -> None:
    raw = roster_of(
        [("prn_a", "06:00-18:00"), ("prn_b", "18:00-06:00")], [("prn_c", "00:00-00:00")]
    )
    r = parse_roster("un", raw)
    wire = r.to_json()
    assert [lvl["level"] for lvl in wire["levels"]] == [1, 2]
    for level in wire["levels"]:
        del level["level"]
    assert parse_roster("un", {"levels": wire["levels"]}) == r
    assert wire["levels"] == raw["levels"]


M0 = "/levels/0/members/0"

# Unknown and missing members of a roster, level or member are in test_bad_input.py's table.
BAD_ROSTERS: list[tuple[str, Any, str, str]] = [
    ("not_an_object", [], "", "type"),
    ("no_levels", {"levels": []}, "/levels", "length"),
    ("levels_not_a_list", {"levels": {"name": "x"}}, "/levels", "length"),
    ("too_many_levels", roster_of(*[[] for _ in range(MAX_LEVELS + 1)]), "/levels", "length"),
    ("level_not_an_object", {"levels": ["duty"]}, "/levels/0", "type"),
    (
        "level_name_too_long",
        {"levels": [{"name": "x" * 101, "members": []}]},
        "/levels/0/name",
        "length",
    ),
    (
        "members_not_a_list",
        {"levels": [{"name": "a", "members": "prn_a"}]},
        "/levels/0/members",
        "length",
    ),
    (
        "too_many_members",
        roster_of([(f"prn_{i}", "00:00-00:00") for i in range(MAX_MEMBERS + 1)]),
        "/levels/0/members",
        "length",
    ),
    ("principal_not_text", roster_of([(7, "00:00-00:00")]), f"{M0}/principal", "type"),
    ("shift_24_00", roster_of([("prn_a", "18:00-24:00")]), f"{M0}/shift", "shift"),
    ("shift_without_minutes", roster_of([("prn_a", "6-18")]), f"{M0}/shift", "shift"),
    ("shift_with_offset", roster_of([("prn_a", "06:00+03:00-18:00")]), f"{M0}/shift", "shift"),
    ("shift_minute_60", roster_of([("prn_a", "06:60-18:00")]), f"{M0}/shift", "shift"),
    ("shift_not_text", roster_of([("prn_a", 600)]), f"{M0}/shift", "shift"),
]


@pytest.mark.parametrize(
    ("raw", "field", "rule"), [pytest.param(*c[1:], id=c[0]) for c in BAD_ROSTERS]
)
def test_a_bad_roster_names_the_field_and_rule(raw: Any, field: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_roster("un", raw)
    first = raised.value.errors[0]
    assert (first.field, first.rule) == (field, rule)


def test_every_broken_rule_of_a_roster_is_reported_at_once() -> None:
    raw = roster_of([("prn_a", "6-18"), ("prn_b", "25:00-06:00")], [("prn_c", "bad")])
    with pytest.raises(InvalidInput) as raised:
        parse_roster("un", raw)
    assert [e.field for e in raised.value.errors] == [
        f"{M0}/shift",
        "/levels/0/members/1/shift",
        "/levels/1/members/0/shift",
    ]
