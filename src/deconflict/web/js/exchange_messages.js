// Messages: those the party sent or received, and sending one with a template and its fields
// (both sides read the same sentence) or free text when no template fits.
import { el, utc } from "./api.js";
import { board, labelled, templatePicker } from "./exchange_forms.js";
import { facts, partyOptions, problemBox, showProblem } from "./inbox_format.js";

export function mountMessages(container, ctx, shared) {
  const b = board(container, {
    key: "message",
    heading: "Messages",
    newLabel: "Write a message",
    onNew: newForm,
    order: (x, y) => (x.sent_at < y.sent_at ? 1 : -1),
    row: (m) => [
      el(
        "span",
        { class: "line" },
        el("strong", { text: m.party === ctx.me.party ? `To ${m.to}` : `From ${m.party}` }),
        " ",
        el("span", { class: "summary", text: m.text }),
      ),
      el(
        "span",
        { class: "line meta" },
        el("span", { text: utc(m.sent_at) }),
        m.template ? el("span", { class: "muted", text: m.template }) : null,
      ),
    ],
    onSelect: open,
  });

  async function open(id, detail) {
    let m = b.items.get(id);
    try {
      m = (await ctx.api.request("GET", `/v1/messages/${encodeURIComponent(id)}`)).body;
    } catch (err) {
      detail.replaceChildren(problemBox("message-open-problems"));
      showProblem(detail.firstChild, err);
      return;
    }
    if (b.selected !== id) return;
    const reply = m.party !== ctx.me.party;
    detail.replaceChildren(
      el(
        "article",
        { "data-detail-id": m.id },
        el("h3", { text: m.party === ctx.me.party ? `Message to ${m.to}` : `Message from ${m.party}` }),
        el(
          "div",
          { class: "actions" },
          el("button", {
            type: "button",
            id: "message-record",
            text: "Record",
            onclick: () => ctx.open("record", m.id),
          }),
          reply
            ? el("button", {
                type: "button",
                id: "message-answer",
                text: `Write to ${m.party}`,
                onclick: () => newForm(b.detail, m.party),
              })
            : null,
        ),
        facts([
          ["From", m.party],
          ["To", m.to],
          ["Text", el("div", { class: "text", text: m.text })],
          ["Template", m.template],
          [
            "Fields",
            m.fields
              ? Object.entries(m.fields)
                  .map(([k, v]) => `${k}: ${v}`)
                  .join("; ")
              : null,
          ],
          ["Sent", utc(m.sent_at)],
          ["Sent by", m.sent_by],
        ]),
      ),
    );
  }

  function newForm(detail, toParty) {
    const to = el("select", { id: "message-to", "data-pointer": "/to" }, partyOptions(shared.parties, ctx.me, toParty));
    const picker = templatePicker("message", shared.templates, false);
    const submit = el("button", { type: "submit", id: "message-submit", class: "primary", text: "Send" });
    const box = problemBox("message-problems");
    const form = el(
      "form",
      { id: "message-form", class: "panel form" },
      el("h3", { text: "Write to another party" }),
      labelled("To", to),
      ...picker.nodes,
      el("div", { class: "actions" }, submit),
      box,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      submit.disabled = true;
      showProblem(box, null, form);
      try {
        const res = await ctx.api.request("POST", "/v1/messages", {
          body: Object.assign({ to: to.value }, picker.value()),
        });
        b.upsert(res.body.message);
        await b.select(res.body.message.id);
        ctx.toast(`Message sent; ${res.body.message.to} is told.`);
      } catch (err) {
        showProblem(box, err, form);
      } finally {
        submit.disabled = false;
      }
    });
    detail.replaceChildren(form);
    if (toParty) to.focus();
  }

  return {
    async load() {
      for (const m of await ctx.api.all("/v1/messages")) b.items.set(m.id, m);
      b.render();
    },
    upsert(m) {
      if (m && m.id) b.upsert(m);
    },
    show(id) {
      return b.select(id);
    },
  };
}
