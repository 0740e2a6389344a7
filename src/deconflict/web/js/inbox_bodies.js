// What a notification says, per subject: a one-line summary for the list and a readable body
// for the detail. Only what the recipient was told is shown (the body is its own view).
import { el, utc } from "./api.js";
import { bandText, facts, footprintText, noticeText, volumeText, windowText, words } from "./inbox_format.js";

const SUBJECTS = {
  conflict: "Conflict",
  encounter: "Separation alert",
  release: "Protected object released",
  launch_notice: "Launch notice",
  incident: "Incident",
  request: "Request",
  message: "Message",
};

export function subjectLabel(subject) {
  return SUBJECTS[subject] || words(subject, true);
}

function partyName(parties, id) {
  if (!id) return "—";
  const p = parties.get(id);
  return p ? `${id} (${p.name})` : id;
}

// One line: what it is about, for the list.
export function summary(n, me) {
  const b = n.body || {};
  switch (n.subject) {
    case "conflict":
      return `${words(b.kind, true)} — ${b.other_party || "?"} ${words(b.other_kind)}${b.state === "resolved" ? " (resolved)" : ""}`;
    case "encounter":
      return `${b.own_track || "?"} and ${b.other_party || "?"}: ${words(b.state)}`;
    case "release":
      return `${b.title || b.id} (${words(b.site_type || b.kind)}, ${b.party})`;
    case "launch_notice":
      return `${b.party}: ${b.volumes ? b.volumes.length : 0} volume(s), ${words(b.state)}`;
    case "incident":
      return `${words(b.kind, true)}: ${b.title || ""}`;
    case "request":
      return b.party === me.party ? `Your request to ${b.to}: ${words(b.state)}` : `From ${b.party}: ${b.text || ""}`;
    case "message":
      return `From ${b.from || b.party || "?"}: ${b.text || ""}`;
    default:
      return n.subject_id;
  }
}

function conflictBody(b, parties) {
  const overlaps = b.overlaps || [];
  return [
    facts([
      ["Kind", words(b.kind, true)],
      ["Conflict", el("code", { text: b.id })],
      ["State", words(b.state)],
      ["Other party", partyName(parties, b.other_party)],
      ["Their declaration", words(b.other_kind)],
      ["Your declaration", el("code", { text: b.declaration_id })],
      ["Detected", utc(b.detected_at)],
    ]),
    el("h4", { text: "Overlap" }),
    b.overlap
      ? facts([
          ["Where", footprintText(b.overlap.geometry, b.overlap.buffer_m)],
          ["Altitude", bandText(b.overlap.altitude)],
          ["When", windowText(b.overlap.time)],
          ["Volume pairs", overlaps.length > 1 ? String(overlaps.length) : null],
        ])
      : el("p", { class: "muted", text: "No overlap (the conflict is over)." }),
  ];
}

function encounterBody(b, parties) {
  const place = b.place ? `${b.place.lat.toFixed(3)}°N ${b.place.lon.toFixed(3)}°E` : "—";
  return facts([
    ["Your aircraft", b.own_track],
    ["Other party", partyName(parties, b.other_party)],
    ["State", words(b.state)],
    ["Separation lost at", b.loss_at ? utc(b.loss_at) : null],
    ["Closest approach", utc(b.closest_at)],
    [
      "Closest distance",
      b.closest_distance_m !== undefined ? `${Math.round(b.closest_distance_m).toLocaleString("en")} m` : null,
    ],
    ["Place", place],
    ["Altitude band", bandText(b.altitude_band)],
  ]);
}

function volumesList(volumes) {
  return el(
    "ol",
    { class: "volumes" },
    (volumes || []).map((v) => el("li", { text: volumeText(v) })),
  );
}

