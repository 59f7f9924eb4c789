// ao's reporter for one opencode session, loaded through OPENCODE_CONFIG_CONTENT.
// ao writes this file into the session's own directory with the two constants filled in.
// It reports each change of the session's state to `ao hook opencode EVENT` (the event's
// JSON on standard input), one call at a time so they arrive in order, and keeps a small
// summary (session id, title, tokens, cost) in SUMMARY for `ao status`.
import { spawn } from "node:child_process";
import { renameSync, writeFileSync } from "node:fs";

const HOOK = __AO_HOOK__;
const SUMMARY = __AO_SUMMARY__;

const children = new Set(); // sub-agent sessions: their state is not the session's
const last = new Map(); // session id -> the last state reported
const spent = new Map(); // assistant message id -> { tokens, cost }
const summary = { id: null, title: null, tokens: 0, cost: 0 };
let queue = Promise.resolve();

function report(event, payload) {
  queue = queue.then(
    () =>
      new Promise((resolve) => {
        const child = spawn(HOOK[0], [...HOOK.slice(1), event], {
          stdio: ["pipe", "ignore", "ignore"],
        });
        child.on("error", resolve);
        child.on("close", resolve);
        child.stdin.on("error", () => {});
        child.stdin.end(JSON.stringify(payload));
      }),
  );
}

function save() {
  try {
    writeFileSync(SUMMARY + ".tmp", JSON.stringify(summary));
    renameSync(SUMMARY + ".tmp", SUMMARY);
  } catch {}
}

function state(sessionID, kind, payload) {
  if (!sessionID || children.has(sessionID)) return;
  if (last.get(sessionID) === kind && kind !== "permission") return;
  last.set(sessionID, kind);
  report(kind, { sessionID, ...payload });
}

export const AoReporter = async () => {
  report("start", {});
  return {
    event: async ({ event }) => {
      const p = event.properties || {};
      switch (event.type) {
        case "session.created":
        case "session.updated":
          if (!p.info) break;
          if (p.info.parentID) {
            children.add(p.info.id);
          } else if (!children.has(p.info.id)) {
            summary.id = p.info.id;
            summary.title = p.info.title ?? summary.title;
            save();
          }
          break;
        case "message.updated":
          if (p.info?.role === "assistant" && !children.has(p.info.sessionID)) {
            spent.set(p.info.id, { tokens: p.info.tokens?.total ?? 0, cost: p.info.cost ?? 0 });
            summary.tokens = [...spent.values()].reduce((a, m) => a + m.tokens, 0);
            summary.cost = [...spent.values()].reduce((a, m) => a + m.cost, 0);
            save();
          }
          break;
        case "session.status":
          state(p.sessionID, p.status?.type === "idle" ? "idle" : "busy", {});
          break;
        case "permission.asked":
        case "question.asked":
          state(p.sessionID, "permission", {
            permission: p.permission ?? "question",
            patterns: p.patterns ?? [],
            question: p.questions?.[0]?.question ?? null,
          });
          break;
        case "permission.replied":
        case "question.replied":
        case "question.rejected":
          state(p.sessionID, "busy", {});
          break;
      }
    },
  };
};
