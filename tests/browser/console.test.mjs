// Browser tests of the Sextant console, run with `node --test` (see package.json).
//
// They start the real `sextant` binary (target/debug/sextant, built by `cargo build` or
// `cargo test` first; override with SEXTANT_BIN) on a free port with a fresh data
// directory, and drive Debian's chromium through playwright-core (no browser download).
// Events are sent with the official Python SDK (tests/sdk/python/send_event.py in the
// repository's .venv; override with SEXTANT_PYTHON). Screenshots go to test-artifacts/.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { randomUUID } from "node:crypto";
import { chromium } from "playwright-core";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = process.env.SEXTANT_BIN || path.join(ROOT, "target/debug/sextant");
const PYTHON = process.env.SEXTANT_PYTHON || path.join(ROOT, ".venv/bin/python");
const ARTIFACTS = path.join(ROOT, "test-artifacts");
const EMAIL = "owner@example.com";
const PASSWORD = "a long enough password";
const WAIT = 15000;

mkdirSync(ARTIFACTS, { recursive: true });

/** Starts `sextant serve` on a free port; resolves once it prints its URL. */
function startServer() {
  const dataDir = mkdtempSync(path.join(tmpdir(), "sextant-browser-"));
  const child = spawn(BIN, ["serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RUST_LOG: "warn" },
  });
  let output = "";
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("server did not start: " + output)), 30000);
    child.stdout.on("data", (chunk) => {
      output += chunk;
      const m = output.match(/listening on (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.stderr.on("data", (chunk) => { output += chunk; });
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`server exited ${code}: ${output}`)); });
  });
  return { child, dataDir, ready };
}

