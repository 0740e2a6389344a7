// Shared by the inbox and the exchanges views: words for codes, durations and countdowns,
// volume summaries, and problem details shown next to the form that caused them.
import { ApiError, el, utc } from "./api.js";

export const WRITER_ROLES = new Set(["duty_officer", "party_admin", "relay"]);

const WORDS = {
  air_defense_exposure: "Air-defence exposure",
  air_defense_zone: "air-defence zone",
  humanitarian_movement: "humanitarian movement",
  protected_object_at_risk: "Protected object at risk",
  fratricide_risk: "Fratricide / clash risk",
  launch_notice: "launch notice",
  strike_on_protected_object: "Strike on a protected object",
};

// "air_defense_exposure" -> "Air-defence exposure"; known words first, then underscores to spaces.
export function words(code, capital = false) {
  if (code === null || code === undefined) return "—";
  const text = WORDS[code] || String(code).replace(/_/g, " ");
  return capital ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

// The server's clock minus ours, in ms, from the Date header of a response (1 s resolution,
// so only a clearly wrong clock is corrected); countdowns use serverNow().
let skewMs = 0;
export function noteServerDate(headers) {
  const date = headers && headers.get ? headers.get("date") : null;
  const at = date ? Date.parse(date) : NaN;
  if (Number.isFinite(at)) {
    const skew = at - Date.now();
    skewMs = Math.abs(skew) > 1500 ? skew : 0;
  }
}
export function serverNow() {
  return Date.now() + skewMs;
}

// 3725 s -> "1h 02m 05s"; whole days beyond two days as "9.6 years" style figures.
export function duration(seconds) {
  let s = Math.abs(Math.round(seconds));
  if (s >= 2 * 86400) {
    const days = s / 86400;
    return days >= 730 ? `${(days / 365.25).toFixed(1)} years` : `${Math.round(days)} days`;
  }
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const pad = (n) => String(n).padStart(2, "0");
  if (h) return `${h}h ${pad(m)}m ${pad(s)}s`;
  if (m) return `${m}m ${pad(s)}s`;
  return `${s}s`;
}

// A span that keeps counting down to `deadline` (see tickCountdowns); `done` replaces it
// when there is nothing to count (acknowledged, answered).
export function countdown(deadline, done) {
  if (done) return el("span", { class: "countdown done", text: done });
  if (!deadline) return el("span", { class: "countdown none", text: "no deadline" });
  const span = el("span", { class: "countdown", "data-deadline": deadline });
  paint(span);
  return span;
}

function paint(span) {
  const left = (Date.parse(span.dataset.deadline) - serverNow()) / 1000;
  const overdue = left < 0;
  const text = overdue ? `overdue ${duration(left)}` : `${duration(left)} left`;
  if (span.textContent !== text) span.textContent = text;
  span.classList.toggle("overdue", overdue);
  span.classList.toggle("soon", !overdue && left < 60);
}

export function tickCountdowns(root) {
  for (const span of root.querySelectorAll(".countdown[data-deadline]")) paint(span);
}

// Lead time of the declaration that raised a notification, as the recipient should read it.
export function noticeText(notice) {
  if (!notice || notice.lead_time_s === undefined || notice.lead_time_s === null) return null;
  const lead = notice.lead_time_s;
  let text = lead >= 0 ? `${duration(lead)} before it starts` : `${duration(lead)} after it had started`;
  if (notice.minimum_s) text += ` (minimum ${duration(notice.minimum_s)})`;
  if (notice.late) text += " — LATE";
  else if (notice.short) text += " — SHORT NOTICE";
  return text;
}

function positions(geometry) {
  const out = [];
  const walk = (c) => {
    if (typeof c[0] === "number") out.push(c);
    else for (const x of c) walk(x);
  };
  if (geometry && geometry.coordinates) walk(geometry.coordinates);
  return out;
}

const KM_PER_DEG = 111.32;

// A footprint in a line: its type, where its middle is, how far it spans.
export function footprintText(geometry, bufferM) {
  const pts = positions(geometry);
  if (!pts.length) return geometry ? geometry.type : "—";
  const lons = pts.map((p) => p[0]);
  const lats = pts.map((p) => p[1]);
  const [w, e, s, n] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
  const lat = (s + n) / 2;
  const lon = (w + e) / 2;
  const where = `${Math.abs(lat).toFixed(3)}°${lat >= 0 ? "N" : "S"} ${Math.abs(lon).toFixed(3)}°${lon >= 0 ? "E" : "W"}`;
  const spanKm = Math.max((n - s) * KM_PER_DEG, (e - w) * KM_PER_DEG * Math.cos((lat * Math.PI) / 180));
  const buffer = bufferM ? `, buffer ${Math.round(bufferM).toLocaleString("en")} m` : "";
  const across = spanKm >= 0.05 ? `, ${spanKm.toFixed(spanKm < 10 ? 1 : 0)} km across` : "";
  return `${geometry.type} at ${where}${across}${buffer}`;
}

export function bandText(altitude) {
  if (!altitude) return "—";
  const f = (x) => Math.round(x).toLocaleString("en");
  return `${f(altitude.lower)}–${f(altitude.upper)} ${altitude.units} ${altitude.reference}`;
}

export function windowText(time) {
  if (!time) return "—";
  return `${utc(time.start)} → ${utc(time.end)}`;
}

export function volumeText(v) {
  if (!v) return "—";
  return `${footprintText(v.geometry, v.buffer_m)}; ${bandText(v.altitude)}; ${windowText(v.time)}`;
}

// A definition list from [label, value] pairs; a value may be text or a node, null skips it.
export function facts(pairs) {
  const dl = el("dl", { class: "facts" });
  for (const [label, value] of pairs) {
    if (value === null || value === undefined || value === "") continue;
    dl.append(el("dt", { text: label }), el("dd", {}, value));
  }
  return dl;
}

// Problem details next to a form: the detail, each broken rule, and the inputs marked invalid.
export function showProblem(box, err, form) {
  box.replaceChildren();
  if (form) for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  if (!err) return;
  const problem = err instanceof ApiError ? err.problem : null;
  const status = err instanceof ApiError ? err.status : null;
  const head = problem ? problem.title || problem.code : err.message;
  box.append(el("p", { class: "problem-title" }, status ? `${status} ` : "", head || "Failed"));
  const errors = (problem && problem.errors) || [];
  if (errors.length) {
    box.append(
      el(
        "ul",
        {},
        errors.map((e) =>
          el(
            "li",
            {},
            el("code", { text: e.field || "(body)" }),
            ` ${e.detail} `,
            el("span", { class: "muted", text: `(${e.rule})` }),
          ),
        ),
      ),
    );
  } else if (problem && problem.detail) {
    box.append(el("p", { text: problem.detail }));
  }
  if (form) {
    for (const e of errors) {
      for (const input of form.querySelectorAll("[data-pointer]")) {
        const p = input.dataset.pointer;
        if (e.field === p || (e.field || "").startsWith(p + "/")) input.setAttribute("aria-invalid", "true");
      }
    }
  }
}

export function problemBox(id) {
  return el("div", { class: "problems", id, role: "alert" });
}

// Arrow keys, Home and End move the focus among the buttons of a list.
export function arrowKeys(list) {
  list.addEventListener("keydown", (event) => {
    const keys = ["ArrowDown", "ArrowUp", "Home", "End"];
    if (!keys.includes(event.key)) return;
    const buttons = [...list.querySelectorAll("button.item")];
    if (!buttons.length) return;
    const at = buttons.indexOf(document.activeElement);
    let next = at;
    if (event.key === "ArrowDown") next = Math.min(buttons.length - 1, at + 1);
    else if (event.key === "ArrowUp") next = Math.max(0, at - 1);
    else if (event.key === "Home") next = 0;
    else next = buttons.length - 1;
    event.preventDefault();
    buttons[next].focus();
  });
}

// Parties for selects: every party but the caller's own.
export function partyOptions(parties, me, selected) {
  return parties
    .filter((p) => p.id !== me.party)
    .map((p) => el("option", { value: p.id, selected: p.id === selected, text: `${p.id} — ${p.name}` }));
}
