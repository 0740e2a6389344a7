// The "Roster and health" view: every party's link (suspension, last seen, line test, alarms),
// the caller's party's roster by UTC shift with who is on shift now, and the figures.
//
// Suspension is shown first and plainly: in 2017 a suspended line was the one fact every duty
// officer had to know. The view refreshes every REFRESH_MS while it is open, at once on the
// live stream's health and roster events, and keeps keyboard focus across refreshes.

import { ApiError, el, utc } from "./api.js";

const REFRESH_MS = 15000;
const EVENT_DEBOUNCE_MS = 250;

const ALARMS = {
  suspended: "suspended",
  nobody_on_shift: "nobody on shift",
  line_test_overdue: "line test overdue",
  not_seen: "not seen for 12 h",
};

// "HH:MM-HH:MM" (UTC, start included, end excluded, may cross midnight; equal ends: all day).
export function onShift(shift, now) {
  const match = /^(\d\d):(\d\d)-(\d\d):(\d\d)$/.exec(shift || "");
  if (!match) return false;
  const start = Number(match[1]) * 60 + Number(match[2]);
  const end = Number(match[3]) * 60 + Number(match[4]);
  const minute = now.getUTCHours() * 60 + now.getUTCMinutes();
  if (start === end) return true;
  return start < end ? minute >= start && minute < end : minute >= start || minute < end;
}