function run(cmd, args, env = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, timeout: 60000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Sends the Python SDK's "handled" scenario (TypeError with locals and breadcrumbs). */
async function sendPythonEvent(dsn) {
  const out = await run(PYTHON, [path.join(ROOT, "tests/sdk/python/send_event.py"), dsn, "handled"]);
  const line = JSON.parse(out.trim().split("\n").pop());
  assert.ok(line.statuses.length > 0 && line.statuses.every((s) => s >= 200 && s < 300), out);
  return line.event_id;
}

/** Posts a hand-built envelope, as an attacker controlling an SDK could. */
async function sendEnvelope(dsn, event) {
  const u = new URL(dsn);
  const key = u.username;
  const projectId = u.pathname.replace(/\//g, "");
  const eventId = randomUUID().replace(/-/g, "");
  const body = [
    JSON.stringify({ event_id: eventId, sent_at: new Date().toISOString() }),
    JSON.stringify({ type: "event" }),
    JSON.stringify({ event_id: eventId, timestamp: Date.now() / 1000, platform: "python", ...event }),
  ].join("\n");
  const r = await fetch(`${u.protocol}//${u.host}/api/${projectId}/envelope/`, {
    method: "POST",
    headers: { "X-Sentry-Auth": `Sentry sentry_key=${key}, sentry_version=7, sentry_client=xss/1.0` },
    body,
  });
  assert.equal(r.status, 200, await r.text());
  return eventId;
}

/** Posts finished sessions of `release`, `crashed` of them crashed. */
async function sendSessions(dsn, release, total, crashed) {
  const u = new URL(dsn);
  const projectId = u.pathname.replace(/\//g, "");
  const started = new Date(Date.now() - 60000).toISOString();
  const lines = [JSON.stringify({ sent_at: new Date().toISOString() })];
  for (let i = 0; i < total; i++) {
    lines.push(JSON.stringify({ type: "session" }));
    lines.push(JSON.stringify({
      sid: randomUUID(), did: `user-${i}`, init: true, started, timestamp: new Date().toISOString(),
      status: i < crashed ? "crashed" : "exited", errors: i < crashed ? 1 : 0,
      attrs: { release, environment: "production" },
    }));
  }
  const r = await fetch(`${u.protocol}//${u.host}/api/${projectId}/envelope/`, {
    method: "POST",
    headers: { "X-Sentry-Auth": `Sentry sentry_key=${u.username}, sentry_version=7, sentry_client=test/1.0` },
    body: lines.join("\n"),
  });
  assert.equal(r.status, 200, await r.text());
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: false });
}

describe("Sextant console", () => {
  let server, base, browser, context, page, dsn;
  const dialogs = [];
  const pageErrors = [];

  before(async () => {
    assert.ok(existsSync(BIN), `no sextant binary at ${BIN}: run cargo build first`);
    server = startServer();
    base = await server.ready;
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await context.newPage();
    page.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
    page.on("pageerror", (e) => pageErrors.push(String(e)));
  });

  after(async () => {
    if (browser) await browser.close();
    if (server) {
      server.child.kill("SIGTERM");
      await new Promise((r) => server.child.once("exit", r));
      rmSync(server.dataDir, { recursive: true, force: true });
    }
  });

  test("a fresh install walks a new user to a first event", async () => {
    await page.goto(base + "/");
    await page.waitForURL(/\/setup$/);
    await shot(page, "01-setup");
    await page.fill("input[name=email]", EMAIL);
    await page.fill("input[name=password]", PASSWORD);
    await page.click("button[type=submit]");
    await page.waitForURL(/\/orgs\/default\/default\/$/);
    // The empty state shows the DSN and a ready-to-paste snippet.
    const first = page.locator("#first-event");
    await first.waitFor({ timeout: WAIT });
    dsn = (await page.textContent("#dsn")).trim();
    assert.match(dsn, /^http:\/\/[0-9a-f]{32}@127\.0\.0\.1:\d+\/\d+$/);
    const python = await page.textContent("pre[data-snippet=python]");
    assert.ok(python.includes(`dsn="${dsn}"`), python);
    assert.ok((await page.textContent("pre[data-snippet=node]")).includes(dsn));
    assert.ok((await page.textContent("pre[data-snippet=rust]")).includes(dsn));
    await shot(page, "02-empty-project");
  });

  test("an event sent with the Python SDK appears in the list without a reload", async () => {
    await page.waitForSelector("body[data-live-ready]", { timeout: WAIT });
    // A marker that a navigation or reload would wipe out.
    await page.evaluate(() => { window.__sameDocument = true; });
    await sendPythonEvent(dsn);
    const accepted = Date.now();
    const row = page.locator("tr.issue-row", { hasText: "TypeError" });
    await row.waitFor({ timeout: WAIT });
    const latency = Date.now() - accepted;
    console.log(`# issue visible ${latency} ms after the SDK got its 200`);
    assert.equal(await page.evaluate(() => window.__sameDocument), true, "the page was reloaded");
    assert.ok(latency < 1000, `took ${latency} ms, more than the promised second`);
    await shot(page, "03-issues-live");
  });

  test("the issue page shows frames, local variables and breadcrumbs, and resolves", async () => {
    // Keyboard: j selects the first row, Enter opens it.
    await page.keyboard.press("j");
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/issues\/\d+\/$/);
    assert.match(await page.textContent("#issue-title"), /TypeError/);
    const frame = page.locator("details.frame.in-app")
      .filter({ has: page.locator("span.fn", { hasText: "apply_discount" }) });
    await frame.waitFor();
    assert.equal(await frame.getAttribute("open"), "", "in-app frames are expanded");
    const vars = await frame.locator("table.vars").textContent();
    assert.ok(vars.includes("subtotal") && vars.includes("42"), vars);
    assert.ok(vars.includes("discount"), vars);
    assert.ok((await frame.locator("li.current").textContent()).includes("subtotal / discount"));
    const crumbs = await page.textContent("#breadcrumbs");
    assert.ok(crumbs.includes("user signed in") && crumbs.includes("pay.example.com"), crumbs);
    assert.ok((await page.textContent("#event-tags")).includes("checkout"));
    await shot(page, "04-issue");
    await page.click("#resolve");
    await page.waitForSelector("#reopen");
    assert.match(await page.textContent("#issue-status"), /resolved/);
  });

  test("an API token created in the console works against the API", async () => {
    await page.goto(base + "/account");
    await page.fill("#token-label", "browser test");
    await page.selectOption("#token-scope", "read");
    await page.click("#token-form button[type=submit]");
    const token = (await page.textContent("#new-token")).trim();
    assert.match(token, /^sxt_[0-9a-f]{64}$/);
    await shot(page, "05-account-token");
    const r = await fetch(base + "/api/0/projects/default/default/issues/?query=is:resolved", {
      headers: { Authorization: `Bearer ${token}` },
    });
    assert.equal(r.status, 200);
    const issues = await r.json();
    assert.equal(issues.length, 1);
    assert.match(issues[0].title, /TypeError/);
    const write = await fetch(base + `/api/0/issues/${issues[0].id}/`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ status: "unresolved" }),
    });
    assert.equal(write.status, 403, "a read token cannot write");
  });

  test("attacker-controlled event fields render inert", async () => {
    const payload = `<script>window.__xss = 1; alert(1)</script>"><img src=x onerror="window.__xss = 2; alert(2)">`;
    await page.goto(base + "/orgs/default/default/?status=all");
    await page.waitForSelector("body[data-live-ready]", { timeout: WAIT });
    await sendEnvelope(dsn, {
      level: "error",
      message: `message ${payload}`,
      tags: { [`tag${payload}`.slice(0, 32)]: `value ${payload}`, feature: payload },
      exception: { values: [{
        type: `XssError${payload}`,
        value: `value ${payload}`,
        stacktrace: { frames: [{
          function: `fn${payload}`, filename: `file${payload}.py`, lineno: 7, in_app: true,
          context_line: `code ${payload}`, pre_context: [payload], post_context: [payload],
          vars: { [`var${payload}`]: payload },
        }] },
      }] },
      breadcrumbs: [{ category: `cat${payload}`, message: `crumb ${payload}`, timestamp: Date.now() / 1000 }],
      user: { id: payload, email: "x@example.com" },
    });
    // It arrives live in the list: the list itself must be inert too.
    const row = page.locator("tr.issue-row", { hasText: "XssError" });
    await row.waitFor({ timeout: WAIT });
    await row.locator("a.title").click();
    await page.waitForURL(/\/issues\/\d+\/$/);
    await page.waitForSelector("#event");
    await shot(page, "06-xss-inert");
    assert.deepEqual(dialogs, [], "no dialog may open");
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.equal(await page.locator("img[src=x]").count(), 0, "no injected element");
    assert.equal(await page.locator("main script").count(), 0, "no injected script");
    const title = await page.textContent("#issue-title");
    assert.ok(title.includes("<script>"), "the payload is shown literally: " + title);
    const frameText = await page.locator("details.frame").first().textContent();
    assert.ok(frameText.includes(`fn${payload}`) || frameText.includes("<img src=x onerror"), frameText);
    assert.ok((await page.textContent("#event-tags")).includes(`value ${payload}`));
    assert.deepEqual(pageErrors, [], "no script errors");
  });

  test("the release pages show crash-free rates from sessions", async () => {
    await sendSessions(dsn, "web@2.0", 4, 1);
    await page.goto(base + "/orgs/default/default/");
    await page.click("#releases-link");
    await page.waitForURL(/\/releases\/$/);
    // Sessions are processed asynchronously: reload until the row shows them.
    const row = page.locator("tr.release-row[data-version='web@2.0']");
    const deadline = Date.now() + WAIT;
    while ((await row.locator(".sessions").textContent().catch(() => "")) !== "4") {
      assert.ok(Date.now() < deadline, "sessions never showed up in the releases list");
      await page.waitForTimeout(200);
      await page.reload();
    }
    assert.equal(await row.locator(".crash-free-sessions").textContent(), "75%");
    await shot(page, "08-releases");
    await row.locator("a.title").click();
    await page.waitForURL(/\/releases\/web@2\.0\/$/);
    assert.equal(await page.textContent("#crash-free-sessions"), "75%");
    assert.equal(await page.locator("#health-chart svg.chart").count(), 1);
    await shot(page, "09-release");
    assert.deepEqual(pageErrors, [], "no script errors");
  });

  test("dark theme toggle", async () => {
    await page.goto(base + "/orgs/default/default/?status=all");
    await page.click("[data-theme-toggle]");
    const theme = await page.evaluate(() => document.documentElement.getAttribute("data-theme"));
    assert.ok(theme === "dark" || theme === "light");
    if (theme !== "dark") await page.click("[data-theme-toggle]");
    await shot(page, "07-issues-dark");
  });
});
