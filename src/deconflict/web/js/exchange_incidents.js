// Incident reports: those the party reported or is named in, reported from here, and the
// named parties' replies (the right of reply).
import { el, utc } from "./api.js";
import { board, input, keepTyping, labelled, nowIso } from "./exchange_forms.js";
import { incidentFacts, repliesList } from "./inbox_bodies.js";
import { WRITER_ROLES, problemBox, showProblem, words } from "./inbox_format.js";

const KINDS = [
  "unsafe_intercept",
  "radar_lock_on",
  "airspace_violation",
  "strike_on_protected_object",
  "near_miss",
  "ground_confrontation",
  "other",
];

export function mountIncidents(container, ctx, shared) {
  const writer = WRITER_ROLES.has(ctx.me.role);
  const b = board(container, {
    key: "incident",
    heading: "Incident reports",
    newLabel: "Report an incident",
    onNew: newForm,
    order: (x, y) => (x.reported_at < y.reported_at ? 1 : -1),
    row: (i) => [
      el(
        "span",
        { class: "line" },
        el("strong", { text: words(i.kind, true) }),
        " ",
        el("span", { class: "summary", text: i.title }),
      ),
      el(
        "span",
        { class: "line meta" },
        el("span", { text: `${i.party} → ${i.parties.join(", ")}` }),
        el("span", { text: utc(i.occurred_at) }),
        el("span", { text: `${(i.replies || []).length} repl${(i.replies || []).length === 1 ? "y" : "ies"}` }),
      ),
    ],
    onSelect: open,
  });

  async function open(id, detail) {
    try {
      const incident = (await ctx.api.request("GET", `/v1/incidents/${encodeURIComponent(id)}`)).body;
      b.items.set(incident.id, incident);
      b.render();
      if (b.selected === id) draw(incident, detail);
    } catch (err) {
      detail.replaceChildren(problemBox("incident-open-problems"));
      showProblem(detail.firstChild, err);
    }
  }

  function draw(incident, detail) {
    keepTyping(detail, () =>
      detail.replaceChildren(
        el(
          "article",
          { "data-detail-id": incident.id },
          el("h3", { text: `${words(incident.kind, true)}: ${incident.title}` }),
          el(
            "div",
            { class: "actions" },
            el("button", {
              type: "button",
              id: "incident-record",
              text: "Record",
              onclick: () => ctx.open("record", incident.id),
            }),
          ),
          incidentFacts(incident, shared.partyMap),
          el("h4", { text: "Replies" }),
          repliesList(incident.replies),
          replyForm(incident),
        ),
      ),
    );
  }

  function replyForm(incident) {
    if (!incident.parties.includes(ctx.me.party)) {
      return el("p", {
        class: "muted",
        text: "Only the parties the report names may reply; the reporter and the relay read the replies.",
      });
    }
    if (!writer) return el("p", { class: "muted", text: `A ${words(ctx.me.role)} may read but not reply.` });
    const text = el("textarea", {
      id: "incident-reply",
      rows: "4",
      maxlength: "4000",
      required: true,
      "data-pointer": "/text",
    });
    const button = el("button", { type: "submit", id: "incident-reply-button", class: "primary", text: "Send reply" });
    const box = problemBox("incident-reply-problems");
    const form = el(
      "form",
      { id: "incident-reply-form", class: "panel form" },
      labelled(`Reply of ${ctx.me.party}`, text),
      el("div", { class: "actions" }, button),
      box,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      button.disabled = true;
      showProblem(box, null, form);
      try {
        const res = await ctx.api.request("POST", `/v1/incidents/${encodeURIComponent(incident.id)}/replies`, {
          body: { text: text.value },
        });
        text.value = "";
        b.upsert(res.body.incident);
        draw(res.body.incident, b.detail);
        ctx.toast("Reply sent; the parties concerned are told.");
      } catch (err) {
        showProblem(box, err, form);
      } finally {
        button.disabled = false;
      }
    });
    return form;
  }

  function newForm(detail) {
    const kind = el(
      "select",
      { id: "incident-kind", "data-pointer": "/kind" },
      KINDS.map((k) => el("option", { value: k, text: words(k, true) })),
    );
    const title = input("incident-title", "/title", { maxlength: "200", required: true });
    const description = el("textarea", {
      id: "incident-description",
      rows: "3",
      maxlength: "4000",
      "data-pointer": "/description",
    });
    const occurred = input("incident-occurred", "/occurred_at", { value: nowIso(), required: true });
    const lon = input("incident-lon", "/place/geometry/coordinates/0", {
      inputmode: "decimal",
      required: true,
      size: "10",
    });
    const lat = input("incident-lat", "/place/geometry/coordinates/1", {
      inputmode: "decimal",
      required: true,
      size: "10",
    });
    const buffer = input("incident-buffer", "/place/buffer_m", { inputmode: "numeric", value: "1000", size: "8" });
    const partyBoxes = el(
      "fieldset",
      { class: "checks", id: "incident-parties", "data-pointer": "/parties" },
      el("legend", { text: "Parties it concerns" }),
      shared.parties
        .filter((p) => p.id !== ctx.me.party)
        .map((p) =>
          el("label", {}, el("input", { type: "checkbox", name: "incident-party", value: p.id }), ` ${p.id}`),
        ),
    );
    const decls = el(
      "select",
      { id: "incident-declarations", multiple: true, size: "4", "data-pointer": "/declaration_ids" },
      shared.declarations.map((d) =>
        el("option", { value: d.id, text: `${d.title || d.id} (${d.party}, ${words(d.kind)})` }),
      ),
    );
    const submit = el("button", { type: "submit", id: "incident-submit", class: "primary", text: "Report" });
    const box = problemBox("incident-problems");
    const form = el(
      "form",
      { id: "incident-form", class: "panel form" },
      el("h3", { text: "Report an incident" }),
      labelled("Kind", kind),
      labelled("Title", title),
      labelled("Description", description),
      labelled("Occurred at (UTC, RFC 3339)", occurred),
      el(
        "div",
        { class: "row" },
        labelled("Longitude", lon),
        labelled("Latitude", lat),
        labelled("Uncertainty (m)", buffer),
      ),
      partyBoxes,
      labelled("Declarations it concerns (optional)", decls),
      el("div", { class: "actions" }, submit),
      box,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const num = (x) => (x.value.trim() === "" ? x.value : Number(x.value));
      const body = {
        kind: kind.value,
        title: title.value,
        occurred_at: occurred.value.trim(),
        place: { geometry: { type: "Point", coordinates: [num(lon), num(lat)] }, buffer_m: num(buffer) },
        parties: [...partyBoxes.querySelectorAll("input:checked")].map((x) => x.value),
      };
      if (description.value.trim()) body.description = description.value;
      const chosen = [...decls.selectedOptions].map((o) => o.value);
      if (chosen.length) body.declaration_ids = chosen;
      submit.disabled = true;
      showProblem(box, null, form);
      try {
        const res = await ctx.api.request("POST", "/v1/incidents", { body });
        b.upsert(res.body.incident);
        await b.select(res.body.incident.id);
        ctx.toast("Incident reported; the parties it names and the relay are told.");
      } catch (err) {
        showProblem(box, err, form);
      } finally {
        submit.disabled = false;
      }
    });
    detail.replaceChildren(form);
  }

  return {
    async load() {
      for (const i of await ctx.api.all("/v1/incidents")) b.items.set(i.id, i);
      b.render();
    },
    // An incident as a notification told it: newer than what we hold, or new.
    upsert(incident) {
      if (b.upsert(incident)) draw(incident, b.detail);
    },
    show(id) {
      return b.select(id);
    },
  };
}
