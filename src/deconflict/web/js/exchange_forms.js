// Pieces of the exchanges view: a list with a detail pane, labelled inputs, a template picker
// with its fields, and redraws that keep what the user is typing.
import { el } from "./api.js";
import { arrowKeys } from "./inbox_format.js";

// A list of items (each a button in an <li data-KEY-id>) beside a detail pane.
export function board(container, { key, heading, newLabel, onNew, row, order, onSelect }) {
  const items = new Map();
  let selected = null;
  const list = el("ul", { class: "item-list", id: `${key}-list`, "aria-label": heading });
  const detail = el(
    "div",
    { class: "detail", id: `${key}-detail` },
    el("p", { class: "muted", text: `Select an item, or ${newLabel.toLowerCase()}.` }),
  );
  const attr = `data-${key}-id`;
  arrowKeys(list);
  const newButton = el("button", {
    type: "button",
    id: `${key}-new`,
    class: "primary",
    text: newLabel,
    onclick: () => {
      selected = null;
      mark();
      onNew(detail);
      const first = detail.querySelector("input, select, textarea");
      if (first) first.focus();
    },
  });
  container.append(
    el(
      "div",
      { class: "split" },
      el(
        "div",
        { class: "pane list-pane" },
        el("div", { class: "pane-head" }, el("h3", { text: heading }), newButton),
        list,
      ),
      el("div", { class: "pane detail-pane" }, detail),
    ),
  );

  function mark() {
    for (const b of list.querySelectorAll("button.item")) {
      if (b.parentElement.getAttribute(attr) === selected) b.setAttribute("aria-current", "true");
      else b.removeAttribute("aria-current");
    }
  }

  function render() {
    const focused =
      document.activeElement && list.contains(document.activeElement)
        ? document.activeElement.parentElement.getAttribute(attr)
        : null;
    const sorted = [...items.values()].sort(order);
    list.replaceChildren(
      ...sorted.map((item) =>
        el(
          "li",
          { [attr]: item.id },
          el(
            "button",
            {
              type: "button",
              class: "item",
              "aria-current": item.id === selected ? "true" : null,
              onclick: () => select(item.id),
            },
            row(item),
          ),
        ),
      ),
    );
    if (!sorted.length) list.append(el("li", { class: "muted empty", text: "None yet." }));
    if (focused) {
      const again = list.querySelector(`[${attr}="${focused}"] button`);
      if (again) again.focus();
    }
  }

  function select(id) {
    selected = id;
    mark();
    return onSelect(id, detail);
  }

  return {
    items,
    detail,
    render,
    select,
    get selected() {
      return selected;
    },
    // A newer state of an item; returns true when it is the one whose detail is shown.
    upsert(item) {
      const old = items.get(item.id);
      if (old && (old.version || 0) > (item.version || 0)) return false;
      items.set(item.id, item);
      render();
      return selected === item.id;
    },
  };
}

// Redraw `box` with draw(), keeping the values typed into its inputs and the focus.
export function keepTyping(box, draw) {
  const saved = [...box.querySelectorAll("textarea[id], input[id]:not([type=checkbox])")].map((x) => [x.id, x.value]);
  const focus = document.activeElement && box.contains(document.activeElement) ? document.activeElement.id : null;
  draw();
  for (const [id, value] of saved) {
    const x = document.getElementById(id);
    if (x && box.contains(x) && value) x.value = value;
  }
  if (focus) {
    const x = document.getElementById(focus);
    if (x && box.contains(x)) x.focus();
  }
}

// A label and its control, stacked.
export function labelled(text, control, hint) {
  return el(
    "div",
    { class: "field" },
    el("label", { for: control.id, text }),
    control,
    hint ? el("span", { class: "muted hint", text: hint }) : null,
  );
}

export function input(id, pointer, attrs) {
  return el("input", Object.assign({ id, name: id, "data-pointer": pointer, autocomplete: "off" }, attrs || {}));
}

// Now, to the minute, as RFC 3339 UTC.
export function nowIso() {
  return new Date().toISOString().replace(/:\d\d\.\d+Z$/, ":00Z");
}

// A select of templates (the ones with request === wantRequest) or free text, the inputs for
// the chosen template's fields and a preview of the sentence; value() gives the body part.
export function templatePicker(prefix, templates, wantRequest) {
  const usable = templates.filter((t) => t.request === wantRequest);
  const select = el(
    "select",
    { id: `${prefix}-template`, "data-pointer": "/template" },
    el("option", { value: "", text: "Free text" }),
    usable.map((t) => el("option", { value: t.name, text: t.name.replace(/_/g, " ") })),
  );
  const fields = el("div", { class: "template-fields", id: `${prefix}-fields` });
  const preview = el("p", { class: "preview", id: `${prefix}-preview`, "aria-live": "polite" });
  const text = el("textarea", { id: `${prefix}-text`, rows: "4", maxlength: "4000", "data-pointer": "/text" });
  const textField = labelled("Text", text);

  function chosen() {
    return usable.find((t) => t.name === select.value) || null;
  }
  function show() {
    const t = chosen();
    textField.hidden = Boolean(t);
    fields.replaceChildren(
      ...(t
        ? t.fields.map((f) => labelled(f, input(`${prefix}-field-${f}`, `/fields/${f}`, { oninput: update })))
        : []),
    );
    update();
  }
  function update() {
    const t = chosen();
    preview.hidden = !t;
    if (t)
      preview.textContent = t.text.replace(
        /\{(\w+)\}/g,
        (_, f) => fields.querySelector(`#${prefix}-field-${f}`).value || `{${f}}`,
      );
  }
  select.addEventListener("change", show);
  show();
  return {
    nodes: [labelled("Template", select), fields, preview, textField],
    value() {
      const t = chosen();
      if (!t) return { text: text.value };
      const values = {};
      for (const f of t.fields) values[f] = fields.querySelector(`#${prefix}-field-${f}`).value;
      return { template: t.name, fields: values };
    },
  };
}
