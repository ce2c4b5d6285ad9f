// End-to-end test of the operator console in headless Chromium against the running stack.
//
// It starts its own four workers and console (unique topic and group prefixes, its own
// database, its own operators), plays samples 01 and 02 (both escalate to billing) with their
// timestamps moved to now, and then, as operator Sam of billing, in the browser: sees both
// handoffs in the queue with the badge, opens 01's package, claims it, sends the edited draft
// reply and resumes the agent with a note, then reassigns 02 to technical, keyboard first. It checks the queue and badge after each step, the audit rows in
// Postgres and the AgentControl record with the note on agent.control, and saves a screenshot
// of the queue to docs/console-queue.png.
//
// Run it with infra/console-e2e.sh (installs Chromium and the npm package, sources env.sh).
// Needs: the shared stack up (make infra-up), the binaries built (make build), psql.

import { chromium } from "playwright-core";
import { spawn, execFileSync } from "node:child_process";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = process.env.HANDOFF_BIN_DIR || path.join(ROOT, "target/debug");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SCREENSHOT = process.env.CONSOLE_SCREENSHOT || path.join(ROOT, "docs/console-queue.png");
// CONSOLE_E2E_SHOTS=DIR also saves the resume modal and the handoff after it, for a look.
const SHOTS = process.env.CONSOLE_E2E_SHOTS;
const ADMIN_URL = process.env.HANDOFF_DATABASE__URL;
if (!ADMIN_URL) throw new Error("HANDOFF_DATABASE__URL is not set: source infra/env.sh (infra/console-e2e.sh does)");

const id = crypto.randomBytes(5).toString("hex");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "console-e2e-"));
const db = `t_${Math.floor(Date.now() / 1000)}_console_${id}`; // infra/postgres.sh prune-test-dbs drops old ones
const dbUrl = ADMIN_URL.replace(/\/[^/]*$/, `/${db}`);
const token = () => crypto.randomBytes(24).toString("base64url");
const SAM = { id: "u-3", name: "Sam", team: "billing", token: token() };
const MIA = { id: "u-7", name: "Mia", team: "general", token: token() };
const NOTE_CLAIM = "Taking this one, checking the refund with the payment provider.";
const NOTE_RESUME = `Refund of EUR 89.90 reissued (e2e ${id}); tell the contact it takes 3-5 business days. Do not reopen the refund.`;

const log = (...a) => console.log(`[console-e2e ${new Date().toISOString().slice(11, 19)}]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function eventually(what, fn, timeoutMs = 90_000) {
  const start = Date.now();
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false && v !== null) return v;
    } catch (e) { last = e; }
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? `: ${last.message}` : ""}`);
    await sleep(500);
  }
}

