// The public API, as the page speaks it: every request carries the principal's bearer token.
// The live stream is read with fetch (a browser's EventSource cannot send Authorization).

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem && (problem.detail || problem.title) ? (problem.detail || problem.title) : `HTTP ${status}`);
    this.status = status;
    this.problem = problem || null;
  }
}

export class Api {
  constructor(token) {
    this.token = token;
  }

  headers(extra) {
    return Object.assign({ Authorization: `Bearer ${this.token}` }, extra || {});
  }

  // Returns {status, headers, body} for any 2xx; throws ApiError for anything else.
  async request(method, path, { body, headers, query } = {}) {
    let url = path;
    if (query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) {
        if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
      }
      const text = params.toString();
      if (text) url += (url.includes("?") ? "&" : "?") + text;
    }
    const init = { method, headers: this.headers(headers) };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
    const response = await fetch(url, init);
    const type = response.headers.get("content-type") || "";
    const parsed = type.includes("json") ? await response.json() : await response.text();
    if (!response.ok) throw new ApiError(response.status, typeof parsed === "object" ? parsed : null);
    return { status: response.status, headers: response.headers, body: parsed };
  }

  async get(path, query) {
    return (await this.request("GET", path, { query })).body;
  }

  async post(path, body, headers) {
    return (await this.request("POST", path, { body, headers })).body;
  }

  // Every item of a list endpoint, following `next` cursors (at most `max` items).
  async all(path, query, max = 5000) {
    const items = [];
    let cursor = null;
    do {
      const page = await this.get(path, Object.assign({ limit: 1000 }, query || {}, cursor ? { cursor } : {}));
      items.push(...page.items);
      cursor = page.next;
    } while (cursor && items.length < max);
    return items;
  }
}

// Follow the party's live event stream; call onEvent(kind, data) for each event, onState(bool)
// when the stream opens or drops. Resumes after the last id seen. Stops when signal aborts.
export async function followEvents(api, onEvent, onState, signal) {
  let lastId = null;
  while (!signal.aborted) {
    try {
      const headers = api.headers({ Accept: "text/event-stream" });
      if (lastId) headers["Last-Event-ID"] = lastId;
      const response = await fetch("/v1/events", { headers, signal });
      if (!response.ok) throw new ApiError(response.status, null);
      onState(true);
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      let frame = { id: null, event: "message", data: [] };
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let newline;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, newline).replace(/\r$/, "");
          buffer = buffer.slice(newline + 1);
          if (line === "") {
            if (frame.id !== null) lastId = frame.id;
            if (frame.data.length) {
              try {
                onEvent(frame.event, JSON.parse(frame.data.join("\n")));
              } catch (err) {
                console.warn("event not understood", err);
              }
            }
            frame = { id: null, event: "message", data: [] };
          } else if (!line.startsWith(":")) {
            const colon = line.indexOf(":");
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
            if (field === "id") frame.id = value;
            else if (field === "event") frame.event = value;
            else if (field === "data") frame.data.push(value);
          }
        }
      }
    } catch (err) {
      if (signal.aborted) return;
    }
    onState(false);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

// Small helpers shared by the views.
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function utc(iso) {
  if (!iso) return "—";
  return iso.replace("T", " ").replace(/(\.\d+)?Z$/, "Z");
}

export const SEVERITY_ORDER = { critical: 0, high: 1, medium: 2, info: 3 };
