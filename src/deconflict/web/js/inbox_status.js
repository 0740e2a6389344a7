// Where a notification stands: which state of it is the latest, the order the inbox works
// them in, its delivery and acknowledgement, and its escalation history.
import { SEVERITY_ORDER, el, utc } from "./api.js";
import { countdown, facts, noticeText } from "./inbox_format.js";

const STATE_RANK = { pending: 0, delivered: 1, acknowledged: 2 };

// True when `b` is the same notification as `a` or a later state of it.
export function newer(a, b) {
  if (b.version !== a.version) return b.version > a.version;
  const ta = Date.parse(a.updated_at);
  const tb = Date.parse(b.updated_at);
  if (tb !== ta) return tb > ta;
  return (STATE_RANK[b.state] ?? 0) >= (STATE_RANK[a.state] ?? 0);
}

// Unacknowledged first, then severity, then the nearest deadline (none last), newest first.
export function order(a, b) {
  const acked = (n) => (n.state === "acknowledged" ? 1 : 0);
  const deadline = (n) => (n.deadline ? Date.parse(n.deadline) : Infinity);
  return (
    acked(a) - acked(b) ||
    (SEVERITY_ORDER[a.severity] ?? 9) - (SEVERITY_ORDER[b.severity] ?? 9) ||
    (deadline(a) === deadline(b) ? 0 : deadline(a) < deadline(b) ? -1 : 1) ||
    Date.parse(b.updated_at) - Date.parse(a.updated_at) ||
    (a.id < b.id ? -1 : 1)
  );
}

export function escalationTable(n, me) {
  const rows = (n.escalations || []).map((e) =>
    el(
      "tr",
      {},
      el("td", { text: String(e.level) }),
      el("td", { text: utc(e.at) }),
      el("td", { text: e.reminder ? "reminder" : e.level === 1 ? "told" : "escalated" }),
      el(
        "td",
        {},
        e.notified.length
          ? e.notified.map((p) => (p === me.id ? "you" : p)).join(", ")
          : el("span", { class: "gap", text: "nobody on shift" }),
      ),
    ),
  );
  return el(
    "table",
    { class: "list escalations", id: "ntf-escalations" },
    el("caption", { text: "Escalation history" }),
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        el("th", { text: "Level" }),
        el("th", { text: "At" }),
        el("th", { text: "Step" }),
        el("th", { text: "Principals notified" }),
      ),
    ),
    el("tbody", {}, rows),
  );
}

export function statusFacts(n, me) {
  const who = (p) => (p === me.id ? `you (${p})` : p);
  return facts([
    ["State", el("span", { class: `state ${n.state}`, text: n.state })],
    ["Deadline", n.deadline ? el("span", {}, utc(n.deadline), " · ", countdown(n.deadline)) : "none"],
    ["Escalation level", String(n.escalation_level)],
    ["Version", String(n.version)],
    ["Told", utc(n.created_at)],
    [
      "Delivered",
      n.delivered_at ? `${utc(n.delivered_at)} to ${who(n.delivered_to)} via ${n.delivered_via}` : "not yet",
    ],
    ["Acknowledged", n.acknowledged_at ? `${utc(n.acknowledged_at)} by ${who(n.acknowledged_by)}` : "not yet"],
    ["Reply", n.reply ? el("div", { class: "text", id: "ntf-reply", text: n.reply }) : null],
    ["Notice given", noticeText(n.notice)],
  ]);
}
