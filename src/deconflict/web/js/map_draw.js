// Declaring from the map: a form in the side panel. Clicks on the map add positions to the
// footprint (a point replaces the one before); the same positions are a text field, "lon,lat;
// lon,lat", for the keyboard. "Check" asks the service for the conflicts the declaration would
// have (POST /v1/check, nothing stored) and draws their overlaps; "Declare" submits it. The
// service's problem details (RFC 9457 `errors`) are shown beside the form, each naming its field.

import { ApiError, el } from "./api.js";
import { bandText, colour, footprintLayers, rfc3339, severityColour, windowText, words } from "./map_layers.js";

const KINDS = [
  "air_operation",
  "ground_operation",
  "strike",
  "air_defense_zone",
  "launch_notice",
  "protected_site",
  "humanitarian_movement",
  "coordination_measure",
];
const SITE_TYPES = ["hospital", "school", "shelter", "warehouse", "office", "camp", "other"];
const RELEASABLE = new Set(["protected_site", "humanitarian_movement"]);
const DEFAULT_SPAN_MS = 2 * 3_600_000;
const POSITION_DECIMALS = 5; // about a metre
const DEFAULT_BUFFER_M = 1000;

// Which input a JSON Pointer of the body names; the longest prefix wins.
const POINTERS = [
  ["/kind", "kind"],
  ["/title", "title"],
  ["/state", "state"],
  ["/callsign", "callsign"],
  ["/purpose", "purpose"],
  ["/site_type", "site-type"],
  ["/measure", "measure"],
  ["/released_to", "released"],
  ["/volumes/0/geometry", "coords"],
  ["/volumes/0/buffer_m", "buffer"],
  ["/volumes/0/altitude/lower", "lower"],
  ["/volumes/0/altitude/upper", "upper"],
  ["/volumes/0/altitude/units", "units"],
  ["/volumes/0/altitude/reference", "reference"],
  ["/volumes/0/altitude", "lower"],
  ["/volumes/0/time/end", "end"],
  ["/volumes/0/time", "start"],
  ["/volumes", "coords"],
];

class LocalProblem extends Error {
  constructor(field, rule, detail) {
    super(detail);
    this.errors = [{ field, rule, detail }];
  }
}

function options(values, label = words) {
  return values.map((v) => el("option", { value: v, text: label(v) }));
}

// "2017-04-07 02:00" and "2017-04-07T02:00" are read as UTC; anything else goes as typed.
export function normaliseTime(text) {
  const t = text.trim();
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2})(:\d{2})?$/.exec(t);
  return m ? `${m[1]}T${m[2]}${m[3] || ":00"}Z` : t;
}

export function parsePositions(text) {
  const positions = [];
  for (const part of text.split(/[;\n]+/).map((p) => p.trim()).filter(Boolean)) {
    const numbers = part.split(/[\s,]+/).filter(Boolean).map(Number);
    if (numbers.length !== 2 || numbers.some((n) => !Number.isFinite(n))) {
      throw new LocalProblem("/volumes/0/geometry", "format", `“${part}” is not a position lon,lat`);
    }
    positions.push(numbers);
  }
  return positions;
}

