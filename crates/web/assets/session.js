// A session's page: its live terminal (xterm.js over a WebSocket bridged to its pane:
// read-only until "take control"), its facts and events from the host's stream, and
// the CLI's actions with the CLI's refusals.
"use strict";
const $ = (sel) => document.querySelector(sel);
const id = decodeURIComponent(location.pathname.split("/").pop());
const api = "/api/sessions/" + encodeURIComponent(id);
const text = (el, v) => { el.textContent = v == null ? "" : String(v); };
text($("#sid"), id);
document.title = "ao " + id;

const term = new Terminal({ scrollback: 5000, fontSize: 13, cursorBlink: false });
window.aoFit = () => fit.proposeDimensions(); // read by the tests: what fits the box
const fit = new FitAddon.FitAddon(); // measures the cells that fit, for scale()
term.loadAddon(fit);
term.open($("#terminal"));
window.aoTerm = term; // read by the tests: the terminal's buffer
let control = false;
let socket = null;
let retry = 1000; // after the terminal closes (the pane ended, the host restarted): backing off to 30 s

// The pane's size is the agent's: the page sizes its font so the pane's width fills
// the terminal's box exactly (down to 8 px, then the box scrolls), and never asks the
// pane to change. A cell's width follows the font's size, so one step gets close and a
// second, from the measured result, settles it.
const FONT = 13;
function scale() {
  term.options.fontSize = FONT;
  for (let i = 0; i < 2; i++) {
    const want = fit.proposeDimensions();
    if (!want || want.cols >= term.cols) return;
    const size = Math.floor(10 * term.options.fontSize * want.cols / term.cols) / 10;
    term.options.fontSize = Math.max(8, size);
  }
  // Glyph widths round: a last few tenths of a pixel off, until it fits.
  for (let i = 0; i < 20 && term.options.fontSize > 8; i++) {
    const want = fit.proposeDimensions();
    if (!want || want.cols >= term.cols) return;
    term.options.fontSize = Math.round(10 * term.options.fontSize - 1) / 10;
  }
}
window.addEventListener("resize", () => { if (term.cols) scale(); });

function connect() {
  const live = $("#live");
  socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + api + "/terminal");
  socket.binaryType = "arraybuffer";
  socket.onopen = () => { retry = 1000; live.dataset.state = "live"; text(live, "live"); };
  socket.onmessage = (e) => {
    if (typeof e.data !== "string") { term.write(new Uint8Array(e.data)); return; }
    const note = JSON.parse(e.data);
    if (note.screen) {
      const { width, height } = note.screen;
      term.write("", () => { term.reset(); term.resize(width, height); scale(); });
    } else if (note.error) {
      said({ ok: false, message: note.error.message });
    }
  };
  socket.onclose = () => {
    live.dataset.state = "lost";
    text(live, "terminal closed");
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 30000);
  };
}

term.onData((keys) => { if (control && socket && socket.readyState === WebSocket.OPEN) socket.send(keys); });
$("#control").addEventListener("change", (e) => {
  control = e.target.checked;
  const s = $("#term-state");
  text(s, control ? "your keys go to the agent" : "read-only");
  s.toggleAttribute("data-control", control);
  if (control) term.focus();
});

function said(r) {
  const el = $("#said");
  el.dataset.ok = String(!!r.ok);
  text(el, r.message + (r.hint ? " — " + r.hint : ""));
}

async function act(what, body) {
  try {
    const res = await fetch(api + "/" + what, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body || {}),
    });
    const type = res.headers.get("content-type") || "";
    said(type.includes("json") ? await res.json() : { ok: res.ok, message: await res.text() });
  } catch (e) {
    said({ ok: false, message: "the host did not answer: " + e.message });
  }
  facts();
}

