// What the map view shows, as "features": a conflict (its overlap volumes), a declaration the
// party may see (its volumes) or an encounter (a place), each with its list entry, style and
// details. Built from the API's answers alone: a conflict names the other side's party and
// kind, never its declaration.

import { SEVERITY_ORDER, el } from "./api.js";
import { bandText, colour, geometryText, severityColour, volumeBounds, windowOf, windowText, words } from "./map_layers.js";

const PROTECTED = new Set(["protected_site", "humanitarian_movement"]);
const ENDED = new Set(["ended", "cancelled"]);
const ENCOUNTER_VIEW_M = 40_000; // how much around an encounter to show

export const GROUPS = [
  ["conflicts", "Conflicts"],
  ["encounters", "Encounters"],
  ["own", "Own declarations"],
  ["measures", "Coordination measures"],
  ["protected", "Protected objects of other parties"],
  ["other", "Other declarations"],
];

function declarationGroup(d, party) {
  if (d.party === party) return "own";
  if (d.kind === "coordination_measure") return "measures";
  return PROTECTED.has(d.kind) ? "protected" : "other";
}

function declarationStyle(group, d) {
  const name = { own: "own", measures: "shared", protected: "ok" }[group] || "muted";
  const c = colour(name);
  const style = { color: c, fillColor: c, weight: 2, opacity: 0.9, fillOpacity: 0.12 };
  if (group === "measures") Object.assign(style, { dashArray: "8 5", fillOpacity: 0.05 });
  if (group === "protected") style.fillOpacity = 0.25;
  if (ENDED.has(d.state)) Object.assign(style, { opacity: 0.4, fillOpacity: 0.04, dashArray: "2 4" });
  return style;
}

function conflictStyle(c) {
  const s = severityColour(c.severity);
  const open = c.state === "open";
  return { color: s, fillColor: s, weight: 2, opacity: 1, fillOpacity: open ? 0.45 : 0.15, dashArray: open ? null : "4 4" };
}

// `titles` maps the party's visible declaration ids to their titles.
export function conflictFeature(c, titles) {
  const volumes = (c.overlaps && c.overlaps.length ? c.overlaps : [c.overlap]).filter(Boolean);
  return {
    key: `conflict:${c.id}`,
    type: "conflict",
    id: c.id,
    group: "conflicts",
    severity: c.severity,
    title: words(c.kind),
    meta: `${titles.get(c.declaration_id) || c.declaration_id} × ${c.other_party} ${words(c.other_kind)}${c.state === "open" ? "" : ` · ${c.state}`}`,
    attrs: { "data-conflict-id": c.id, "data-conflict-kind": c.kind, "data-own-declaration-id": c.declaration_id },
    volumes,
    windows: volumes.map(windowOf),
    style: conflictStyle(c),
    pane: "conflicts",
    raw: c,
  };
}

export function declarationFeature(d, party) {
  const group = declarationGroup(d, party);
  const volumes = (d.volumes || []).filter(Boolean);
  return {
    key: `declaration:${d.id}`,
    type: "declaration",
    id: d.id,
    group,
    title: d.title,
    meta: `${words(d.kind)} · ${d.state}${d.party === party ? "" : ` · ${d.party}`}`,
    attrs: { "data-declaration-id": d.id, "data-kind": d.kind, "data-state": d.state },
    volumes,
    windows: volumes.map(windowOf),
    style: declarationStyle(group, d),
    pane: "declarations",
    raw: d,
  };
}

// An encounter notification (docs/tracks.md): a place, a band and a moment, nothing of the
// other aircraft. Its record is the notification's.
export function encounterFeature(n) {
  const b = n.body;
  const at = b.closest_at || b.entry_at || b.ended_at || b.updated_at;
  const end = Math.max(Date.parse(at), Date.parse(b.updated_at || at));
  const severity = n.severity || (b.state === "over" ? "info" : "critical");
  return {
    key: `encounter:${n.id}`,
    type: "encounter",
    id: n.id,
    group: "encounters",
    severity,
    title: `${words(b.kind)}${b.own_track ? ` · ${b.own_track}` : ""}`,
    meta: `${b.other_party ? `with ${b.other_party} · ` : ""}${b.state} · ${at}`,
    attrs: { "data-encounter-id": b.id || n.id, "data-record-id": n.id },
    volumes: [],
    windows: [[Date.parse(b.opened_at || at), end]],
    place: [b.place.lat, b.place.lon],
    raw: n,
  };
}

export function featureBounds(f) {
  if (f.type === "encounter") return L.latLng(f.place).toBounds(ENCOUNTER_VIEW_M);
  const bounds = L.latLngBounds([]);
  for (const v of f.volumes) bounds.extend(volumeBounds(v));
  return bounds;
}

