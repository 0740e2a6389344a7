// The map's UTC time bar: a slider over the loaded features' windows, the selected time as
// RFC 3339, "Now", one-hour steps, and whether to filter by time at all.
//
// Filtering is off by default so that everything loaded is on the map at first: the demo's
// scenario is April 2017, and a map filtered to "now" would open empty. Moving the slider, a
// step or "Now" turns filtering on; the checkbox turns it off again.

import { el } from "./api.js";
import { rfc3339 } from "./map_layers.js";

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const EMPTY_SPAN_MS = 7 * 24 * HOUR_MS; // now ± 7 days when nothing is loaded

export function timeBar(onChange) {
  let min = 0;
  let max = 0;
  let time = Date.now();
  const filter = el("input", { type: "checkbox", id: "time-filter" });
  const slider = el("input", { type: "range", id: "time-slider", step: "1", "aria-label": "Time (UTC)" });
  const value = el("output", { id: "time-value", for: "time-slider", "aria-live": "off" });
  const range = el("span", { id: "time-range", class: "muted" });

  function paint() {
    slider.min = String(Math.floor(min / MINUTE_MS));
    slider.max = String(Math.ceil(max / MINUTE_MS));
    slider.value = String(Math.round(time / MINUTE_MS));
    value.textContent = rfc3339(time);
    slider.setAttribute("aria-valuetext", `${rfc3339(time)} UTC`);
    range.textContent = `${rfc3339(min)} – ${rfc3339(max)}`;
  }

  function set(ms, { filtering = true } = {}) {
    time = Math.round(ms / MINUTE_MS) * MINUTE_MS;
    if (time < min) min = time;
    if (time > max) max = time;
    if (filtering) filter.checked = true;
    paint();
    onChange();
  }

  slider.addEventListener("input", () => set(Number(slider.value) * MINUTE_MS));
  filter.addEventListener("change", () => onChange());
  const step = (id, label, delta) =>
    el("button", { type: "button", id, text: label, title: `${delta < 0 ? "Back" : "Forward"} one hour`, onclick: () => set(time + delta) });

  const element = el(
    "div",
    { class: "time-bar", role: "group", "aria-label": "Time filter (UTC)" },
    el("label", { class: "check" }, filter, " Filter by time"),
    step("time-back", "−1 h", -HOUR_MS),
    slider,
    step("time-forward", "+1 h", HOUR_MS),
    el("button", { type: "button", id: "time-now", text: "Now", onclick: () => set(Date.now()) }),
    el("span", { class: "time-readout" }, value, " UTC"),
    range,
  );

  return {
    element,
    get filtering() {
      return filter.checked;
    },
    get time() {
      return time;
    },
    // Span the given windows ([start, end] in ms); `initial` is where the slider starts when it
    // has not been touched yet.
    setRange(windows, initial) {
      const valid = windows.filter(([s, e]) => Number.isFinite(s) && Number.isFinite(e));
      const touched = filter.checked;
      if (valid.length) {
        min = Math.min(...valid.map(([s]) => s));
        max = Math.max(...valid.map(([, e]) => e));
      } else {
        min = Date.now() - EMPTY_SPAN_MS;
        max = Date.now() + EMPTY_SPAN_MS;
      }
      if (touched) {
        min = Math.min(min, time);
        max = Math.max(max, time);
      } else {
        time = Math.round(Math.min(Math.max(initial ?? Date.now(), min), max) / MINUTE_MS) * MINUTE_MS;
      }
      paint();
    },
  };
}