$("#send").addEventListener("submit", (e) => {
  e.preventDefault();
  const line = $("#line");
  if (line.value.trim()) { act("send", { text: line.value }); line.value = ""; }
});
$("#restore").addEventListener("click", () => act("restore"));
// A button that acts on a second press within 5 s: kill and merge cannot be taken back.
function confirmed(sel, label, then) {
  let armed = null;
  $(sel).addEventListener("click", () => {
    const b = $(sel);
    if (!armed) {
      text(b, "confirm " + label);
      armed = setTimeout(() => { armed = null; text(b, label); }, 5000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    text(b, label);
    then();
  });
}
confirmed("#kill", "kill", () => act("kill"));
confirmed("#merge", "merge", () => act("merge"));
$("#claim").addEventListener("submit", (e) => {
  e.preventDefault();
  const pr = $("#claim-pr");
  if (pr.value.trim()) { act("claim", { pr: pr.value.trim() }); pr.value = ""; }
});

function draw(f) {
  const c = f.card;
  const st = $("#status");
  st.dataset.v = c.status;
  text(st, c.status.replace(/_/g, " "));
  text($("#activity"), (c.activity || "unknown").replace(/_/g, " "));
  text($("#branch"), c.branch);
  text($("#agent"), c.agent);
  text($("#issue"), c.issue || "—");
  text($("#question"), c.question || "");
  const pr = $("#pr");
  pr.replaceChildren();
  if (c.pr) {
    const a = document.createElement("a");
    a.href = /^https?:\/\//.test(c.pr.url) ? c.pr.url : "#";
    a.rel = "noreferrer";
    a.target = "_blank";
    text(a, "#" + c.pr.number);
    pr.append(a, " " + c.pr.state + ", CI " + c.pr.ci + ", " + c.pr.review.replace(/_/g, " ")
      + (c.pr.conflicts ? ", conflicts" : "") + (f.mergeable ? ", mergeable" : ""));
  } else text(pr, "—");
  const card = $("#prcard");
  card.hidden = !c.pr;
  text($("#pr-read"), f.read_at ? "read " + new Date(f.read_at).toLocaleTimeString()
    + (f.read_error ? "; a later read failed: " + f.read_error : "") : "");
  const open = c.pr && c.pr.state === "open";
  $("#merge").hidden = !open;
  $("#merge").toggleAttribute("data-ready", open && f.blockers.length === 0);
  $("#blockers").replaceChildren(...(open ? f.blockers : []).map((b) => {
    const li = document.createElement("li");
    text(li, b);
    return li;
  }));
  $("#checks").replaceChildren(...f.checks.map((k) => {
    const li = document.createElement("li");
    li.dataset.v = k.state;
    text(li, k.name + ": " + k.state + (k.required ? " (required)" : ""));
    if (k.log_excerpt && k.state === "failed") {
      const pre = document.createElement("pre");
      text(pre, k.log_excerpt);
      li.append(pre);
    }
    return li;
  }));
  $("#threads").replaceChildren(...f.threads.map((t) => {
    const li = document.createElement("li");
    const where = document.createElement("span");
    where.className = "where";
    text(where, (t.path ? t.path + (t.line ? ":" + t.line : "") : "on the pull request")
      + " " + (t.author || "someone") + ":");
    li.append(where, t.body);
    return li;
  }));
  $("#events").replaceChildren(...f.events.map((e) => {
    const li = document.createElement("li");
    const t = document.createElement("time");
    text(t, new Date(e.at).toLocaleTimeString());
    li.append(t, e.message);
    return li;
  }));
}

// While the agent asks, its question and one button per answer it offers (read afresh
// from the agent); with none offered, the send box below answers in words. While the
// card says the agent asks and the fresh read offers no buttons (its menu not drawn yet,
// as its hook can come first; a read that failed or saw it busy a moment), the page looks
// again after 1 s, backing off to 8 s. An answer names the question it was chosen for;
// after a tap the buttons wait a moment, so a menu not yet redrawn is not offered twice.
let asked = 0; // the newest /question fetch: an older reply is dropped
let answered = 0; // when an answer was sent (ms)
let again = null; // the next look while asked with no buttons
let againIn = 1000;
function lookAgain() {
  clearTimeout(again);
  again = setTimeout(() => { again = null; facts(); }, againIn);
  againIn = Math.min(againIn * 2, 8000);
}
async function question(f) {
  const box = $("#choices");
  const mine = ++asked;
  if (!f || f.card.activity !== "waiting_input") {
    box.replaceChildren();
    clearTimeout(again);
    againIn = 1000;
    return;
  }
  if (Date.now() - answered < 3000) {
    box.replaceChildren();
    setTimeout(facts, 3000 - (Date.now() - answered));
    return;
  }
  let q = null;
  try {
    const res = await fetch(api + "/question");
    if (res.ok) q = await res.json();
  } catch (e) { /* shown as no buttons */ }
  if (mine !== asked) return;
  if (q && q.asking && q.question) text($("#question"), q.question);
  const choices = q && q.asking ? q.choices : [];
  if (choices.length) againIn = 1000; else lookAgain();
  box.replaceChildren(...choices.map((c) => {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.keys = c.keys;
    text(b, c.label);
    b.addEventListener("click", () => {
      box.replaceChildren();
      answered = Date.now();
      act("answer", { keys: c.keys, fingerprint: q.fingerprint });
    });
    return b;
  }));
}

async function facts() {
  const res = await fetch(api);
  if (res.ok) {
    const f = await res.json();
    draw(f);
    question(f);
  } else if (res.status === 404) text($("#status"), "gone");
}

// The facts again whenever the host's stream says this session changed.
const es = new EventSource("/api/events");
es.addEventListener("snapshot", facts);
es.addEventListener("card", (e) => { if (JSON.parse(e.data).id === id) facts(); });
es.addEventListener("gone", (e) => { if (JSON.parse(e.data).id === id) facts(); });
connect();
