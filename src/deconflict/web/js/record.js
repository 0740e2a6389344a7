// The "Record" view: what the ledger holds about one object that the caller's party may read —
// each leaf with its receipt data — and "Export evidence", which saves the evidence file byte
// for byte as GET /v1/ledger/evidence/{id} answered, for `deconflict verify FILE` offline.
//
// The page recomputes each leaf hash and checks each inclusion proof against the file's
// checkpoint root itself (SHA-256 below, so that it works on a plain-HTTP operations network
// where crypto.subtle is absent). It does not check the checkpoint's signature: that is
// `deconflict verify`'s job, with a key the auditor trusts.

import { el, utc } from "./api.js";

// SHA-256 (FIPS 180-4). Constants: the first 32 bits of the fractional parts of the square
// roots (H0) and cube roots (K) of the first primes, derived here rather than typed out.
const PRIMES = [];
for (let n = 2; PRIMES.length < 64; n++) if (PRIMES.every((p) => n % p !== 0)) PRIMES.push(n);
const frac32 = (x) => Math.floor((x - Math.floor(x)) * 2 ** 32) >>> 0;
const H0 = PRIMES.slice(0, 8).map((p) => frac32(Math.sqrt(p)));
const K = PRIMES.map((p) => frac32(Math.cbrt(p)));
const rotr = (x, n) => (x >>> n) | (x << (32 - n));

export function sha256(bytes) {
  const length = bytes.length;
  const padded = new Uint8Array(Math.ceil((length + 9) / 64) * 64);
  padded.set(bytes);
  padded[length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(length / 2 ** 29));
  view.setUint32(padded.length - 4, (length * 8) >>> 0);
  const h = Uint32Array.from(H0);
  const w = new Uint32Array(64);
  for (let offset = 0; offset < padded.length; offset += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(offset + 4 * i);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    let [a, b, c, d, e, f, g, k] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = (k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      k = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += k;
  }
  const out = new Uint8Array(32);
  const outView = new DataView(out.buffer);
  h.forEach((word, i) => outView.setUint32(4 * i, word));
  return out;
}

export function fromBase64(text) {
  const binary = atob(text);
  return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
}

export function toBase64(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

// RFC 9162 hashes: a leaf is SHA-256(0x00 || leaf), a node SHA-256(0x01 || left || right).
export const leafHash = (leaf) => sha256(concat(Uint8Array.of(0), leaf));
const nodeHash = (left, right) => sha256(concat(Uint8Array.of(1), left, right));

// RFC 9162 section 2.1.3.2: does `proof` take the leaf at `index` to `root` in a tree of `size`?
export function verifyInclusion(index, size, hash, proof, root) {
  if (!(index >= 0 && index < size)) return false;
  let fn = index;
  let sn = size - 1;
  let r = hash;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && same(r, root);
}

// A C2SP checkpoint: origin, tree size, base64 root, a blank line, signature lines.
export function parseCheckpoint(text) {
  const lines = String(text).split("\n");
  const blank = lines.indexOf("");
  return {
    origin: lines[0] || "",
    size: Number(lines[1]),
    root: lines[2] || "",
    signatures: blank < 0 ? 0 : lines.slice(blank + 1).filter((l) => l.startsWith("\u2014 ")).length,
  };
}

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
