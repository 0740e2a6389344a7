// The map view: what the caller's party may see, on a vector base map (no tiles from the
// internet). Its own declarations, coordination measures, protected objects released to it, the
// overlap volumes of its conflicts by severity — all it is ever shown of another party's
// declaration — and the encounters predicted for its aircraft. A side panel lists them for the
// keyboard and shows the one selected; a UTC time bar filters by time window (map_time.js);
// "Declare" draws a new declaration, checks it and submits it (map_draw.js). Notifications from
// the live stream refresh the layers without reloading the page.

import { el } from "./api.js";
import { declarePanel } from "./map_draw.js";
import {
  GROUPS,
  compareFeatures,
  conflictFeature,
  declarationFeature,
  encounterFeature,
  featureBounds,
  featureDetails,
  featureRow,
  listKeys,
  rove,
} from "./map_features.js";
import {
  createPanes,
  footprintLayers,
  loadBasemap,
  outlineLayers,
  severityColour,
  tip,
  within,
} from "./map_layers.js";
import { timeBar } from "./map_time.js";

const REFRESH_DEBOUNCE_MS = 300;
const FIT = { maxZoom: 12, padding: [24, 24], animate: false };
const WRITER_ROLES = new Set(["duty_officer", "party_admin", "relay"]);

export function mount(section, ctx) {
  const party = ctx.me.party;
  const state = { declarations: [], conflicts: [], encounters: new Map(), seen: new Map(), loaded: false };
  const features = new Map(); // key -> feature
  let map = null;
  let layerRoot = null; // every feature's layers
  let selectionLayer = null;
  let selected = null;
  let fitted = false;
  let wanted = null; // an id another view asked to show, until it is loaded

  const list = el("div", { id: "map-list", "aria-label": "Map features", "aria-busy": "true" });
  const details = el("div", { id: "map-details", "aria-live": "polite" }, el("p", { class: "muted", text: "Select a feature on the map or in the list." }));
  const browse = el("div", { class: "map-browse" }, list, details);
  const canvas = el("div", { id: "map-canvas", "aria-label": "Map: arrow keys pan, plus and minus zoom" });
  const bar = timeBar(applyTime);
  const draw = declarePanel({
    ctx,
    map: () => map,
    time: () => bar.time,
    async declared(declaration) {
      setMode(false);
      await refresh();
      select(`declaration:${declaration.id}`, { zoom: true });
    },
    cancelled: () => setMode(false),
  });
  const declareButton = el("button", {
    type: "button",
    id: "map-declare-open",
    class: "primary",
    text: "Declare…",
    "aria-expanded": "false",
    "aria-controls": "map-declare",
    onclick: () => setMode(!draw.active),
  });
  const legend = el(
    "p",
    { class: "map-legend", "aria-label": "Legend" },
    ...["critical", "high", "medium", "info"].map((s) => el("span", { class: `sev ${s}`, text: s })),
    el("span", { class: "key own", text: "own" }),
    el("span", { class: "key shared", text: "measure" }),
    el("span", { class: "key protected", text: "protected" }),
  );
  section.append(
    el(
      "div",
      { class: "map-view" },
      el("div", { class: "map-main" }, canvas, bar.element),
      el(
        "aside",
        { class: "map-side", "aria-label": "Map features and details" },
        el("div", { class: "map-side-head" }, el("h2", { text: "Map" }), declareButton),
        legend,
        browse,
        draw.element,
      ),
    ),
  );

  function setMode(declaring) {
    if (declaring) draw.open();
    else draw.close();
    browse.hidden = declaring;
    declareButton.setAttribute("aria-expanded", String(declaring));
    declareButton.textContent = declaring ? "Back to the list" : "Declare…";
  }

  // --- data -------------------------------------------------------------------------------

  let loading = null;
  let again = false;
  let timer = null;
  async function refresh() {
    if (loading) {
      again = true;
      return loading;
    }
    loading = (async () => {
      do {
        again = false;
        await loadOnce();
      } while (again);
    })().finally(() => {
      loading = null;
    });
    return loading;
  }

  function scheduleRefresh() {
    clearTimeout(timer);
    timer = setTimeout(refresh, REFRESH_DEBOUNCE_MS);
  }

  async function loadOnce() {
    list.setAttribute("aria-busy", "true");
    try {
      const [declarations, conflicts, notifications] = await Promise.all([
        ctx.api.all("/v1/declarations"),
        ctx.api.all("/v1/conflicts"),
        ctx.api.all("/v1/notifications"),
      ]);
      state.declarations = declarations;
      state.conflicts = conflicts;
      for (const n of notifications) {
        if (!(state.seen.get(n.id) > n.version)) state.seen.set(n.id, n.version);
        if (n.subject === "encounter") keepEncounter(n);
      }
      state.loaded = true;
      rebuild();
    } catch (err) {
      ctx.toast(`Map: could not load (${err.message})`, "error");
    } finally {
      list.setAttribute("aria-busy", "false");
    }
  }

  // Encounters are notifications, revised but never removed: keep the latest version of each
  // (a load that started before a live revision must not put the older one back).
  function keepEncounter(n) {
    const old = state.encounters.get(n.id);
    if (!n.body || !n.body.place || (old && old.version > n.version)) return false;
    state.encounters.set(n.id, n);
    return true;
  }

  // A conflict, encounter or release told live: reload (debounced) what it changes. Delivery
  // and acknowledgement leave the version, and the map, as they were.
  ctx.on("notification", (_kind, n) => {
    if (!n || state.seen.get(n.id) === n.version) return;
    state.seen.set(n.id, n.version);
    if (n.subject === "encounter") {
      if (keepEncounter(n)) rebuild();
    } else if (n.subject === "conflict" || n.subject === "release") {
      scheduleRefresh();
    }
  });

  // --- features ----------------------------------------------------------------------------

  function layersOf(f) {
    if (f.type === "encounter") {
      const c = severityColour(f.severity);
      const marker = L.circleMarker(f.place, { pane: "encounters", radius: 8, color: "#fff", weight: 2, fillColor: c, fillOpacity: 0.95 });
      return [{ window: f.windows[0], layers: [marker] }];
    }
    return f.volumes.map((v, i) => ({ window: f.windows[i], layers: footprintLayers(v, f.style, f.pane) }));
  }

  function rebuild() {
    const previous = selected;
    features.clear();
    const titles = new Map(state.declarations.map((d) => [d.id, d.title]));
    const all = [
      ...state.conflicts.map((c) => conflictFeature(c, titles)),
      ...[...state.encounters.values()].map(encounterFeature),
      ...state.declarations.map((d) => declarationFeature(d, party)),
    ];
    for (const f of all) features.set(f.key, f);
    bar.setRange(
      all.flatMap((f) => f.windows),
      initialTime(),
    );
    renderLayers();
    renderList();
    if (previous && features.has(previous)) select(previous, { zoom: false, scroll: false });
    else if (previous) clearSelection();
    takeWanted(true);
  }

  // Now, when something loaded is in effect now; otherwise the start of the earliest conflict,
  // which is where there is something to look at (the demo's 2017 scenario, for one).
  function initialTime() {
    const now = Date.now();
    const all = [...features.values()];
    if (all.some((f) => f.windows.some((w) => within(w, now)))) return now;
    const starts = all.filter((f) => f.type === "conflict").flatMap((f) => f.windows.map(([start]) => start));
    return starts.length ? Math.min(...starts) : now;
  }

  function renderLayers() {
    if (!map) return;
    layerRoot.clearLayers();
    for (const f of features.values()) {
      f.parts = layersOf(f);
      f.layer = L.featureGroup();
      f.layer.on("click", () => {
        if (!draw.active) select(f.key, { zoom: false });
      });
      f.layer.bindTooltip(tip(`${f.title} — ${f.meta}`), { sticky: true });
      layerRoot.addLayer(f.layer);
    }
    applyTime();
    if (!fitted && state.loaded) {
      fitted = true;
      const bounds = L.latLngBounds([]);
      for (const f of features.values()) if (featureBounds(f).isValid()) bounds.extend(featureBounds(f));
      if (bounds.isValid()) map.fitBounds(bounds, FIT);
    }
  }

  // Hide each volume whose window does not hold the selected time; dim its list entry.
  function applyTime() {
    const filtering = bar.filtering;
    const t = bar.time;
    for (const f of features.values()) {
      const inTime = !filtering || f.windows.some((w) => within(w, t));
      const item = list.querySelector(`li[data-key="${CSS.escape(f.key)}"]`);
      if (item) {
        item.dataset.inTime = String(inTime);
        item.classList.toggle("out-of-time", !inTime);
      }
      if (!f.parts) continue;
      for (const part of f.parts) {
        const show = !filtering || within(part.window, t);
        for (const layer of part.layers) {
          if (show && !f.layer.hasLayer(layer)) f.layer.addLayer(layer);
          else if (!show && f.layer.hasLayer(layer)) f.layer.removeLayer(layer);
        }
      }
    }
  }

  // --- list and details --------------------------------------------------------------------

  function renderList() {
    const active = document.activeElement;
    const focusKey = active && list.contains(active) ? active.closest("li")?.dataset.key : null;
    const blocks = [];
    for (const [group, label] of GROUPS) {
      const members = [...features.values()].filter((f) => f.group === group);
      if (!members.length && group !== "conflicts") continue;
      members.sort(compareFeatures);
      blocks.push(
        el(
          "section",
          { class: "map-group", "data-group": group },
          el("h3", { text: `${label} (${members.length})` }),
          members.length
            ? el("ul", { role: "list" }, members.map((f) => featureRow(f, f.key === selected, () => select(f.key))))
            : el("p", { class: "muted", text: "None." }),
        ),
      );
    }
    list.replaceChildren(...blocks);
    rove(list, focusKey || selected);
    applyTime();
    if (focusKey) list.querySelector(`li[data-key="${CSS.escape(focusKey)}"] button`)?.focus();
  }

  listKeys(list);

  function clearSelection() {
    selected = null;
    if (selectionLayer) selectionLayer.clearLayers();
    details.replaceChildren(el("p", { class: "muted", text: "Select a feature on the map or in the list." }));
  }

  function select(key, { zoom = true, scroll = true } = {}) {
    const f = features.get(key);
    if (!f) return;
    selected = key;
    for (const li of list.querySelectorAll("li[data-key]")) {
      const on = li.dataset.key === key;
      li.classList.toggle("selected", on);
      const button = li.querySelector("button");
      if (on) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
      if (on && scroll) li.scrollIntoView({ block: "nearest" });
    }
    rove(list, key);
    renderDetails(f);
    if (!map) return;
    selectionLayer.clearLayers();
    if (f.type === "encounter") {
      selectionLayer.addLayer(L.circleMarker(f.place, { pane: "encounters", radius: 14, color: "#f0b400", weight: 4, fill: false, interactive: false }));
    } else {
      for (const v of f.volumes) for (const layer of outlineLayers(v, "selection")) selectionLayer.addLayer(layer);
    }
    if (zoom) {
      const bounds = featureBounds(f);
      if (bounds.isValid()) map.fitBounds(bounds, FIT);
    }
  }

  function renderDetails(f) {
    const own = f.type === "conflict" ? `declaration:${f.raw.declaration_id}` : null;
    details.replaceChildren(
      el(
        "article",
        { "data-selected": f.key },
        el("h3", {}, f.severity ? el("span", { class: `sev ${f.severity}`, text: f.severity }) : null, " ", f.title),
        ...featureDetails(f, new Map(state.declarations.map((d) => [d.id, d.title]))),
      ),
      el(
        "div",
        { class: "actions" },
        el("button", { type: "button", id: "map-zoom", text: "Zoom to", onclick: () => select(f.key, { scroll: false }) }),
        own && features.has(own) ? el("button", { type: "button", id: "map-own-declaration", text: "Own declaration", onclick: () => select(own) }) : null,
        el("button", { type: "button", id: "map-record", text: "Record", title: "Its entries in the ledger", onclick: () => ctx.open("record", f.id) }),
      ),
    );
  }

  // Another view may ask to show an object: a conflict, declaration or notification id. One
  // not loaded yet waits for the next load.
  function takeWanted(lastChance) {
    if (!wanted) return;
    const id = typeof wanted === "string" ? wanted : wanted.id || wanted.conflict_id || wanted.declaration_id;
    const f = [...features.values()].find((x) => x.id === id);
    if (f) {
      wanted = null;
      select(f.key, { zoom: true });
    } else if (lastChance) {
      wanted = null;
    }
  }

  function ensureMap() {
    if (map) return;
    map = L.map(canvas, { minZoom: 2, maxZoom: 14, worldCopyJump: false });
    map.attributionControl.setPrefix(false).addAttribution("Natural Earth");
    createPanes(map);
    map.setView([20, 0], 2);
    layerRoot = L.layerGroup().addTo(map);
    selectionLayer = L.layerGroup().addTo(map);
    loadBasemap(map).catch((err) => ctx.toast(`Map: no base map (${err.message})`, "error"));
    renderLayers();
    if (selected) select(selected, { zoom: true, scroll: false });
  }

  if (!WRITER_ROLES.has(ctx.me.role)) {
    declareButton.disabled = true;
    declareButton.title = "Only a duty officer, party admin or relay declares";
  }
  renderList();
  refresh();

  return {
    show(arg) {
      if (map && state.loaded) scheduleRefresh(); // back from another view: catch up
      ensureMap();
      map.invalidateSize();
      if (arg) {
        wanted = arg;
        takeWanted(false);
      }
    },
  };
}