export function ago(fromIso, nowMs) {
  if (!fromIso) return "never";
  const s = Math.max(0, Math.round((nowMs - Date.parse(fromIso)) / 1000));
  if (s < 90) return "just now";
  const m = Math.round(s / 60);
  if (m < 90) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.round(h / 24)} days ago`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function problemText(err) {
  if (err instanceof ApiError) return `${err.message} (HTTP ${err.status})`;
  return err && err.message ? err.message : String(err);
}

export function mount(section, ctx) {
  const { api, me } = ctx;
  const status = el("p", { id: "channel-status", class: "muted channel-status" });
  const banner = el("div", { id: "channel-suspensions", class: "suspensions", "aria-live": "assertive" });
  const healthBox = el("div", { id: "channel-health" });
  const rosterBox = el("div", { id: "channel-roster" });
  const figuresBox = el("div", { id: "channel-figures" });
  const adminBox = el("div", { id: "channel-admin" });
  const refreshButton = el("button", { type: "button", id: "channel-refresh", text: "Refresh" });

  section.classList.add("channel-view");
  section.append(
    el(
      "div",
      { class: "channel-head" },
      el("h2", { text: "Roster and channel health" }),
      refreshButton,
      status,
    ),
    banner,
    el(
      "div",
      { class: "channel-grid" },
      el(
        "div",
        { class: "panel channel-health-panel" },
        el("h3", { text: "Every party's link" }),
        healthBox,
        adminBox,
      ),
      el("div", { class: "panel channel-roster-panel" }, el("h3", { text: `Roster of ${me.party}` }), rosterBox),
      el("div", { class: "panel channel-figures-panel" }, el("h3", { text: "Figures" }), figuresBox),
    ),
  );

  let health = null;
  let roster = null;
  let figures = null;
  let bannerKey = "";
  let debounce = null;
  let timer = null;

  // Replace a box's content; give focus back to the same control if it had it.
  function swap(box, ...children) {
    const active = document.activeElement;
    const key = active && box.contains(active) ? active.dataset.focusKey : null;
    box.replaceChildren(...children.filter((child) => child !== null && child !== undefined));
    if (key) {
      const again = box.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
      if (again) again.focus();
    }
  }

  function serverNow() {
    // The service's clock, not the browser's: an operations centre's screens may drift.
    if (health && health.generated_at) return Date.parse(health.generated_at) + (Date.now() - health.fetchedAt);
    return Date.now();
  }

  function renderBanner() {
    const suspended = (health ? health.parties : []).filter((p) => p.suspended);
    const key = suspended.map((p) => `${p.id}@${p.suspended.since}`).join(",");
    if (key === bannerKey) return;
    bannerKey = key;
    banner.replaceChildren(
      ...suspended.map((p) =>
        el(
          "div",
          { class: "suspension-banner", "data-party": p.id },
          el("strong", { text: "SUSPENDED" }),
          " ",
          el("span", {
            text: `${p.id === me.party ? "Your party" : p.name} (${p.id}) suspended its participation at ${utc(p.suspended.since)}`,
          }),
          p.suspended.reason ? el("span", { class: "reason", text: `: ${p.suspended.reason}` }) : null,
          el("span", { class: "muted", text: ` — by ${p.suspended.by}. The channel goes on for everyone else.` }),
        ),
      ),
    );
  }

  function renderHealth() {
    if (!health) return;
    const now = serverNow();
    const rows = health.parties.map((p) => {
      const own = p.id === me.party;
      const test = p.line_test;
      return el(
        "tr",
        { "data-party": p.id, class: p.suspended ? "is-suspended" : null },
        el("th", { scope: "row" }, el("div", { text: p.name }), el("div", { class: "muted", text: own ? `${p.id} (you)` : p.id })),
        el(
          "td",
          { class: "state" },
          p.suspended
            ? [
                el("span", { class: "state-badge suspended", text: "Suspended" }),
                el("div", { class: "muted", text: `since ${utc(p.suspended.since)}` }),
              ]
            : el("span", { class: "state-badge active", text: "Active" }),
        ),
        el(
          "td",
          { class: "last-seen" },
          el("time", { datetime: p.last_seen || "", text: p.last_seen ? utc(p.last_seen) : "never" }),
          el("div", { class: "muted", text: p.last_seen ? ago(p.last_seen, now) : "" }),
        ),
        el(
          "td",
          { class: "line-test" },
          test
            ? [
                el("div", { text: `${test.state} · sent ${utc(test.sent_at)}` }),
                test.acknowledged_at ? el("div", { class: "muted", text: `acknowledged ${utc(test.acknowledged_at)}` }) : null,
              ]
            : el("span", { class: "muted", text: "none yet" }),
        ),
        el(
          "td",
          { class: "alarms" },
          p.alarms.length
            ? p.alarms.map((a) => el("span", { class: `alarm alarm-${a}`, text: ALARMS[a] || a }))
            : el("span", { class: "muted", text: "none" }),
          own && p.roster_gaps && p.roster_gaps.length
            ? el("div", { class: "gaps", text: `nobody on shift at level ${p.roster_gaps.join(", ")}` })
            : null,
        ),
      );
    });
    swap(
      healthBox,
      el(
        "table",
        { class: "list", id: "health-table" },
        el(
          "thead",
          {},
          el(
            "tr",
            {},
            ["Party", "State", "Last seen (UTC)", "Line test", "Alarms"].map((h) => el("th", { scope: "col", text: h })),
          ),
        ),
        el("tbody", {}, rows),
      ),
    );
    renderAdmin();
  }

  function renderAdmin() {
    if (me.role !== "party_admin" || !health) return;
    const mine = health.parties.find((p) => p.id === me.party);
    const suspended = Boolean(mine && mine.suspended);
    if (adminBox.dataset.suspended === String(suspended)) return; // keep a reason being typed
    adminBox.dataset.suspended = String(suspended);
    if (suspended) {
      adminBox.replaceChildren(
        el(
          "div",
          { class: "admin-row" },
          el("span", { text: "Your party's participation is suspended." }),
          el("button", { type: "button", id: "channel-resume", class: "primary", onclick: resume, text: "Resume participation" }),
        ),
      );
      return;
    }
    const reason = el("input", { id: "suspend-reason", name: "reason", required: true, maxlength: "4000", autocomplete: "off" });
    adminBox.replaceChildren(
      el(
        "form",
        { class: "admin-row", id: "suspend-form", onsubmit: (event) => suspend(event, reason) },
        el("label", { for: "suspend-reason", text: "Suspend your party's participation, reason:" }),
        reason,
        el("button", { type: "submit", class: "danger", text: "Suspend" }),
      ),
    );
  }

  async function suspend(event, reason) {
    event.preventDefault();
    const text = reason.value.trim();
    if (!text) {
      reason.focus();
      return;
    }
    try {
      await api.post("/v1/suspension", { reason: text });
      ctx.toast("Your party's participation is suspended; every party sees it.");
    } catch (err) {
      ctx.toast(`Not suspended: ${problemText(err)}`, "error");
    }
    refresh(["health"]);
  }

  async function resume() {
    try {
      await api.request("DELETE", "/v1/suspension");
      ctx.toast("Your party's participation is resumed.");
    } catch (err) {
      ctx.toast(`Not resumed: ${problemText(err)}`, "error");
    }
    refresh(["health"]);
  }

  function renderRoster() {
    if (!roster) return;
    const now = new Date(serverNow());
    const gaps = new Set(roster.gaps || []);
    if (!roster.levels.length) {
      swap(
        rosterBox,
        el("p", { class: "roster-empty", text: "No roster: nobody is on call by shift, so an escalation past level 1 reaches nobody." }),
        gaps.size ? el("p", { class: "gaps", text: `Nobody on shift now at level ${[...gaps].join(", ")}.` }) : null,
      );
      return;
    }
    const rows = [];
    roster.levels.forEach((level, i) => {
      const n = level.level || i + 1;
      const members = level.members || [];
      const head = el(
        "th",
        { scope: "rowgroup", rowspan: String(Math.max(1, members.length)) },
        el("div", { text: `${n}. ${level.name}` }),
        gaps.has(n) ? el("div", { class: "gaps", text: "nobody on shift now" }) : null,
      );
      if (!members.length) {
        rows.push(el("tr", { "data-level": String(n), class: "gap" }, head, el("td", { colspan: "3", class: "muted", text: "nobody" })));
        return;
      }
      members.forEach((m, j) => {
        const on = onShift(m.shift, now);
        rows.push(
          el(
            "tr",
            { "data-level": String(n), "data-principal": m.principal, class: [gaps.has(n) ? "gap" : "", on ? "on-shift" : ""].join(" ").trim() || null },
            j === 0 ? head : null,
            el("td", { class: "mono", text: m.principal === me.id ? `${m.principal} (you)` : m.principal }),
            el("td", { text: m.shift }),
            el("td", {}, on ? el("span", { class: "on-shift-badge", text: "on shift" }) : el("span", { class: "muted", text: "off" })),
          ),
        );
      });
    });
    swap(
      rosterBox,
      el(
        "table",
        { class: "list", id: "roster-table" },
        el("thead", {}, el("tr", {}, ["Level", "Principal", "Shift (UTC)", "Now"].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, rows),
      ),
    );
  }

  function figureRows(f) {
    const levels = Object.entries(f.escalations_by_level || {});
    const severities = Object.entries(f.by_severity || {});
    return [
      ["Notifications sent", f.sent],
      ["delivered", f.delivered],
      ["acknowledged", f.acknowledged],
      ["overdue (past a deadline)", f.overdue],
      ["time to acknowledge, median", duration(f.time_to_acknowledge_s && f.time_to_acknowledge_s.median)],
      ["time to acknowledge, 90th pct.", duration(f.time_to_acknowledge_s && f.time_to_acknowledge_s.p90)],
      ["escalations by level", levels.length ? levels.map(([k, v]) => `L${k}: ${v}`).join(", ") : "none"],
      ["reminders at the top", f.reminders],
      ["by severity", severities.length ? severities.map(([k, v]) => `${k} ${v}`).join(", ") : "—"],
    ];
  }

  function renderFigures() {
    if (!figures) return;
    const own = figureRows(figures.party);
    const all = figureRows(figures.channel);
    const table = el(
      "table",
      { class: "list figures-table", id: "figures-table" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "" }), el("th", { scope: "col", text: "Your party" }), el("th", { scope: "col", text: "Channel" }))),
      el(
        "tbody",
        {},
        own.map(([label, value], i) => el("tr", {}, el("th", { scope: "row", text: label }), el("td", { text: String(value) }), el("td", { text: String(all[i][1]) }))),
      ),
    );
    const objects = figures.protected_objects || [];
    const objectTable = objects.length
      ? el(
          "table",
          { class: "list", id: "protected-figures" },
          el("caption", { text: "Your protected objects" }),
          el("thead", {}, el("tr", {}, ["Object", "Notified", "Incidents", "after ack."].map((h) => el("th", { scope: "col", text: h })))),
          el(
            "tbody",
            {},
            objects.map((o) =>
              el(
                "tr",
                { "data-object": o.id },
                el(
                  "td",
                  {},
                  el("button", {
                    type: "button",
                    class: "linkish",
                    "data-focus-key": `record:${o.id}`,
                    title: "Show its record",
                    onclick: () => ctx.open("record", o.id),
                    text: o.title,
                  }),
                ),
                el(
                  "td",
                  {},
                  o.notified.length
                    ? o.notified.map((n) =>
                        el("div", { text: `${n.party}: ${n.state}${n.acknowledged_at ? ` ${utc(n.acknowledged_at)}` : ""}` }),
                      )
                    : el("span", { class: "muted", text: "released to nobody" }),
                ),
                el("td", { text: String(o.incidents) }),
                el("td", { class: o.incidents_after_acknowledgement ? "alarm-text" : null, text: String(o.incidents_after_acknowledgement) }),
              ),
            ),
          ),
        )
      : null;
    swap(figuresBox, table, objectTable);
  }

  const PATHS = { health: "/v1/health", roster: "/v1/roster", figures: "/v1/figures" };
  const latest = { health: 0, roster: 0, figures: 0 };

  // Fetch one resource; an answer overtaken by a later request for it is dropped.
  async function load(name) {
    const mine = ++latest[name];
    const fetchedAt = Date.now();
    const body = await api.get(PATHS[name]);
    if (mine !== latest[name]) return;
    if (name === "health") health = Object.assign(body, { fetchedAt });
    else if (name === "roster") roster = body;
    else figures = body;
  }

  async function refresh(what = Object.keys(PATHS)) {
    const results = await Promise.allSettled(what.map(load));
    const failed = results.filter((r) => r.status === "rejected").map((r) => problemText(r.reason));
    renderBanner();
    renderHealth();
    renderRoster();
    renderFigures();
    status.textContent = failed.length
      ? `Could not refresh: ${failed[0]}`
      : `Updated ${utc(new Date(serverNow()).toISOString())}; refreshed every ${REFRESH_MS / 1000} s and on live events.`;
    status.classList.toggle("error", failed.length > 0);
  }

  const pending = new Set();
  function soon(what) {
    for (const name of what) pending.add(name);
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      const names = [...pending];
      pending.clear();
      refresh(names);
    }, EVENT_DEBOUNCE_MS);
  }

  refreshButton.addEventListener("click", () => refresh());
  // Health changes are everyone's business: refresh even when the view is not open, so the
  // suspension banner is current the moment it is.
  ctx.on("health", () => soon(["health"]));
  ctx.on("roster", () => soon(["roster", "health"]));
  ctx.on("notification", () => {
    if (!section.hidden) soon(["figures"]);
  });

  return {
    show() {
      refresh();
      if (timer === null) {
        timer = setInterval(() => {
          if (!section.hidden) refresh();
        }, REFRESH_MS);
      }
    },
  };
}
