// The shell: sign-in, tabs, the live event stream, and the context every view gets.
//
// A view module exports mount(section, ctx) and returns {show(arg)}; show is called each time
// its tab is opened (arg: what another view asked it to show, e.g. an object id for the
// record). ctx = {api, me, on(kind, fn), toast(text), open(view, arg)}; on("*", fn) gets every
// live event as fn(kind, data).

import { Api, ApiError, followEvents } from "./api.js";
import * as mapView from "./map.js";
import * as inboxView from "./inbox.js";
import * as exchangesView from "./exchanges.js";
import * as channelView from "./channel.js";
import * as recordView from "./record.js";

const VIEWS = { map: mapView, inbox: inboxView, exchanges: exchangesView, channel: channelView, record: recordView };
const TOKEN_KEY = "deconflict.token";

const $ = (id) => document.getElementById(id);
let session = null;

function toast(text, kind = "info") {
  const box = $("toast");
  box.textContent = text;
  box.dataset.kind = kind;
  box.classList.add("shown");
  clearTimeout(box._timer);
  box._timer = setTimeout(() => box.classList.remove("shown"), 6000);
}

async function signIn(token) {
  const api = new Api(token);
  const me = await api.get("/v1/me");
  sessionStorage.setItem(TOKEN_KEY, token);
  const listeners = new Map();
  const controller = new AbortController();
  const ctx = {
    api,
    me,
    toast,
    on(kind, fn) {
      if (!listeners.has(kind)) listeners.set(kind, []);
      listeners.get(kind).push(fn);
    },
    open(view, arg) {
      showView(view, arg);
    },
  };
  session = { api, me, ctx, controller, mounted: {} };
  $("sign-in").hidden = true;
  $("tabs").hidden = false;
  $("sign-out").hidden = false;
  $("whoami").textContent = `${me.name} · ${me.party} · ${me.role.replace("_", " ")}`;
  for (const [name, module] of Object.entries(VIEWS)) {
    const section = $(`view-${name}`);
    section.replaceChildren();
    session.mounted[name] = module.mount(section, ctx);
  }
  followEvents(
    api,
    (kind, data) => {
      for (const fn of [...(listeners.get(kind) || []), ...(listeners.get("*") || [])]) {
        try {
          fn(kind, data);
        } catch (err) {
          console.error(err);
        }
      }
    },
    (up) => {
      $("live").hidden = false;
      $("live").classList.toggle("down", !up);
      $("live").textContent = up ? "live" : "reconnecting";
    },
    controller.signal,
  );
  showView(location.hash.slice(1) in VIEWS ? location.hash.slice(1) : "map");
}

function showView(name, arg) {
  if (!session) return;
  for (const button of $("tabs").querySelectorAll("button")) {
    if (button.dataset.view === name) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  for (const section of document.querySelectorAll("section.view")) {
    section.hidden = section.dataset.view !== name;
  }
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
  session.mounted[name].show(arg);
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  if (session) session.controller.abort();
  session = null;
  location.hash = "";
  location.reload();
}

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("sign-in-error").textContent = "";
    try {
      await signIn($("token").value.trim());
      $("token").value = "";
    } catch (err) {
      $("sign-in-error").textContent =
        err instanceof ApiError && err.status === 401 ? "That token is not valid." : `Sign-in failed: ${err.message}`;
    }
  });
  $("sign-out").addEventListener("click", signOut);
  $("tabs").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-view]");
    if (button) showView(button.dataset.view);
  });
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) signIn(saved).catch(() => sessionStorage.removeItem(TOKEN_KEY));
  else $("token").focus();
});