export function declarePanel(host) {
  const { ctx } = host;
  let active = false;
  let primed = false;
  let draft = null;
  let predicted = null;

  const input = (name, attrs) => el("input", Object.assign({ id: `declare-${name}`, name }, attrs));
  const select = (name, values, label) => el("select", { id: `declare-${name}`, name }, options(values, label));
  const f = {
    kind: select("kind", KINDS),
    title: input("title", { type: "text", maxlength: "200", required: true }),
    state: select("state", ["planned", "active"], String),
    geometry: select("geometry", ["polygon", "point", "line"], String),
    coords: el("textarea", { id: "declare-coords", name: "coords", rows: "3", placeholder: "lon,lat; lon,lat; …", spellcheck: "false" }),
    buffer: input("buffer", { type: "number", min: "0", step: "1", value: "", placeholder: "none" }),
    lower: input("lower", { type: "number", step: "any", value: "0" }),
    upper: input("upper", { type: "number", step: "any", value: "3000" }),
    units: select("units", ["m", "ft"], String),
    reference: select("reference", ["AMSL", "W84"], String),
    start: input("start", { type: "text", placeholder: "2017-04-07T02:00:00Z", spellcheck: "false" }),
    end: input("end", { type: "text", placeholder: "2017-04-07T04:00:00Z", spellcheck: "false" }),
    callsign: input("callsign", { type: "text", maxlength: "100" }),
    purpose: input("purpose", { type: "text", maxlength: "500" }),
    "site-type": select("site-type", SITE_TYPES, String),
    measure: select("measure", ["area_of_responsibility", "line"]),
    released: el("fieldset", { id: "declare-released", class: "released" }, el("legend", { text: "Released to" })),
  };
  const problems = el("div", { id: "declare-problems", role: "alert" });
  const results = el("div", { id: "declare-results", "aria-live": "polite" });
  const checkButton = el("button", { type: "button", id: "declare-check", text: "Check", onclick: () => run(false) });
  const submitButton = el("button", { type: "submit", id: "declare-submit", class: "primary", text: "Declare" });

  const row = (label, name, kinds) =>
    el("div", { class: "row", "data-kinds": kinds ? kinds.join(" ") : null }, el("label", { for: `declare-${name}`, text: label }), f[name]);
  const form = el(
    "form",
    { id: "map-declare", class: "map-declare", "aria-label": "Declare", novalidate: true },
    el("h3", { text: "Declare" }),
    el("p", { class: "muted hint", text: "Click the map to add positions (a point takes one), or type them as lon,lat; lon,lat." }),
    row("Kind", "kind"),
    row("Title", "title"),
    row("State", "state"),
    row("Geometry", "geometry"),
    row("Positions (lon,lat; …)", "coords"),
    el("div", { class: "row buttons" }, el("span"), el("button", { type: "button", id: "declare-clear", text: "Clear positions", onclick: clearPositions })),
    row("Buffer (m)", "buffer"),
    el("div", { class: "pair" }, row("Altitude lower", "lower"), row("upper", "upper")),
    el("div", { class: "pair" }, row("Units", "units"), row("Reference", "reference")),
    row("Start (UTC)", "start"),
    row("End (UTC)", "end"),
    row("Callsign", "callsign"),
    row("Purpose", "purpose"),
    row("Site type", "site-type", ["protected_site"]),
    row("Measure", "measure", ["coordination_measure"]),
    el("div", { class: "row", "data-kinds": [...RELEASABLE].join(" ") }, el("span"), f.released),
    problems,
    el("div", { class: "actions" }, checkButton, submitButton, el("button", { type: "button", id: "declare-cancel", text: "Cancel", onclick: () => host.cancelled() })),
    results,
  );
  form.hidden = true;

  function showKindFields() {
    for (const r of form.querySelectorAll("[data-kinds]")) r.hidden = !r.dataset.kinds.split(" ").includes(f.kind.value);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(true);
  });
  form.addEventListener("input", (event) => {
    if (event.target === f.kind) showKindFields();
    if (event.target === f.coords || event.target === f.geometry || event.target === f.buffer) drawDraft();
    clearResults();
  });
  // A point or line needs a buffer, a polygon usually has none: follow the geometry until the
  // buffer is typed in.
  let bufferTyped = false;
  f.buffer.addEventListener("input", () => {
    bufferTyped = true;
  });
  form.addEventListener("change", (event) => {
    if (event.target === f.kind) showKindFields();
    if (event.target === f.geometry) {
      if (!bufferTyped) f.buffer.value = f.geometry.value === "polygon" ? "" : String(DEFAULT_BUFFER_M);
      drawDraft();
    }
  });

  // --- the map ----------------------------------------------------------------------------

  function onMapClick(event) {
    const ll = event.latlng.wrap();
    const position = `${ll.lng.toFixed(POSITION_DECIMALS)},${ll.lat.toFixed(POSITION_DECIMALS)}`;
    const kept = f.geometry.value === "point" ? "" : f.coords.value.trim().replace(/;$/, "");
    f.coords.value = kept ? `${kept}; ${position}` : position;
    clearResults();
    drawDraft();
  }

  function clearPositions() {
    f.coords.value = "";
    clearResults();
    drawDraft();
  }

  function drawDraft() {
    if (!draft) return;
    draft.clearLayers();
    let positions;
    try {
      positions = parsePositions(f.coords.value);
    } catch {
      return;
    }
    const c = colour("accent");
    const style = { color: c, fillColor: c, weight: 2, dashArray: "5 4", fillOpacity: 0.15, interactive: false };
    for (const [lon, lat] of positions) draft.addLayer(L.circleMarker([lat, lon], { pane: "draft", radius: 4, color: c, fillOpacity: 1, interactive: false }));
    if (!positions.length) return;
    const buffer = Number(f.buffer.value) || 0;
    let geometry;
    try {
      geometry = geometryOf(positions);
    } catch {
      geometry = positions.length > 1 ? { type: "LineString", coordinates: positions } : null;
    }
    if (!geometry) return;
    const volume = { geometry, buffer_m: buffer };
    for (const layer of footprintLayers(volume, style, "draft")) draft.addLayer(layer);
  }

  function drawPredicted(conflicts) {
    if (!predicted) return;
    predicted.clearLayers();
    for (const c of conflicts) {
      const s = severityColour(c.severity);
      const style = { color: s, fillColor: s, weight: 2, dashArray: "6 4", fillOpacity: 0.35, interactive: false };
      for (const v of c.overlaps && c.overlaps.length ? c.overlaps : [c.overlap]) {
        if (v) for (const layer of footprintLayers(v, style, "predicted")) predicted.addLayer(layer);
      }
    }
  }

  // --- the body ---------------------------------------------------------------------------

  function geometryOf(positions) {
    const type = f.geometry.value;
    if (!positions.length) throw new LocalProblem("/volumes/0/geometry", "required", "click the map or type the positions");
    if (type === "point") {
      if (positions.length !== 1) throw new LocalProblem("/volumes/0/geometry", "format", "a point is one position");
      return { type: "Point", coordinates: positions[0] };
    }
    if (type === "line") return { type: "LineString", coordinates: positions };
    const ring = positions.slice();
    const [first, last] = [ring[0], ring[ring.length - 1]];
    if (first[0] !== last[0] || first[1] !== last[1]) ring.push(first.slice());
    return { type: "Polygon", coordinates: [ring] };
  }

  const numberOf = (field) => (field.value.trim() === "" ? null : Number(field.value));

  function body() {
    const geometry = geometryOf(parsePositions(f.coords.value));
    const volume = { geometry };
    const buffer = numberOf(f.buffer);
    if (geometry.type !== "Polygon" || (buffer !== null && buffer > 0)) volume.buffer_m = buffer;
    volume.altitude = { lower: numberOf(f.lower), upper: numberOf(f.upper), units: f.units.value, reference: f.reference.value };
    volume.time = { start: normaliseTime(f.start.value), end: normaliseTime(f.end.value) };
    const kind = f.kind.value;
    const out = { kind, title: f.title.value.trim(), state: f.state.value, volumes: [volume] };
    if (f.callsign.value.trim()) out.callsign = f.callsign.value.trim();
    if (f.purpose.value.trim()) out.purpose = f.purpose.value.trim();
    if (kind === "protected_site") out.site_type = f["site-type"].value;
    if (kind === "coordination_measure") out.measure = f.measure.value;
    if (RELEASABLE.has(kind)) out.released_to = [...f.released.querySelectorAll("input:checked")].map((i) => i.value);
    return out;
  }

  // --- check and declare --------------------------------------------------------------------

  function inputFor(pointer) {
    const hit = POINTERS.filter(([p]) => pointer === p || pointer.startsWith(`${p}/`)).sort((a, b) => b[0].length - a[0].length)[0];
    return hit ? f[hit[1]] : null;
  }

  function showProblems(errors) {
    for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
    if (!errors || !errors.length) {
      problems.replaceChildren();
      return;
    }
    const items = errors.map((e) => {
      const target = inputFor(e.field || "");
      if (target) target.setAttribute("aria-invalid", "true");
      const label = target ? form.querySelector(`label[for="${target.id}"]`)?.textContent || target.id : null;
      return el(
        "li",
        { "data-field": e.field || "", "data-rule": e.rule || "" },
        el("strong", { text: label || e.field || "Request" }),
        `: ${e.detail || e.rule} `,
        el("code", { text: `${e.field || ""} ${e.rule || ""}`.trim() }),
      );
    });
    problems.replaceChildren(el("p", { class: "problem-title", text: "The service refused it:" }), el("ul", {}, items));
  }

  function clearResults() {
    results.replaceChildren();
    if (predicted) predicted.clearLayers();
  }

  function showResults(conflicts) {
    drawPredicted(conflicts);
    const items = conflicts.map((c) =>
      el(
        "li",
        { "data-predicted-kind": c.kind, "data-severity": c.severity, "data-other-party": c.other_party },
        el("span", { class: `sev ${c.severity}`, text: c.severity }),
        " ",
        el("strong", { text: words(c.kind) }),
        ` with ${c.other_party} ${words(c.other_kind)}`,
        el("span", { class: "meta muted", text: `${bandText(c.overlap && c.overlap.altitude)} · ${windowText(c.overlap && c.overlap.time)}` }),
      ),
    );
    results.replaceChildren(
      el("h4", { text: conflicts.length ? `${conflicts.length} predicted conflict${conflicts.length === 1 ? "" : "s"}` : "No conflicts predicted" }),
      items.length ? el("ul", { id: "declare-predicted" }, items) : null,
    );
  }

  async function run(submit) {
    showProblems(null);
    clearResults();
    let payload;
    try {
      payload = body();
    } catch (err) {
      showProblems(err.errors || [{ field: "", rule: "format", detail: err.message }]);
      return;
    }
    checkButton.disabled = submitButton.disabled = true;
    try {
      if (!submit) {
        showResults((await ctx.api.post("/v1/check", payload)).conflicts);
        return;
      }
      const written = await ctx.api.post("/v1/declarations", payload);
      const n = written.conflicts.length;
      ctx.toast(`Declared “${written.declaration.title}”: ${n} conflict${n === 1 ? "" : "s"}.`);
      f.title.value = "";
      f.coords.value = "";
      drawDraft();
      await host.declared(written.declaration);
    } catch (err) {
      const errors = err instanceof ApiError && err.problem ? err.problem.errors : null;
      showProblems(errors && errors.length ? errors : [{ field: "", rule: (err.problem && err.problem.code) || "error", detail: err.message }]);
    } finally {
      checkButton.disabled = submitButton.disabled = false;
    }
  }

  async function loadParties() {
    try {
      const parties = await ctx.api.all("/v1/parties");
      const others = parties.filter((p) => p.id !== ctx.me.party);
      f.released.replaceChildren(
        el("legend", { text: "Released to" }),
        ...others.map((p) => el("label", { class: "check" }, el("input", { type: "checkbox", name: "released", value: p.id }), ` ${p.name || p.id}`)),
      );
    } catch (err) {
      ctx.toast(`Could not read the parties: ${err.message}`, "error");
    }
  }

  function prime() {
    if (primed) return;
    primed = true;
    const start = host.time();
    f.start.value = rfc3339(start);
    f.end.value = rfc3339(start + DEFAULT_SPAN_MS);
    showKindFields();
    loadParties();
  }

  return {
    element: form,
    get active() {
      return active;
    },
    open() {
      if (active) return;
      active = true;
      prime();
      form.hidden = false;
      const map = host.map();
      if (map) {
        draft = L.layerGroup().addTo(map);
        predicted = L.layerGroup().addTo(map);
        map.on("click", onMapClick);
        map.doubleClickZoom.disable();
        map.getContainer().classList.add("drawing");
        drawDraft();
      }
      f.kind.focus();
    },
    close() {
      if (!active) return;
      active = false;
      form.hidden = true;
      showProblems(null);
      results.replaceChildren();
      const map = host.map();
      if (map) {
        map.off("click", onMapClick);
        map.doubleClickZoom.enable();
        map.getContainer().classList.remove("drawing");
        for (const layer of [draft, predicted]) if (layer) map.removeLayer(layer);
      }
      draft = predicted = null;
    },
  };
}
