// Drawing for the map view: the vector base map, volumes with their buffers, colours, and the
// wording of altitude bands and time windows.
//
// Leaflet draws in Web Mercator. A buffer is drawn as a circle around a point, and around a line
// (or a polygon's rim) as a stroke whose width in pixels follows the zoom: a picture, close
// enough at the scales an operations room looks at. The page never decides what conflicts;
// the service does, on geodesics.

import { el } from "./api.js";

export const EARTH_CIRCUMFERENCE_M = 40075016.686;
const BASEMAP_URL = "/ui/basemap/world_50m.json";
const CENTRE_MARKER_RADIUS_PX = 4; // so a 150 m site stays visible at country scale

export const PANES = { basemap: 200, declarations: 410, conflicts: 430, predicted: 440, draft: 450, selection: 460, encounters: 620 };

const cache = new Map();
// A colour from app.css's custom properties (one palette for the whole dashboard).
export function colour(name) {
  if (!cache.has(name)) {
    const value = getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim();
    cache.set(name, value || "#555");
  }
  return cache.get(name);
}

export function severityColour(severity) {
  return colour(["critical", "high", "medium", "info"].includes(severity) ? severity : "info");
}

export function createPanes(map) {
  for (const [name, z] of Object.entries(PANES)) {
    const pane = map.createPane(name);
    pane.style.zIndex = String(z);
  }
  map.getPane("basemap").style.pointerEvents = "none";
}

// Natural Earth land, borders, lakes and rivers, drawn on canvas (thousands of vertices, no
// interaction). Loaded once from the service; nothing comes from the internet.
export async function loadBasemap(map) {
  const response = await fetch(BASEMAP_URL);
  if (!response.ok) throw new Error(`base map: HTTP ${response.status}`);
  const topo = await response.json();
  const renderer = L.canvas({ pane: "basemap", padding: 0.5 });
  const layer = (geo, style) => L.geoJSON(geo, { pane: "basemap", renderer, interactive: false, style: () => style });
  const o = topo.objects;
  L.layerGroup([
    layer(topojson.feature(topo, o.land), { color: "#b5ad9c", weight: 0.8, fillColor: "#f2efe7", fillOpacity: 1 }),
    layer(topojson.feature(topo, o.lakes), { color: "#93b6d2", weight: 0.6, fillColor: "#cfe1ee", fillOpacity: 1 }),
    layer(topojson.feature(topo, o.rivers), { color: "#93b6d2", weight: 0.8, fill: false }),
    layer(
      topojson.mesh(topo, o.countries, (a, b) => a !== b),
      { color: "#8a8172", weight: 1, dashArray: "4 3", fill: false },
    ),
  ]).addTo(map);
}

export function metresPerPixel(map, lat) {
  return (EARTH_CIRCUMFERENCE_M * Math.cos((lat * Math.PI) / 180)) / 2 ** (map.getZoom() + 8);
}

let Corridor = null;
// A line drawn `buffer_m` wide on each side: a round-capped stroke re-sized at each zoom.
function corridor(latlngs, bufferM, options) {
  if (!Corridor) {
    Corridor = L.Polyline.extend({
      onAdd(map) {
        L.Polyline.prototype.onAdd.call(this, map);
        map.on("zoomend", this._fitWidth, this);
        this._fitWidth();
      },
      onRemove(map) {
        map.off("zoomend", this._fitWidth, this);
        L.Polyline.prototype.onRemove.call(this, map);
      },
      _fitWidth() {
        const lat = this.getBounds().getCenter().lat;
        this.setStyle({ weight: Math.max(2, (2 * this.options.bufferM) / metresPerPixel(this._map, lat)) });
      },
    });
  }
  return new Corridor(latlngs, Object.assign({ lineCap: "round", lineJoin: "round", fill: false, bufferM }, options));
}

const toLatLng = ([lon, lat]) => [lat, lon];

