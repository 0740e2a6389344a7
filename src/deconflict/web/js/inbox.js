// The inbox: the party's notifications, unacknowledged first, by severity then deadline, each
// with a live countdown; one read in full with its escalation history, delivery and
// acknowledgement, and acknowledged (with an optional reply) against the version read.
// Live: notification and escalation events update the list in place.
import { ApiError, el } from "./api.js";
import { bodyView, exchangeOf, subjectLabel, summary } from "./inbox_bodies.js";
import { escalationTable, newer, order, statusFacts } from "./inbox_status.js";
import {
  WRITER_ROLES,
  arrowKeys,
  countdown,
  noteServerDate,
  problemBox,
  serverNow,
  showProblem,
  tickCountdowns,
  words,
} from "./inbox_format.js";

const MAX_ITEMS = 5000;

export function mount(section, ctx) {
  const items = new Map();
  const parties = new Map();
  let selected = null; // id of the notification chosen in the list
  let shown = null; // {id, version} of what the detail pane shows (and would acknowledge)
  let loaded = null; // the first load's promise
  let ready = false;
  const canAck = WRITER_ROLES.has(ctx.me.role);
  const freshUntil = new Map(); // id -> ms until which a new or escalated row stands out

  const list = el("ul", { class: "item-list", id: "inbox-list", "aria-label": "Notifications" });
  const tally = el("p", { class: "muted tally", id: "inbox-tally", "aria-live": "polite" });
  const filter = el(
    "select",
    { id: "inbox-filter", "aria-label": "Which notifications", onchange: () => renderList() },
    el("option", { value: "all", text: "All" }),
    el("option", { value: "open", text: "Unacknowledged" }),
    el("option", { value: "acknowledged", text: "Acknowledged" }),
  );
  const refresh = el("button", { type: "button", id: "inbox-refresh", text: "Refresh", onclick: () => load() });
  const detail = el(
    "div",
    { class: "detail", id: "inbox-detail", "aria-live": "off" },
    el("p", { class: "muted", text: "Select a notification to read it." }),
  );
  arrowKeys(list);
  section.append(
    el(
      "div",
      { class: "split inbox" },
      el(
        "div",
        { class: "pane list-pane" },
        el("div", { class: "pane-head" }, el("h2", { text: "Inbox" }), filter, refresh),
        tally,
        list,
      ),
      el("div", { class: "pane detail-pane" }, detail),
    ),
  );

  function badge() {
    const open = [...items.values()].filter((n) => n.state !== "acknowledged");
    const box = document.getElementById("inbox-count");
    if (box) {
      box.textContent = String(open.length);
      box.hidden = open.length === 0;
      box.title = `${open.length} unacknowledged`;
    }
    const overdue = open.filter((n) => n.deadline && Date.parse(n.deadline) < serverNow()).length;
    tally.textContent = `${open.length} unacknowledged${overdue ? `, ${overdue} overdue` : ""}, ${items.size} in all`;
  }

  function row(n) {
    const acked = n.state === "acknowledged";
    return el(
      "li",
      {
        "data-notification-id": n.id,
        "data-severity": n.severity,
        "data-state": n.state,
        class: [acked ? "acked" : "", (freshUntil.get(n.id) || 0) > Date.now() ? "fresh" : ""].join(" ").trim() || null,
      },
      el(
        "button",
        {
          type: "button",
          class: "item",
          "aria-current": n.id === selected ? "true" : null,
          onclick: () => select(n.id),
        },
        el(
          "span",
          { class: "line" },
          el("span", { class: `sev ${n.severity}`, text: n.severity }),
          " ",
          el("strong", { text: subjectLabel(n.subject) }),
          " ",
          el("span", { class: "summary", text: summary(n, ctx.me) }),
        ),
        el(
          "span",
          { class: "line meta" },
          countdown(n.deadline, acked ? "acknowledged" : null),
          el("span", { class: "level", text: `level ${n.escalation_level}` }),
          el("span", { class: `state ${n.state}`, text: n.state }),
          n.version > 1 ? el("span", { class: "muted", text: `v${n.version}` }) : null,
        ),
      ),
    );
  }

  function renderList() {
    const focused =
      document.activeElement && document.activeElement.closest
        ? document.activeElement.closest("[data-notification-id]")
        : null;
    const want = filter.value;
    const shownItems = [...items.values()]
      .filter((n) => want === "all" || (want === "open") === (n.state !== "acknowledged"))
      .sort(order);
    list.replaceChildren(...shownItems.map(row));
    if (!shownItems.length) list.append(el("li", { class: "muted empty", text: ready ? "Nothing here." : "Loading…" }));
    if (focused && list.contains(focused) === false) {
      const again = list.querySelector(`[data-notification-id="${focused.dataset.notificationId}"] button`);
      if (again) again.focus();
    }
    badge();
  }

  // Keep the latest state of each notification; true when `n` changed what we hold.
  function upsert(n) {
    if (!n || n.party !== ctx.me.party) return false;
    const old = items.get(n.id);
    if (old && !newer(old, n)) return false;
    items.set(n.id, n);
    return true;
  }

  async function load() {
    const fetched = [];
    let cursor = null;
    try {
      do {
        const res = await ctx.api.request("GET", "/v1/notifications", { query: { limit: 1000, cursor } });
        noteServerDate(res.headers);
        fetched.push(...res.body.items);
        cursor = res.body.next;
      } while (cursor && fetched.length < MAX_ITEMS);
      if (!parties.size) {
        for (const p of await ctx.api.all("/v1/parties")) parties.set(p.id, p);
      }
    } catch (err) {
      ctx.toast(`Could not read the inbox: ${err.message}`, "error");
      return;
    }
    for (const n of fetched) upsert(n);
    ready = true;
    renderList();
    if (shown && items.has(shown.id)) refreshDetail(items.get(shown.id));
  }

  async function reread(id) {
    const res = await ctx.api.request("GET", `/v1/notifications/${encodeURIComponent(id)}`);
    const n = res.body;
    upsert(n);
    renderList();
    return items.get(id) || n;
  }

  async function select(id) {
    selected = id;
    for (const b of list.querySelectorAll("button.item")) {
      if (b.closest("[data-notification-id]").dataset.notificationId === id) b.setAttribute("aria-current", "true");
      else b.removeAttribute("aria-current");
    }
    if (items.has(id)) renderDetail(items.get(id));
    try {
      const n = await reread(id); // fetching delivers it, and gives the version we acknowledge
      if (selected === id) renderDetail(n);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) ctx.toast("That notification is not yours to read.", "error");
      else ctx.toast(`Could not read it: ${err.message}`, "error");
    }
  }

  function ackForm(n) {
    if (n.state === "acknowledged") return null;
    if (!canAck) return el("p", { class: "muted", text: `A ${words(ctx.me.role)} may read but not acknowledge.` });
    const reply = el("textarea", { id: "ack-reply", rows: "3", maxlength: "2000", "data-pointer": "/reply" });
    const button = el("button", {
      type: "submit",
      id: "ack-button",
      class: "primary",
      text: `Acknowledge version ${n.version}`,
    });
    const box = problemBox("ack-problems");
    const form = el(
      "form",
      { id: "ack-form", class: "panel form" },
      el("label", { for: "ack-reply", text: "Reply (optional, sent with the acknowledgement)" }),
      reply,
      el("div", { class: "actions" }, button),
      box,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      acknowledge(form, reply, button, box);
    });
    return form;
  }

  async function acknowledge(form, reply, button, box) {
    if (!shown) return;
    const { id, version } = shown;
    const text = reply.value.trim();
    button.disabled = true;
    showProblem(box, null, form);
    try {
      const res = await ctx.api.request("POST", `/v1/notifications/${encodeURIComponent(id)}/ack`, {
        body: text ? { reply: text } : {},
        headers: { "If-Match": `"${version}"` },
      });
      upsert(res.body.notification);
      renderList();
      renderDetail(items.get(id), { keepReply: false });
      ctx.toast(`Acknowledged${text ? " with your reply" : ""}.`);
      const again = list.querySelector(`[data-notification-id="${id}"] button`);
      if (again) again.focus();
    } catch (err) {
      if (err instanceof ApiError && (err.status === 412 || err.status === 409)) {
        let fresh = null;
        try {
          fresh = await reread(id);
        } catch (readErr) {
          showProblem(box, readErr, form);
          return;
        }
        const why =
          err.status === 412
            ? `It was revised since you read it (now version ${fresh.version}): read it again, then acknowledge.`
            : `It was acknowledged already${fresh.acknowledged_by ? ` by ${fresh.acknowledged_by}` : ""}.`;
        renderDetail(fresh, { keepReply: true });
        const newBox = detail.querySelector("#ack-problems");
        const target = newBox || detail.querySelector("#ntf-note");
        target.replaceChildren(el("p", { class: "problem-title", text: why }));
        ctx.toast(why, "error");
      } else {
        showProblem(box, err, form);
      }
    } finally {
      button.disabled = false;
    }
  }

  // The whole detail of `n`; keeps a reply being typed (and its focus) when it is redrawn.
  function renderDetail(n, { keepReply = true } = {}) {
    const oldReply = detail.querySelector("#ack-reply");
    const typed = keepReply && oldReply && shown && shown.id === n.id ? oldReply.value : "";
    const focused = oldReply && document.activeElement === oldReply;
    shown = { id: n.id, version: n.version };
    const target = exchangeOf(n);
    // the ledger knows a conflict by its id; a line test by the notification (it has no object)
    const recordId = n.conflict_id || (n.subject_id.includes("/") ? n.id : n.subject_id);
    const actions = el(
      "div",
      { class: "actions" },
      recordId
        ? el("button", {
            type: "button",
            id: "ntf-record",
            text: "Record",
            title: "The ledger entries about it",
            onclick: () => ctx.open("record", recordId),
          })
        : null,
      target
        ? el("button", {
            type: "button",
            id: "ntf-open-exchange",
            text: `Open in ${target.tab}`,
            onclick: () => ctx.open("exchanges", target),
          })
        : null,
    );
    detail.replaceChildren(
      el(
        "article",
        { "data-detail-id": n.id, "data-version": String(n.version) },
        el(
          "header",
          { class: "detail-head" },
          el("span", { class: `sev ${n.severity}`, text: n.severity }),
          el("h3", { text: `${subjectLabel(n.subject)}: ${summary(n, ctx.me)}` }),
        ),
        actions,
        el("div", { id: "ntf-note", class: "note", role: "status" }),
        el("section", { class: "body", id: "ntf-body" }, bodyView(n, parties)),
        el("h4", { text: "Delivery and acknowledgement" }),
        el("section", { id: "ntf-status" }, statusFacts(n, ctx.me)),
        escalationTable(n, ctx.me),
        ackForm(n),
      ),
    );
    const reply = detail.querySelector("#ack-reply");
    if (reply && typed) reply.value = typed;
    if (reply && focused) reply.focus();
  }

  // A live change of the notification on screen: redraw it unless it was revised, in which
  // case the reader is told and keeps what was read (an acknowledgement of it gets 412).
  function refreshDetail(n) {
    if (!shown || shown.id !== n.id) return;
    if (n.version === shown.version) {
      renderDetail(n);
      return;
    }
    const note = detail.querySelector("#ntf-note");
    if (!note || note.querySelector("#ntf-show-revision")) return;
    note.replaceChildren(
      el("span", { text: `Revised since you opened it: version ${n.version} is current. ` }),
      el("button", {
        type: "button",
        id: "ntf-show-revision",
        text: "Show the new version",
        onclick: () => renderDetail(items.get(n.id)),
      }),
    );
  }

  function receive(n, escalation) {
    const fresh = !items.has(n.id);
    if (!upsert(n)) return;
    renderList();
    refreshDetail(items.get(n.id));
    if (fresh || escalation) {
      freshUntil.set(n.id, Date.now() + 3000);
      const flash = list.querySelector(`[data-notification-id="${n.id}"]`);
      if (flash) flash.classList.add("fresh");
    }
    if (fresh && ready && n.severity !== "info")
      ctx.toast(`New ${n.severity} ${subjectLabel(n.subject).toLowerCase()}: ${summary(n, ctx.me)}`);
    else if (escalation)
      ctx.toast(
        `${escalation.reminder ? "Reminder" : "Escalated"} (level ${escalation.level}): ${summary(n, ctx.me)}`,
        "error",
      );
  }

  ctx.on("notification", (kind, n) => receive(n, null));
  ctx.on("escalation", (kind, data) => data && data.notification && receive(data.notification, data.escalation));
  setInterval(() => {
    tickCountdowns(section);
    if (!section.hidden) badge();
  }, 1000);
  renderList();
  loaded = load();

  return {
    async show(arg) {
      await loaded;
      if (typeof arg === "string" && arg) select(arg);
    },
  };
}
