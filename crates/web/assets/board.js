// The board: a snapshot of every card, then each change, from the host's stream
// (server-sent events; the browser resumes after a reconnect with Last-Event-ID).
"use strict";
const TITLES = { merge: "Merge", action: "Action", respond: "Respond", review: "Review",
  pending: "Pending", working: "Working", done: "Done" };
const ZONES = { simple: ["merge", "action", "pending", "working", "done"],
  detailed: ["merge", "respond", "review", "pending", "working", "done"] };
const REVIEW = { approved: "approved", changes_requested: "changes requested", pending: "review pending" };
const cards = new Map();
let zones = ZONES.simple;
const $ = (sel, root = document) => root.querySelector(sel);

function age(ms) {
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 60) return Math.floor(s) + "s";
  if (s < 3600) return Math.floor(s / 60) + "m";
  if (s < 86400) return Math.floor(s / 3600) + "h";
  return Math.floor(s / 86400) + "d";
}

function layout() {
  const board = $("#board");
  board.replaceChildren();
  for (const z of zones) {
    const sec = document.createElement("section");
    sec.className = "zone";
    sec.id = "zone-" + z;
    const h = document.createElement("h2");
    h.append(TITLES[z] + " ", Object.assign(document.createElement("span"), { className: "count" }));
    sec.append(h);
    board.append(sec);
  }
}

function text(el, v) { el.textContent = v == null ? "" : String(v); }
function chip(el, v, shown) { el.dataset.v = v; text(el, shown); el.hidden = !v || v === "none"; }

function draw(c) {
  let el = document.getElementById("card-" + c.id);
  if (!el) {
    el = $("#card").content.firstElementChild.cloneNode(true);
    el.id = "card-" + c.id;
    el.dataset.id = c.id;
  }
  el.dataset.zone = c.zone;
  el.dataset.project = c.project;
  el.dataset.created = c.created_at;
  text($(".id", el), c.id);
  $(".id", el).href = "/session/" + encodeURIComponent(c.id);
  chip($(".status", el), c.status, c.status.replace(/_/g, " "));
  text($(".age", el), age(c.created_at));
  text($(".issue", el), c.issue ? "issue " + c.issue : "");
  text($(".branch", el), c.branch);
  text($(".agent", el), c.agent);
  text($(".activity", el), (c.activity || "unknown").replace(/_/g, " "));
  text($(".question", el), c.question || "");
  text($(".limit", el), c.limit_resets_at ? "limit lifts " + new Date(c.limit_resets_at).toLocaleTimeString() : "");
  const pr = $(".pr", el);
  pr.hidden = !c.pr;
  if (c.pr) {
    const a = $(".number", el);
    a.href = /^https?:\/\//.test(c.pr.url) ? c.pr.url : "#";
    text(a, "#" + c.pr.number + (c.pr.state === "open" ? "" : " " + c.pr.state));
    chip($(".ci", el), c.pr.ci, "CI " + c.pr.ci);
    chip($(".review", el), c.pr.review, REVIEW[c.pr.review] || c.pr.review);
    $(".conflicts", el).hidden = !c.pr.conflicts;
  }
  const zone = document.getElementById("zone-" + c.zone);
  if (zone && el.parentElement !== zone) {
    // Oldest first, as the host lists them.
    const after = [...zone.querySelectorAll(".card")].find((o) => Number(o.dataset.created) > c.created_at);
    zone.insertBefore(el, after || null);
  }
}

function filter() {
  const p = $("#project").value;
  for (const el of document.querySelectorAll(".card")) el.hidden = !!p && el.dataset.project !== p;
  for (const z of document.querySelectorAll("section.zone")) {
    text($(".count", z), z.querySelectorAll(".card:not([hidden])").length);
  }
}

function projects() {
  const sel = $("#project");
  const have = new Set([...sel.options].map((o) => o.value));
  for (const c of cards.values()) {
    if (!have.has(c.project)) { sel.append(new Option(c.project, c.project)); have.add(c.project); }
  }
}

// Each project's orchestrator, a link to its terminal.
function orchestrators() {
  const links = [...cards.values()].filter((c) => c.id.endsWith("-orchestrator"))
    .map((c) => {
      const a = document.createElement("a");
      a.href = "/session/" + encodeURIComponent(c.id);
      a.dataset.id = c.id;
      text(a, c.project + " orchestrator");
      return a;
    });
  $("#orchestrators").replaceChildren(...links);
}

function changed() { projects(); filter(); orchestrators(); }

function connect() {
  const live = $("#live");
  const es = new EventSource("/api/events");
  es.addEventListener("snapshot", (e) => {
    const b = JSON.parse(e.data);
    zones = ZONES[b.zones] || ZONES.simple;
    cards.clear();
    layout();
    for (const c of b.cards) { cards.set(c.id, c); draw(c); }
    changed();
  });
  es.addEventListener("card", (e) => { const c = JSON.parse(e.data); cards.set(c.id, c); draw(c); changed(); });
  es.addEventListener("gone", (e) => {
    const { id } = JSON.parse(e.data);
    cards.delete(id);
    document.getElementById("card-" + id)?.remove();
    changed();
  });
  es.onopen = () => { live.dataset.state = "live"; text(live, "live"); };
  es.onerror = () => { live.dataset.state = "lost"; text(live, "reconnecting"); };
}

$("#project").addEventListener("change", filter);
setInterval(() => {
  for (const el of document.querySelectorAll(".card")) text($(".age", el), age(Number(el.dataset.created)));
}, 30000);
layout();
connect();
