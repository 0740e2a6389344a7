// Permission requests: those the party made or was asked, made from here with a request
// template or free text, and approved or denied against the version read (If-Match).
import { ApiError, el } from "./api.js";
import { board, input, keepTyping, labelled, templatePicker } from "./exchange_forms.js";
import { requestFacts } from "./inbox_bodies.js";
import { WRITER_ROLES, countdown, partyOptions, problemBox, showProblem, words } from "./inbox_format.js";

const DEFAULT_MINUTES = 15;

function versionOf(res) {
  const tag = res.headers.get("etag");
  const v = tag ? Number(tag.replace(/^W\//, "").replace(/"/g, "")) : NaN;
  return Number.isFinite(v) ? v : res.body.version;
}

export function mountRequests(container, ctx, shared) {
  const writer = WRITER_ROLES.has(ctx.me.role);
  let read = null; // {id, version} of the request whose detail is shown
  const b = board(container, {
    key: "request",
    heading: "Requests",
    newLabel: "Make a request",
    onNew: newForm,
    // pending first, the nearest deadline first; then the newest
    order: (x, y) =>
      (x.state === "pending" ? 0 : 1) - (y.state === "pending" ? 0 : 1) ||
      (x.state === "pending" ? (x.respond_by < y.respond_by ? -1 : 1) : x.created_at < y.created_at ? 1 : -1),
    row: (r) => [
      el(
        "span",
        { class: "line" },
        el("strong", { text: r.party === ctx.me.party ? `To ${r.to}` : `From ${r.party}` }),
        " ",
        el("span", { class: "summary", text: r.text }),
      ),
      el(
        "span",
        { class: "line meta" },
        el("span", { class: `state ${r.state}`, text: r.state }),
        countdown(r.respond_by, r.state === "pending" ? null : words(r.state)),
      ),
    ],
    onSelect: open,
  });

  async function open(id, detail) {
    try {
      const res = await ctx.api.request("GET", `/v1/requests/${encodeURIComponent(id)}`);
      b.items.set(res.body.id, res.body);
      b.render();
      if (b.selected === id) draw(res.body, versionOf(res), detail);
    } catch (err) {
      detail.replaceChildren(problemBox("request-open-problems"));
      showProblem(detail.firstChild, err);
    }
  }

  function draw(r, version, detail) {
    read = { id: r.id, version };
    keepTyping(detail, () =>
      detail.replaceChildren(
        el(
          "article",
          { "data-detail-id": r.id, "data-version": String(version) },
          el("h3", { text: r.party === ctx.me.party ? `Your request to ${r.to}` : `Request from ${r.party}` }),
          el(
            "div",
            { class: "actions" },
            el("button", {
              type: "button",
              id: "request-record",
              text: "Record",
              onclick: () => ctx.open("record", r.id),
            }),
          ),
          el("div", { id: "request-note", class: "note", role: "status" }),
          requestFacts(r, shared.partyMap),
          r.state === "pending" ? el("p", {}, "Time left to answer: ", countdown(r.respond_by)) : null,
          answerForm(r),
        ),
      ),
    );
  }

  function answerForm(r) {
    if (r.state !== "pending") return null;
    if (r.to !== ctx.me.party) return el("p", { class: "muted", text: `Waiting for ${r.to} to answer.` });
    if (!writer) return el("p", { class: "muted", text: `A ${words(ctx.me.role)} may read but not answer.` });
    const text = el("textarea", { id: "answer-text", rows: "3", maxlength: "4000", "data-pointer": "/text" });
    const approve = el("button", {
      type: "submit",
      id: "answer-approve",
      class: "primary",
      value: "approve",
      text: "Approve",
    });
    const deny = el("button", { type: "submit", id: "answer-deny", class: "danger", value: "deny", text: "Deny" });
    const box = problemBox("answer-problems");
    const form = el(
      "form",
      { id: "answer-form", class: "panel form" },
      labelled("Answer (optional text)", text),
      el("div", { class: "actions" }, approve, deny),
      box,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const decision = event.submitter ? event.submitter.value : "approve";
      const { id, version } = read;
      const body = { decision };
      if (text.value.trim()) body.text = text.value;
      approve.disabled = deny.disabled = true;
      showProblem(box, null, form);
      try {
        const res = await ctx.api.request("POST", `/v1/requests/${encodeURIComponent(id)}/answer`, {
          body,
          headers: { "If-Match": `"${version}"` },
        });
        b.upsert(res.body.request);
        draw(res.body.request, res.body.request.version, b.detail);
        ctx.toast(`Request ${res.body.request.state}; ${res.body.request.party} is told.`);
      } catch (err) {
        if (err instanceof ApiError && (err.status === 412 || err.status === 409)) {
          await open(id, b.detail);
          const why =
            err.status === 412
              ? "The request changed since you read it: read it again, then answer."
              : `It cannot be answered any more: ${err.problem && err.problem.detail ? err.problem.detail : "answered or expired"}.`;
          const note = b.detail.querySelector("#answer-problems") || b.detail.querySelector("#request-note");
          note.replaceChildren(el("p", { class: "problem-title", text: why }));
          ctx.toast(why, "error");
        } else {
          showProblem(box, err, form);
        }
      } finally {
        approve.disabled = deny.disabled = false;
      }
    });
    return form;
  }

  function newForm(detail) {
    read = null;
    const to = el("select", { id: "request-to", "data-pointer": "/to" }, partyOptions(shared.parties, ctx.me));
    const picker = templatePicker("request", shared.templates, true);
    const own = shared.declarations.filter((d) => d.party === ctx.me.party);
    const decl = el(
      "select",
      { id: "request-declaration", "data-pointer": "/declaration_id" },
      el("option", { value: "", text: "none" }),
      own.map((d) => el("option", { value: d.id, text: `${d.title || d.id} (${words(d.kind)})` })),
    );
    const minutes = input("request-minutes", "/respond_by", {
      type: "number",
      min: "1",
      max: String(7 * 24 * 60),
      value: String(DEFAULT_MINUTES),
    });
    const submit = el("button", { type: "submit", id: "request-submit", class: "primary", text: "Ask" });
    const box = problemBox("request-problems");
    const form = el(
      "form",
      { id: "request-form", class: "panel form" },
      el("h3", { text: "Ask another party for permission" }),
      labelled("To", to),
      ...picker.nodes,
      labelled("About your declaration (optional)", decl),
      labelled("Answer within (minutes)", minutes, "at most 7 days"),
      el("div", { class: "actions" }, submit),
      box,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = Object.assign({ to: to.value }, picker.value());
      if (decl.value) body.declaration_id = decl.value;
      const m = Number(minutes.value);
      if (minutes.value && Number.isFinite(m)) body.respond_by = new Date(Date.now() + m * 60000).toISOString();
      submit.disabled = true;
      showProblem(box, null, form);
      try {
        const res = await ctx.api.request("POST", "/v1/requests", { body });
        b.upsert(res.body.request);
        await b.select(res.body.request.id);
        ctx.toast(`Request sent; ${res.body.request.to} is told.`);
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
      for (const r of await ctx.api.all("/v1/requests")) b.items.set(r.id, r);
      b.render();
    },
    upsert(r) {
      // the detail shown is redrawn; an answer being written keeps its text, and a request
      // revised since it was read is read again so the answer goes against its version
      if (b.upsert(r)) open(r.id, b.detail);
    },
    show(id) {
      return b.select(id);
    },
  };
}
