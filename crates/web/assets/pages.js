// The fleet's pages beyond the board, one file drawn by the path: pull requests (live
// from the board's stream), a project's open issues with spawn buttons, the spawn form,
// and the event log (live). Every page shows the dashboard notifier's notifications.
"use strict";
const $ = (sel, root = document) => root.querySelector(sel);
const text = (el, v) => { el.textContent = v == null ? "" : String(v); };
const page = location.pathname.replace(/^\//, "") || "prs";
const cards = new Map();
let choices = null;

for (const s of document.querySelectorAll("[data-page]")) s.hidden = s.dataset.page !== page;
for (const a of document.querySelectorAll(".nav a")) if (a.getAttribute("href") === "/" + page) a.setAttribute("aria-current", "page");
document.title = "ao " + page;

function el(tag, props, ...kids) {
  const e = Object.assign(document.createElement(tag), props || {});
  e.append(...kids.filter((k) => k != null));
  return e;
}
function sessionLink(id) { return el("a", { href: "/session/" + encodeURIComponent(id) }, id); }

function said(r) {
  const box = $("#said");
  box.dataset.ok = String(!!r.ok);
  box.replaceChildren(r.message + (r.hint ? " — " + r.hint : ""));
  for (const id of r.sessions || []) box.append(" ", sessionLink(id));
}

async function call(method, url, body) {
  try {
    const res = await fetch(url, {
      method, headers: body ? { "content-type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const type = res.headers.get("content-type") || "";
    const got = type.includes("json") ? await res.json() : { ok: res.ok, message: await res.text() };
    return { status: res.status, got };
  } catch (e) {
    return { status: 0, got: { ok: false, message: "the host did not answer: " + e.message } };
  }
}

// Pull requests: every card with one, as the board's stream keeps them.
function drawPrs() {
  const rows = [...cards.values()].filter((c) => c.pr).sort((a, b) => a.created_at - b.created_at);
  $("#prs tbody").replaceChildren(...rows.map((c) => {
    const link = el("a", { href: /^https?:\/\//.test(c.pr.url) ? c.pr.url : "#", rel: "noreferrer", target: "_blank" }, "#" + c.pr.number);
    const chip = (v, shown) => el("span", { className: "chip" }, shown || v);
    const tr = el("tr", {}, el("td", {}, link), el("td", {}, sessionLink(c.id)), el("td", {}, c.pr.state),
      el("td", {}, chip(c.pr.ci, "CI " + c.pr.ci)), el("td", {}, c.pr.review.replace(/_/g, " ") + (c.pr.conflicts ? ", conflicts" : "")),
      el("td", {}, c.zone));
    tr.dataset.id = c.id;
    tr.querySelectorAll(".chip")[0].dataset.v = c.pr.ci;
    return tr;
  }));
  $("[data-page=prs] .empty").hidden = rows.length > 0;
}

// Issues: the tracker's open issues of a project, a spawn button on each free one.
async function listIssues() {
  const f = $("#issue-filter");
  const project = f.project.value;
  if (!project) return;
  const q = f.label.value.trim() ? "?label=" + encodeURIComponent(f.label.value.trim()) : "";
  const { status, got } = await call("GET", "/api/projects/" + encodeURIComponent(project) + "/issues" + q);
  if (status !== 200) { said(got); $("#issues tbody").replaceChildren(); return; }
  $("#issues tbody").replaceChildren(...got.map((i) => {
    const title = i.url && /^https?:\/\//.test(i.url) ? el("a", { href: i.url, rel: "noreferrer", target: "_blank" }, i.title) : i.title;
    let on;
    if (i.session) on = sessionLink(i.session);
    else {
      on = el("button", { type: "button", className: "spawn-issue" }, "spawn");
      on.addEventListener("click", async () => {
        on.disabled = true;
        text(on, "spawning…");
        const { got } = await call("POST", "/api/spawn", { project, issues: [i.id] });
        said(got);
        listIssues();
      });
    }
    const tr = el("tr", {}, el("td", {}, "#" + i.id), el("td", {}, title), el("td", {}, (i.labels || []).join(", ")), el("td", {}, on));
    tr.dataset.issue = i.id;
    return tr;
  }));
}

function fillProjects() {
  for (const sel of document.querySelectorAll("select.projects")) {
    sel.replaceChildren(...choices.projects.map((p) => new Option(p.id + (p.name && p.name !== p.id ? " (" + p.name + ")" : ""), p.id)));
  }
  const agent = $("#spawn").agent;
  agent.append(...choices.agents.map((a) => new Option(a, a)));
}

$("#issue-filter").addEventListener("submit", (e) => { e.preventDefault(); listIssues(); });
$("#issue-filter").project.addEventListener("change", listIssues);
$("#by-label").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = $("#issue-filter");
  const labels = f.label.value.split(",").map((l) => l.trim()).filter(Boolean);
  if (!labels.length) { said({ ok: false, message: "which labels? write them above, as bug, ready" }); return; }
  const limit = Number(e.target.limit.value);
  if (!Number.isInteger(limit) || limit < 1) { said({ ok: false, message: "at most how many? give a number of 1 or more" }); return; }
  const button = $("button", e.target);
  button.disabled = true;
  said({ ok: true, message: "spawning…" });
  const { got } = await call("POST", "/api/spawn", { project: f.project.value, labels, limit });
  button.disabled = false;
  said(got);
  listIssues();
});
$("#spawn").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target;
  const body = { project: f.project.value, agent: f.agent.value || undefined };
  const issues = f.issues.value.split(/[\s,]+/).filter(Boolean);
  if (f.prompt.value.trim()) body.prompt = f.prompt.value;
  if (issues.length) body.issues = issues;
  const button = $("button", f);
  button.disabled = true;
  said({ ok: true, message: "spawning…" });
  const { got } = await call("POST", "/api/spawn", body);
  button.disabled = false;
  said(got);
  if (got.ok) { f.prompt.value = ""; f.issues.value = ""; }
});

// Events: the log's newest entries, then each new one as the host records it.
const NOTE = new Set(["notified", "notify_gave_up"]);
function logRow(e) {
  const li = el("li", {}, el("time", {}, new Date(e.at).toLocaleString()), " ",
    el("span", { className: "chip" }, e.priority), " ",
    e.session ? sessionLink(e.session) : e.project, " ", e.message);
  li.dataset.kind = e.kind;
  li.dataset.priority = e.priority;
  li.hidden = $("#only-notes").checked && !NOTE.has(li.dataset.kind);
  return li;
}
async function loadLog() {
  const { status, got } = await call("GET", "/api/log");
  if (status === 200) $("#log").replaceChildren(...got.reverse().map(logRow));
}
$("#only-notes").addEventListener("change", () => {
  for (const li of $("#log").children) li.hidden = $("#only-notes").checked && !NOTE.has(li.dataset.kind);
});

// The dashboard notifier's notifications, on whichever page is open.
function toast(e) {
  // The log says `dashboard delivered "<title>" in N ms`: the title is the news.
  const title = /"(.*)"/.exec(e.message);
  const about = e.session ? sessionLink(e.session) : e.project;
  const t = el("div", { className: "toast" }, about || null, about ? ": " : null, title ? title[1] : e.message);
  t.dataset.priority = e.priority;
  $("#toasts").append(t);
  setTimeout(() => t.remove(), 15000);
}

function connect() {
  const live = $("#live");
  const es = new EventSource("/api/events");
  es.addEventListener("snapshot", (e) => {
    cards.clear();
    for (const c of JSON.parse(e.data).cards) cards.set(c.id, c);
    drawPrs();
    if (page === "events") loadLog();
  });
  es.addEventListener("card", (e) => { const c = JSON.parse(e.data); cards.set(c.id, c); drawPrs(); });
  es.addEventListener("gone", (e) => { cards.delete(JSON.parse(e.data).id); drawPrs(); });
  es.addEventListener("event", (e) => {
    const ev = JSON.parse(e.data);
    if (page === "events") $("#log").prepend(logRow(ev));
    if (ev.kind === "notified" && ev.notifier === "dashboard") toast(ev);
  });
  es.onopen = () => { live.dataset.state = "live"; text(live, "live"); };
  es.onerror = () => { live.dataset.state = "lost"; text(live, "reconnecting"); };
}

(async () => {
  const { status, got } = await call("GET", "/api/projects");
  if (status === 200) {
    choices = got;
    fillProjects();
    const want = new URLSearchParams(location.search).get("project");
    if (want) for (const sel of document.querySelectorAll("select.projects")) sel.value = want;
    if (page === "issues") listIssues();
  } else said(got);
})();
connect();