function releaseBody(b, parties) {
  return [
    facts([
      ["Object", b.title],
      ["Kind", words(b.site_type ? `${b.site_type} (${words(b.kind)})` : b.kind)],
      ["Owner", partyName(parties, b.party)],
      ["State", words(b.state)],
      ["Verification", words(b.verification)],
      ["Expires", b.expires_at ? utc(b.expires_at) : null],
      ["Released to", (b.released_to || []).join(", ")],
      ["Purpose", b.purpose],
      ["Declaration", el("code", { text: b.id })],
    ]),
    el("h4", { text: "Volumes" }),
    volumesList(b.volumes),
  ];
}

function launchBody(b, parties) {
  return [
    facts([
      ["From", partyName(parties, b.party)],
      ["State", words(b.state)],
      ["Notice", noticeText(b.notice)],
      ["Declaration", el("code", { text: b.id })],
    ]),
    el("h4", { text: "Launch area, corridor, impact area" }),
    volumesList(b.volumes),
  ];
}

export function incidentFacts(b, parties) {
  return facts([
    ["Kind", words(b.kind, true)],
    ["Title", b.title],
    ["Reported by", partyName(parties, b.party)],
    ["Concerns", (b.parties || []).join(", ")],
    ["Occurred", utc(b.occurred_at)],
    ["Reported", utc(b.reported_at)],
    ["Place", b.place ? footprintText(b.place.geometry, b.place.buffer_m) : null],
    ["Declarations", (b.declaration_ids || []).length ? b.declaration_ids.join(", ") : null],
    ["Description", b.description ? el("div", { class: "text", text: b.description }) : null],
  ]);
}

export function repliesList(replies) {
  if (!replies || !replies.length) return el("p", { class: "muted", text: "No reply yet." });
  return el(
    "ol",
    { class: "replies" },
    replies.map((r) =>
      el(
        "li",
        {},
        el("div", { class: "muted" }, `${r.party} · ${utc(r.at)}`),
        el("div", { class: "text", text: r.text }),
      ),
    ),
  );
}

export function requestFacts(b, parties) {
  return facts([
    ["From", partyName(parties, b.party)],
    ["To", partyName(parties, b.to)],
    ["Text", el("div", { class: "text", text: b.text })],
    ["Template", b.template],
    ["Declaration", b.declaration_id ? el("code", { text: b.declaration_id }) : null],
    ["Respond by", utc(b.respond_by)],
    ["State", words(b.state)],
    ["Answered", b.answered_at ? utc(b.answered_at) : null],
    ["Answer", b.answer_text ? el("div", { class: "text", text: b.answer_text }) : null],
  ]);
}

function messageBody(b, parties) {
  return facts([
    ["From", b.from === "channel" ? "the channel (scheduled line test)" : partyName(parties, b.party)],
    ["To", b.to ? partyName(parties, b.to) : null],
    ["Text", el("div", { class: "text", text: b.text })],
    ["Template", b.template],
    ["Sent", b.sent_at ? utc(b.sent_at) : b.scheduled_for ? utc(b.scheduled_for) : null],
  ]);
}

// The body of one notification, readable.
export function bodyView(n, parties) {
  const b = n.body || {};
  switch (n.subject) {
    case "conflict":
      return conflictBody(b, parties);
    case "encounter":
      return encounterBody(b, parties);
    case "release":
      return releaseBody(b, parties);
    case "launch_notice":
      return launchBody(b, parties);
    case "incident":
      return [incidentFacts(b, parties), el("h4", { text: "Replies" }), repliesList(b.replies)];
    case "request":
      return requestFacts(b, parties);
    case "message":
      return messageBody(b, parties);
    default:
      return el("pre", { class: "raw", text: JSON.stringify(b, null, 2) });
  }
}

// Where the other tab shows the subject (incidents, requests, messages live there).
export function exchangeOf(n) {
  const tabs = { incident: "incidents", request: "requests", message: "messages" };
  const tab = tabs[n.subject];
  if (!tab || !n.body || !n.body.id) return null;
  return { tab, id: n.body.id };
}