function psql(url, sql) {
  return execFileSync("psql", [url, "-X", "-At", "-F", "|", "-v", "ON_ERROR_STOP=1", "-c", sql], { encoding: "utf8" }).trim();
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

// ---- the stack of our own -------------------------------------------------------------------
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const opsFile = path.join(work, "operators.toml");
fs.writeFileSync(opsFile, [SAM, MIA].map((o) =>
  `[[operators]]\nid = "${o.id}"\nname = "${o.name}"\nteam = "${o.team}"\ntoken = "${o.token}"\n`).join("\n"), { mode: 0o600 });

const env = { ...process.env,
  HANDOFF_KAFKA__TOPIC_PREFIX: `e2e${id}.`, HANDOFF_KAFKA__GROUP_PREFIX: `e2e${id}`,
  HANDOFF_KAFKA__PARTITIONS: "3", HANDOFF_KAFKA__TEAM_PARTITIONS: "1",
  HANDOFF_DATABASE__URL: dbUrl, HANDOFF_DATABASE__BATCH_LINGER_MS: "20",
  HANDOFF_CONSOLE__LISTEN: `127.0.0.1:${port}`, HANDOFF_CONSOLE__OPERATORS_FILE: opsFile,
  HANDOFF_TELEMETRY__FILTER: "info" };
delete env.HANDOFF_TELEMETRY__METRICS_LISTEN; // the shared stack's workers own those ports
delete env.HANDOFF_CONFIG;

const children = [];
function start(name) {
  const exe = path.join(BIN, name);
  if (!fs.existsSync(exe)) throw new Error(`${exe} is not built: run make build`);
  const out = fs.openSync(path.join(work, `${name}.log`), "a");
  const child = spawn(exe, [], { env, stdio: ["ignore", out, out] });
  child.name = name;
  child.exited = new Promise((r) => child.once("exit", r));
  children.push(child);
}
async function stopAll() {
  for (const c of children.slice().reverse()) if (c.exitCode === null) c.kill("SIGTERM");
  await Promise.race([Promise.all(children.map((c) => c.exited)), sleep(15_000)]);
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
}
function dumpLogs() {
  for (const c of children) {
    const f = path.join(work, `${c.name}.log`);
    const lines = fs.existsSync(f) ? fs.readFileSync(f, "utf8").trim().split("\n").slice(-15) : [];
    console.error(`---- last lines of ${c.name}.log ----\n${lines.join("\n")}`);
  }
}

let browser;
let ok = false;
try {
  log(`database ${db}, topic prefix e2e${id}., console ${base}, logs in ${work}`);
  psql(ADMIN_URL, `CREATE DATABASE "${db}"`);
  for (const w of ["detector", "builder", "router", "auditor", "console"]) start(w);

  // The console answers its health check once the auditor has migrated the database.
  await eventually("the console's health check", async () => {
    for (const c of children) if (c.exitCode !== null) throw new Error(`${c.name} exited with ${c.exitCode}`);
    const r = await fetch(`${base}/api/health`);
    return r.ok;
  });
  log("console and workers up");

  // Samples 01 (a contact asks for a person) and 02 (the agent calls transfer_to_human), both
  // billing, up to their escalating turns, moved to now (so the claim-by deadlines are real).
  const sample = (file, lastEvent, endsAgoMs) => {
    const records = fs.readFileSync(path.join(ROOT, "infra/samples", file), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const events = records.filter((r) => r.type === "event");
    const upTo = events.slice(0, events.findIndex((e) => e.event_id === lastEvent) + 1);
    assert.ok(upTo.length > 0, `${lastEvent} in ${file}`);
    const shift = Date.now() - endsAgoMs - Date.parse(upTo.at(-1).occurred_at);
    for (const e of upTo) e.occurred_at = new Date(Date.parse(e.occurred_at) + shift).toISOString();
    return upTo;
  };
  const input = path.join(work, "samples.jsonl");
  const events = [...sample("01-refund-ask-for-person.jsonl", "s01-5", 60_000), ...sample("02-refund-over-limit-tool-call.jsonl", "s02-4", 30_000)];
  fs.writeFileSync(input, events.map((e) => JSON.stringify(e)).join("\n") + "\n");
  execFileSync(path.join(BIN, "handoff"), ["produce", "--input", input], { env, stdio: "inherit" });

  // ---- the browser --------------------------------------------------------------------------
  const profile = path.join(work, "chromium-profile"); // a fresh profile, removed with the rest
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, viewport: { width: 1440, height: 900 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = browser.pages()[0] || await browser.newPage();
  // Script errors and CSP violations fail the test.
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error" && !/status of (401|403)/.test(m.text())) pageErrors.push(m.text()); });
  await page.goto(base + "/");

  // Sign in, keyboard only.
  await page.locator("#token").fill(SAM.token);
  await page.locator("#token").press("Enter");
  await page.locator("#whoami").filter({ hasText: "Sam (u-3, billing)" }).waitFor();
  assert.equal(await page.locator("#team-filter").inputValue(), "billing", "the queue opens on the operator's team");

  // The escalations reach the queue, newest first, and the badge.
  const row = page.locator('#queue tbody tr[data-conversation-id="s01"]');
  const other = page.locator('#queue tbody tr[data-conversation-id="s02"]');
  await row.waitFor({ timeout: 120_000 });
  await other.waitFor({ timeout: 60_000 });
  log("s01 and s02 are in the queue");
  await eventually("the badge to show 2", async () => (await page.locator("#badge").textContent()) === "2", 10_000);
  // Newest first: by the time of the decision (the two conversations sit on different
  // partitions, so which one the detector decides first is not fixed).
  const newestFirst = psql(dbUrl, "SELECT conversation_id FROM handoffs ORDER BY created_at DESC").split("\n");
  assert.deepEqual(await page.locator("#queue tbody tr").evaluateAll((trs) => trs.map((t) => t.dataset.conversationId)), newestFirst);
  assert.match(await other.innerText(), /Agent asked for help \(transfer_to_human\)/);
  const rowText = await row.innerText();
  assert.match(rowText, /Asked for a person/, rowText);
  assert.match(rowText, /normal|high|urgent|low/i, rowText);
  assert.match(rowText, /in \d+m/, `waiting time against the claim-by deadline: ${rowText}`);
  assert.equal(await row.getAttribute("data-state"), "awaiting_human");
  const handoffId = await row.getAttribute("data-handoff-id");

  // The API refuses strangers and other teams, with JSON errors.
  let r = await fetch(`${base}/api/handoffs/${handoffId}/commands`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"action":"claim"}' });
  assert.equal(r.status, 401);
  assert.equal((await r.json()).error, "unauthenticated");
  r = await fetch(`${base}/api/handoffs/${handoffId}/commands`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${MIA.token}` }, body: '{"action":"claim"}' });
  assert.equal(r.status, 403);
  const forbidden = await r.json();
  assert.equal(forbidden.error, "forbidden");
  assert.match(forbidden.message, /belongs to team billing/);

  // Open the package from the keyboard.
  await row.focus();
  await page.keyboard.press("Enter");
  await page.locator("#detail-summary").filter({ hasText: /\w/ }).waitFor();
  await page.locator("#transcript").filter({ hasText: "Can I talk to a person?" }).waitFor();
  assert.ok((await page.locator("#draft").inputValue()).length > 0, "the draft reply is there to edit");
  await page.locator("#detail").getByText("Return and refund timelines").first().waitFor();
  await page.screenshot({ path: SCREENSHOT });
  log(`screenshot saved to ${path.relative(ROOT, SCREENSHOT)}`);

  // Claim: "c" opens the modal with the note focused; Enter submits.
  await page.locator("body").click({ position: { x: 5, y: 880 } });
  await page.keyboard.press("c");
  await page.locator("#modal[open]").waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), "modal-note");
  await page.keyboard.type(NOTE_CLAIM);
  await page.keyboard.press("Enter");
  await page.locator('#queue tbody tr[data-conversation-id="s01"][data-state="claimed"]').waitFor({ timeout: 60_000 });
  log("claimed");
  assert.equal(await page.locator("#badge").textContent(), "2", "a claimed handoff is still open");
  assert.match(await row.innerText(), /claimed by u-3/);

  // Edit the draft reply and send it as an operator turn.
  await page.locator("#send-reply:not([disabled])").waitFor();
  await page.locator("#draft").fill("Hi Olivia, this is Sam from billing: I am checking order 55207 with our payment provider now.");
  await page.locator("#send-reply").click();
  await page.locator("#toast").filter({ hasText: "Reply sent" }).waitFor({ timeout: 20_000 });

  // Resume with a note and "send a follow-up now"; the modal warns outside working hours.
  const wh = await (await fetch(`${base}/api/working-hours`, { headers: { authorization: `Bearer ${SAM.token}` } })).json();
  await page.locator("body").click({ position: { x: 5, y: 880 } });
  await page.keyboard.press("r");
  await page.locator("#modal[open]").waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), "modal-note");
  await page.keyboard.type(NOTE_RESUME);
  await page.locator("#modal-follow-up").check();
  assert.equal(await page.locator("#modal-warning").isVisible(), !wh.open_now, `warning shown iff outside working hours (${JSON.stringify(wh)})`);
  if (!wh.open_now) assert.match(await page.locator("#modal-warning").innerText(), /follow-up will be skipped/);
  if (SHOTS) await page.screenshot({ path: path.join(SHOTS, "console-resume-modal.png") });
  await page.locator("#modal-note").press("Enter");
  await row.waitFor({ state: "detached", timeout: 60_000 });
  await eventually("the badge to drop to 1", async () => (await page.locator("#badge").textContent()) === "1", 10_000);
  assert.ok(await other.isVisible(), "s02 is still waiting");
  log("resumed: the row left the queue and the badge dropped");
  await page.locator('#history tr[data-transition="resumed"]').filter({ hasText: "Sam" }).waitFor({ timeout: 10_000 });
  assert.match(await page.locator("#detail-state").innerText(), /returned to agent/);
  if (SHOTS) await page.screenshot({ path: path.join(SHOTS, "console-after-resume.png"), fullPage: true });

  // Reassign s02 to technical: pick the team in the modal, note, Enter. It leaves billing's
  // queue once re-routed.
  await other.click();
  await page.locator("#detail-summary").filter({ hasText: "Jonas" }).waitFor();
  await page.locator("body").click({ position: { x: 5, y: 880 } });
  await page.keyboard.press("a");
  await page.locator("#modal[open]").waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), "modal-note");
  await page.locator("#modal-team").selectOption("technical");
  await page.locator("#modal-note").fill("Refund blocked by a payment-gateway error: technical first.");
  await page.locator("#modal-note").press("Enter");
  await other.waitFor({ state: "detached", timeout: 60_000 });
  await eventually("the badge to drop to 0", async () => (await page.locator("#badge").textContent()) === "0", 10_000);
  await eventually("s02 routed to technical", async () => psql(dbUrl, "SELECT team FROM handoffs WHERE conversation_id = 's02'") === "technical", 30_000);
  log("reassigned s02 to technical; billing's queue is empty");

  // ---- the audit store ------------------------------------------------------------------------
  assert.equal(psql(dbUrl, `SELECT state, claimed_by FROM handoffs WHERE handoff_id = '${handoffId}'`), "returned_to_agent|u-3");
  const history = psql(dbUrl, `SELECT conversation_id, action, operator_id, operator_name, operator_team, accepted, note FROM operator_history ORDER BY occurred_at`).split("\n");
  assert.deepEqual(history, [`s01|claimed|u-3|Sam|billing|t|${NOTE_CLAIM}`, `s01|resumed|u-3|Sam|billing|t|${NOTE_RESUME}`,
    "s02|reassigned|u-3|Sam|billing|t|Refund blocked by a payment-gateway error: technical first."]);
  const commands = psql(dbUrl, `SELECT transition, actor, detail->>'send_follow_up_now' FROM handoff_events WHERE kind = 'command' AND conversation_id = 's01' ORDER BY occurred_at`).split("\n");
  assert.deepEqual(commands, ["claim|operator:u-3|false", "resume|operator:u-3|true"]);
  log("audit rows as expected");

  // ---- agent.control: the pause, then the resume carrying the note -----------------------------
  const out = execFileSync(path.join(BIN, "handoff"), ["controls", "--conversation", "s01", "--from-beginning", "--count", "2", "--timeout", "60"], { env, encoding: "utf8" });
  const controls = out.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(controls.map((c) => c.action), ["pause", "resume"]);
  const resume = controls[1];
  assert.equal(resume.handoff_id, handoffId);
  assert.ok(resume.handoff_context.includes(NOTE_RESUME), resume.handoff_context);
  assert.equal(resume.send_follow_up_now, wh.open_now);
  assert.equal(Boolean(resume.follow_up_skipped_reason), !wh.open_now, JSON.stringify(resume));
  log("AgentControl resume carries the note");

  assert.deepEqual(pageErrors, [], "no script errors or CSP violations in the page");
  ok = true;
  log("PASS");
} catch (e) {
  console.error(e);
  dumpLogs();
} finally {
  if (browser) await browser.close().catch(() => {});
  await stopAll();
  if (ok) {
    try { psql(ADMIN_URL, `DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`); } catch (e) { log(`could not drop ${db}: ${e.message}`); }
    fs.rmSync(work, { recursive: true, force: true });
  } else {
    log(`kept ${work} and database ${db} for inspection`);
  }
}
process.exit(ok ? 0 : 1);
