// The exchanges view: incident reports and replies, permission requests and their answers,
// messages with templates. Three panes behind one row of buttons; each keeps itself current
// from the notifications the party is told (their bodies are the incident, request, message).
import { el } from "./api.js";
import { mountIncidents } from "./exchange_incidents.js";
import { mountMessages } from "./exchange_messages.js";
import { mountRequests } from "./exchange_requests.js";

const PANES = [
  ["incidents", "Incidents"],
  ["requests", "Requests"],
  ["messages", "Messages"],
];
const SUBJECT_PANE = { incident: "incidents", request: "requests", message: "messages" };

export function mount(section, ctx) {
  const shared = { parties: [], partyMap: new Map(), templates: [], declarations: [] };
  const nav = el("nav", { class: "subtabs", "aria-label": "Incidents, requests and messages" });
  const holders = {};
  const buttons = {};
  for (const [name, label] of PANES) {
    buttons[name] = el(
      "button",
      { type: "button", id: `exchanges-${name}`, "data-pane": name, onclick: () => choose(name, true) },
      label,
    );
    nav.append(buttons[name]);
    holders[name] = el("div", { class: "exchange-pane", id: `pane-${name}`, "data-pane": name, hidden: true });
  }
  section.append(el("div", { class: "exchanges" }, nav, ...Object.values(holders)));
  const panes = {
    incidents: mountIncidents(holders.incidents, ctx, shared),
    requests: mountRequests(holders.requests, ctx, shared),
    messages: mountMessages(holders.messages, ctx, shared),
  };
  let current = "incidents";

  function choose(name, focus) {
    current = name;
    for (const [n] of PANES) {
      holders[n].hidden = n !== name;
      if (n === name) buttons[n].setAttribute("aria-current", "page");
      else buttons[n].removeAttribute("aria-current");
    }
    if (focus) buttons[name].focus();
  }
  choose(current, false);

  async function load() {
    try {
      const [parties, templates, declarations] = await Promise.all([
        ctx.api.all("/v1/parties"),
        ctx.api.get("/v1/templates"),
        ctx.api.all("/v1/declarations"),
      ]);
      shared.parties = parties;
      shared.partyMap = new Map(parties.map((p) => [p.id, p]));
      shared.templates = templates.items;
      shared.declarations = declarations.filter((d) => d.state !== "cancelled");
      await Promise.all(Object.values(panes).map((p) => p.load()));
    } catch (err) {
      ctx.toast(`Could not read incidents, requests and messages: ${err.message}`, "error");
    }
  }
  const loaded = load();

  ctx.on("notification", (kind, n) => {
    const pane = n && SUBJECT_PANE[n.subject];
    if (pane && n.body && n.body.id) panes[pane].upsert(n.body);
  });

  return {
    // arg: {tab: "incidents" | "requests" | "messages", id} to open one item.
    async show(arg) {
      if (arg && panes[arg.tab]) choose(arg.tab, false);
      await loaded;
      if (arg && arg.id && panes[arg.tab]) await panes[arg.tab].show(arg.id);
    },
  };
}