// The layers that draw one volume's footprint, grown by its buffer. `style` is a Leaflet path
// style; `pane` where it goes.
export function footprintLayers(volume, style, pane) {
  const g = volume.geometry || {};
  const buffer = Number(volume.buffer_m) || 0;
  const base = Object.assign({ pane }, style);
  const halo = Object.assign({}, base, { color: style.fillColor || style.color, opacity: Math.min(0.35, (style.fillOpacity || 0.15) * 1.5), dashArray: null });
  const out = [];
  if (g.type === "Point") {
    const centre = toLatLng(g.coordinates);
    if (buffer > 0) out.push(L.circle(centre, Object.assign({}, base, { radius: buffer })));
    out.push(L.circleMarker(centre, Object.assign({}, base, { radius: CENTRE_MARKER_RADIUS_PX, fillOpacity: 0.9, weight: 1 })));
  } else if (g.type === "LineString") {
    const line = g.coordinates.map(toLatLng);
    if (buffer > 0) out.push(corridor(line, buffer, halo));
    out.push(L.polyline(line, Object.assign({}, base, { fill: false })));
  } else if (g.type === "Polygon" || g.type === "MultiPolygon") {
    out.push(L.geoJSON(g, { pane, style: () => base }));
    if (buffer > 0) {
      const polygons = g.type === "Polygon" ? [g.coordinates] : g.coordinates;
      for (const polygon of polygons) for (const ring of polygon) out.push(corridor(ring.map(toLatLng), buffer, halo));
    }
  } else {
    out.push(L.geoJSON(g, { pane, style: () => base }));
  }
  return out;
}

// An outline of the same footprint, for the selection.
export function outlineLayers(volume, pane) {
  const style = { color: "#f0b400", weight: 4, opacity: 1, fill: false, interactive: false, dashArray: null };
  const g = volume.geometry || {};
  const buffer = Number(volume.buffer_m) || 0;
  if (g.type === "Point") {
    const centre = toLatLng(g.coordinates);
    const ring = L.circleMarker(centre, Object.assign({ pane, radius: 9 }, style));
    return buffer > 0 ? [L.circle(centre, Object.assign({ pane, radius: buffer }, style)), ring] : [ring];
  }
  return [L.geoJSON(g, { pane, style: () => style, interactive: false })];
}

// The bounds of a volume grown by its buffer, without a map (a circle's own needs one).
export function volumeBounds(volume) {
  const g = volume.geometry || {};
  const buffer = Number(volume.buffer_m) || 0;
  const bounds = g.type === "Point" ? L.latLngBounds([toLatLng(g.coordinates)]) : L.geoJSON(g).getBounds();
  if (!bounds.isValid() || buffer <= 0) return bounds;
  return L.latLngBounds([bounds.getSouthWest().toBounds(2 * buffer).getSouthWest(), bounds.getNorthEast().toBounds(2 * buffer).getNorthEast()]);
}

// Time windows: epoch milliseconds, inclusive at both ends (as detection treats them).
export function windowOf(volume) {
  const t = volume.time || {};
  return [Date.parse(t.start), Date.parse(t.end)];
}

export function within([start, end], t) {
  return !(t < start) && !(t > end);
}

export function rfc3339(ms) {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

const number = new Intl.NumberFormat("en-GB", { maximumFractionDigits: 1 });

export function bandText(altitude) {
  if (!altitude) return "—";
  return `${number.format(altitude.lower)}–${number.format(altitude.upper)} ${altitude.units} ${altitude.reference}`;
}

export function windowText(time) {
  if (!time) return "—";
  return `${time.start} → ${time.end}`;
}

export function geometryText(volume) {
  const g = volume.geometry || {};
  const buffer = Number(volume.buffer_m) || 0;
  return buffer > 0 ? `${g.type}, buffer ${number.format(buffer)} m` : String(g.type);
}

export function words(text) {
  return String(text || "").replaceAll("_", " ");
}

// A tooltip's content as a DOM node: Leaflet would read a string as HTML.
export function tip(text) {
  return el("span", { text });
}