// Most severe first, then by title.
export function compareFeatures(a, b) {
  const rank = (f) => (f.severity ? (SEVERITY_ORDER[f.severity] ?? 9) : 9);
  return rank(a) - rank(b) || a.title.localeCompare(b.title) || (a.id < b.id ? -1 : 1);
}

export function featureRow(f, selected, onSelect) {
  const swatch = el("span", { class: `swatch ${f.severity ? `sev-${f.severity}` : `key-${f.group}`}`, "aria-hidden": "true" });
  return el(
    "li",
    Object.assign({ "data-key": f.key, "data-severity": f.severity, class: selected ? "selected" : null }, f.attrs),
    el(
      "button",
      { type: "button", class: "map-item", "aria-current": selected ? "true" : null, onclick: onSelect },
      swatch,
      el("span", { class: "map-item-text" }, el("span", { class: "title", text: f.title }), el("span", { class: "meta muted", text: f.meta })),
      f.severity ? el("span", { class: `sev ${f.severity}`, text: f.severity }) : null,
    ),
  );
}

// The list is one tab stop (the selected entry, or the first); arrows, Home and End move in it.
export function rove(list, key) {
  const buttons = [...list.querySelectorAll("button.map-item")];
  const current = buttons.find((b) => b.closest("li").dataset.key === key) || buttons[0];
  for (const b of buttons) b.tabIndex = b === current ? 0 : -1;
}

export function listKeys(list) {
  list.addEventListener("keydown", (event) => {
    const buttons = [...list.querySelectorAll("button.map-item")];
    const at = buttons.indexOf(document.activeElement);
    const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: buttons.length - 1 }[event.key];
    if (at < 0 || to === undefined) return;
    event.preventDefault();
    const target = buttons[Math.max(0, Math.min(buttons.length - 1, to))];
    rove(list, target.closest("li").dataset.key);
    target.focus();
  });
}

function facts(pairs) {
  const shown = pairs.filter(([, v]) => v !== undefined && v !== null && v !== "");
  return el(
    "dl",
    { class: "facts" },
    shown.flatMap(([k, v, field]) => [el("dt", { text: k }), el("dd", { "data-field": field, text: String(v) })]),
  );
}

function volumeBlock(v, i, label) {
  return el(
    "div",
    { class: "volume", "data-volume": String(i) },
    el("h4", { text: `${label} ${i + 1}` }),
    facts([
      ["Altitude", bandText(v.altitude), "altitude"],
      ["Time (UTC)", windowText(v.time), "time"],
      ["Footprint", geometryText(v), "footprint"],
    ]),
  );
}

// The details of a feature: every field the API gave, each volume's band and window.
export function featureDetails(f, titles) {
  const r = f.raw;
  if (f.type === "conflict") {
    return [
      facts([
        ["Severity", r.severity, "severity"],
        ["Kind", words(r.kind), "kind"],
        ["State", r.state, "state"],
        ["Own declaration", titles.get(r.declaration_id) || r.declaration_id, "declaration"],
        ["Other party", r.other_party, "other_party"],
        ["Its declaration", words(r.other_kind), "other_kind"],
        ["Detected", r.detected_at, "detected_at"],
      ]),
      ...f.volumes.map((v, i) => volumeBlock(v, i, "Overlap")),
    ];
  }
  if (f.type === "declaration") {
    return [
      facts([
        ["Kind", words(r.kind), "kind"],
        ["Party", r.party, "party"],
        ["State", r.state, "state"],
        ["Version", r.version, "version"],
        ["Callsign", r.callsign, "callsign"],
        ["Purpose", r.purpose, "purpose"],
        ["Site type", r.site_type, "site_type"],
        ["Verification", r.verification, "verification"],
        ["Released to", r.released_to ? r.released_to.join(", ") || "nobody" : null, "released_to"],
        ["Expires", r.expires_at, "expires_at"],
        ["Measure", r.measure ? words(r.measure) : null, "measure"],
        ["Controlling party", r.controlling_party, "controlling_party"],
      ]),
      ...f.volumes.map((v, i) => volumeBlock(v, i, "Volume")),
    ];
  }
  const b = r.body;
  return [
    facts([
      ["Kind", words(b.kind), "kind"],
      ["State", b.state, "state"],
      ["Own aircraft", b.own_track, "own_track"],
      ["Other party", b.other_party, "other_party"],
      ["Other kind", b.other_kind ? words(b.other_kind) : null, "other_kind"],
      ["Closest approach", b.closest_at, "closest_at"],
      ["Closest distance", Number.isFinite(b.closest_distance_m) ? `${Math.round(b.closest_distance_m)} m` : null, "closest_distance"],
      ["Entry", b.entry_at, "entry_at"],
      ["Ended", b.ended_at, "ended_at"],
      ["Altitude", bandText(b.altitude_band), "altitude"],
      ["Place", `${b.place.lat}, ${b.place.lon}`, "place"],
    ]),
  ];
}
