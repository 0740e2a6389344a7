// The "Record" view: what the ledger holds about one object that the caller's party may read —
// each leaf with its receipt data — and "Export evidence", which saves the evidence file byte
// for byte as GET /v1/ledger/evidence/{id} answered, for `deconflict verify FILE` offline.
//
// The page recomputes each leaf hash and checks each inclusion proof against the file's
// checkpoint root itself (merkle.js). It does not check the checkpoint's signature: that is
// `deconflict verify`'s job, with a key the auditor trusts.

import { el, utc } from "./api.js";
import { fromBase64, leafHash, parseCheckpoint, toBase64, verifyInclusion } from "./merkle.js";

const safeName = (id) => id.replace(/[^A-Za-z0-9_.-]/g, "_");

function download(text, filename) {
  // A blob: URL, so nothing leaves the page and the self-only policy is kept.
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const link = el("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

export function mount(section, ctx) {
  const { api, me } = ctx;
  const input = el("input", {
    id: "record-id",
    name: "object",
    type: "text",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    size: "44",
    placeholder: "dcl_…, cfl_…, ntf_…, inc_…, req_…, msg_…",
    "aria-describedby": "record-help",
  });
  const exportButton = el("button", { type: "button", id: "record-export", disabled: true, text: "Export evidence" });
  const message = el("p", { id: "record-message", role: "status", "aria-live": "polite" });
  const title = el("h3", { id: "record-title" });
  const checkpointBox = el("div", { id: "record-checkpoint", class: "record-checkpoint" });
  const entriesBox = el("div", { id: "record-entries" });

  section.classList.add("record-view");
  section.append(
    el(
      "form",
      { id: "record-form", class: "record-form", onsubmit: submit },
      el("label", { for: "record-id", text: "Object id" }),
      input,
      el("button", { type: "submit", class: "primary", id: "record-show", text: "Show record" }),
      exportButton,
    ),
    el("p", {
      id: "record-help",
      class: "muted",
      text: "Any declaration, conflict, notification, incident, request or message your party may read.",
    }),
    message,
    title,
    checkpointBox,
    entriesBox,
  );

  let shown = null; // {id, text, evidence, rows}
  let current = null; // the latest checkpoint, parsed
  let latest = 0;

  function setMessage(text, kind) {
    message.textContent = text;
    message.className = kind === "error" ? "error" : "muted";
  }

  async function fetchEvidence(id) {
    // Raw text: the export must be exactly what the API answered, not a re-serialisation.
    const response = await fetch(`/v1/ledger/evidence/${encodeURIComponent(id)}`, {
      headers: api.headers({ Accept: "application/json" }),
    });
    const text = await response.text();
    return { status: response.status, text };
  }

  function analyse(evidence) {
    const cp = parseCheckpoint(evidence.checkpoint);
    let root = null;
    try {
      root = fromBase64(cp.root);
    } catch {
      root = null;
    }
    const decoder = new TextDecoder();
    const rows = evidence.entries.map((entry) => {
      const row = { index: entry.leaf_index, proofLength: entry.inclusion.length, treeSize: cp.size };
      try {
        const bytes = fromBase64(entry.leaf);
        const hash = leafHash(bytes);
        row.hash = toBase64(hash);
        row.leaf = JSON.parse(decoder.decode(bytes));
        row.verified =
          root !== null && verifyInclusion(entry.leaf_index, cp.size, hash, entry.inclusion.map(fromBase64), root);
      } catch {
        row.verified = false;
      }
      return row;
    });
    return { cp, rows };
  }

  function describeBy(by) {
    if (by === null || by === undefined) return "the service";
    return by === me.id ? `${by} (you)` : by;
  }

  function renderCheckpoint() {
    const parts = [];
    if (current) {
      parts.push(
        el(
          "div",
          { id: "record-current" },
          el("strong", { text: "Current tree head: " }),
          `size ${current.size}, root `,
          el("code", { text: current.root }),
          ` (${current.origin}, ${current.signatures} signature${current.signatures === 1 ? "" : "s"})`,
        ),
      );
    }
    if (shown) {
      const size = shown.cp.size;
      parts.push(
        el(
          "div",
          { id: "record-file-checkpoint" },
          el("strong", { text: "This record's checkpoint: " }),
          `size ${size}, root `,
          el("code", { text: shown.cp.root }),
        ),
      );
      if (current && current.size > size) {
        parts.push(
          el(
            "div",
            { class: "record-grown" },
            `The log has grown by ${current.size - size} leaves since this record was read. `,
            el("button", { type: "button", onclick: () => load(shown.id), text: "Read it again" }),
          ),
        );
      }
    }
    checkpointBox.replaceChildren(...parts);
  }

  function renderEntries() {
    if (!shown) {
      title.textContent = "";
      entriesBox.replaceChildren();
      return;
    }
    const { evidence, rows } = shown;
    const subject = [...rows].reverse().find((r) => r.leaf && r.leaf.object && r.leaf.object.id === evidence.subject);
    const about = subject ? subject.leaf.object : null;
    title.textContent = `Record of ${evidence.subject}${about && about.title ? ` — ${about.title}` : ""}${
      about && about.kind ? ` (${about.kind})` : ""
    }: ${rows.length} ${rows.length === 1 ? "entry" : "entries"}`;
    const body = [];
    for (const r of rows) {
      const detailId = `record-leaf-${r.index}`;
      const toggle = el("button", {
        type: "button",
        class: "linkish",
        "aria-expanded": "false",
        "aria-controls": detailId,
        text: "leaf JSON",
      });
      const detail = el(
        "tr",
        { id: detailId, class: "record-leaf", hidden: true },
        el("td", { colspan: "8" }, el("pre", { text: r.leaf ? JSON.stringify(r.leaf, null, 2) : "(not a readable leaf)" })),
      );
      toggle.addEventListener("click", () => {
        detail.hidden = !detail.hidden;
        toggle.setAttribute("aria-expanded", String(!detail.hidden));
      });
      body.push(
        el(
          "tr",
          { "data-leaf-index": String(r.index) },
          el("td", { class: "index", text: String(r.index) }),
          el("td", { class: "type", text: r.leaf ? r.leaf.type : "?" }),
          el("td", { class: "at", text: r.leaf ? utc(r.leaf.at) : "—" }),
          el("td", { class: "by mono", text: r.leaf ? describeBy(r.leaf.by) : "—" }),
          el("td", { class: "leaf-hash mono", text: r.hash || "—" }),
          el("td", { class: "tree-size", text: String(r.treeSize) }),
          el(
            "td",
            { class: "proof" },
            `${r.proofLength} hashes `,
            el("span", {
              class: r.verified ? "proof-ok" : "proof-bad",
              text: r.verified ? "✓ verifies" : "✗ does not verify",
            }),
          ),
          el("td", {}, toggle),
        ),
        detail,
      );
    }
    entriesBox.replaceChildren(
      el(
        "table",
        { class: "list record-table", id: "record-table" },
        el(
          "thead",
          {},
          el(
            "tr",
            {},
            ["Leaf", "Type", "Time (UTC)", "By", "Leaf hash (SHA-256)", "Tree size", "Inclusion proof", ""].map((h) =>
              el("th", { scope: "col", text: h }),
            ),
          ),
        ),
        el("tbody", {}, body),
      ),
      el("p", {
        class: "muted",
        text:
          "Proofs are checked here against the checkpoint's root; its signature is checked offline by " +
          "`deconflict verify` on the exported file.",
      }),
    );
  }

  async function refreshCheckpoint() {
    try {
      current = parseCheckpoint(await api.get("/v1/ledger/checkpoint"));
    } catch {
      current = null;
    }
    renderCheckpoint();
  }

  // Read the record of `id` and show it; returns the raw text when it was read.
  async function load(id) {
    const mine = ++latest;
    exportButton.disabled = true;
    setMessage(`Reading the record of ${id}…`);
    let answer;
    try {
      answer = await fetchEvidence(id);
    } catch (err) {
      if (mine === latest) setMessage(`Could not reach the service: ${err.message}`, "error");
      return null;
    }
    if (mine !== latest) return null;
    if (answer.status !== 200) {
      shown = null;
      renderEntries();
      renderCheckpoint();
      if (answer.status === 404) {
        // The same words whether the object does not exist or is not the caller's to read.
        setMessage(`Not found: nothing on the record about ${id} that your party may read.`, "error");
      } else {
        let detail = `HTTP ${answer.status}`;
        try {
          const problem = JSON.parse(answer.text);
          detail = `${problem.detail || problem.title} (HTTP ${answer.status})`;
        } catch {
          // not a problem document: the status says enough
        }
        setMessage(`Could not read the record: ${detail}`, "error");
      }
      return null;
    }
    const evidence = JSON.parse(answer.text);
    shown = { id, text: answer.text, evidence, ...analyse(evidence) };
    renderEntries();
    await refreshCheckpoint();
    if (mine !== latest) return null;
    const bad = shown.rows.filter((r) => !r.verified).length;
    setMessage(
      bad
        ? `${bad} of ${shown.rows.length} inclusion proofs do not verify against the checkpoint.`
        : `Read at ${utc(evidence.exported_at)}; every inclusion proof verifies against the checkpoint.`,
      bad ? "error" : null,
    );
    exportButton.disabled = false;
    return answer.text;
  }

  function submit(event) {
    event.preventDefault();
    const id = input.value.trim();
    if (!id) {
      setMessage("Give the id of an object.", "error");
      input.focus();
      return;
    }
    load(id);
  }

  exportButton.addEventListener("click", async () => {
    if (!shown) return;
    const id = shown.id;
    // Read it afresh so the file holds the log as it stands, and show what the file holds.
    const text = await load(id);
    if (text !== null) {
      download(text, `evidence-${safeName(id)}.json`);
      ctx.toast(`Saved evidence-${safeName(id)}.json: check it with deconflict verify.`);
      exportButton.focus();
    }
  });

  let pending = null;
  ctx.on("*", () => {
    if (section.hidden) return;
    clearTimeout(pending);
    pending = setTimeout(refreshCheckpoint, 1000);
  });

  return {
    show(arg) {
      if (typeof arg === "string" && arg) {
        input.value = arg;
        load(arg);
      } else {
        refreshCheckpoint();
      }
    },
  };
}
