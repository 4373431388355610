// The dashboard in a real browser: Debian's chromium, headless, driven by
// playwright-core, against a real agentregd running its demo fleet.
//
// Checks: the page asks for the token and then lists the agents; a change
// made through the API (an agent registered, another paused) shows without
// a reload within 2 s; the charts get points; no console error and no
// failed request on the way. Saves a screenshot to $SCREENSHOT (CTest: the
// build directory).
//
// Run by CTest (label browser) with AGENTREGD, CHROMIUM and SCREENSHOT set.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import process from 'node:process';
import assert from 'node:assert/strict';

const require = createRequire(path.join(process.env.AGENTREG_SOURCE_DIR, 'package.json'));
const { chromium } = require('playwright-core');

const TOKEN = 'browser-test-token';
const DEADLINE_MS = 60_000;

function startDaemon() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.env.AGENTREGD, ['--port', '0', '--demo', '--demo-agents', '200', '--demo-seconds', '600'],
      { env: { ...process.env, AGENTREG_TOKEN: TOKEN }, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const timer = setTimeout(() => reject(new Error('agentregd did not start:\n' + log)), DEADLINE_MS);
    child.stdout.on('data', (d) => {
      log += d;
      const m = /listening on (http:\/\/[^\s]+)/.exec(log);
      if (m && /demo fleet of/.test(log)) { clearTimeout(timer); resolve({ child, url: m[1], log: () => log }); }
    });
    child.stderr.on('data', (d) => { log += d; });
    child.on('exit', (code) => reject(new Error(`agentregd exited (${code}):\n` + log)));
  });
}

async function api(base, method, p, body) {
  const res = await fetch(base + p, {
    method, headers: { Authorization: 'Bearer ' + TOKEN, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  assert.ok(res.ok, `${method} ${p}: HTTP ${res.status}`);
  return res.status === 204 ? null : res.json();
}

async function main() {
  const daemon = await startDaemon();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  const problems = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    page.on('requestfailed', (r) => {
      // The watch stream is cut when the page closes: not a failure.
      if (!r.url().includes('/v1/watch')) problems.push('request failed: ' + r.url() + ' ' + r.failure()?.errorText);
    });
    page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });

    await page.goto(daemon.url + '/');
    // The token, asked once, never in the URL.
    await page.locator('#token').fill(TOKEN);
    await page.locator('#login-form button[type=submit]').click();
    await page.waitForFunction(() => window.agentregDashboard && window.agentregDashboard.agents() >= 200, null,
      { timeout: DEADLINE_MS });
    assert.ok(!page.url().includes(TOKEN), 'the token is in the URL');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('agentreg.token')), TOKEN);
    const rows = await page.locator('#agents tbody tr').count();
    assert.ok(rows >= 200, `only ${rows} agent rows`);

    // A change through the API shows within 2 s, without a reload.
    await page.locator('#f-search').fill('browser-');
    const t0 = Date.now();
    await api(daemon.url, 'POST', '/v1/agents', { agent_id: 'browser-1', agent_type: 'browser', max_capacity: 3 });
    await page.locator('#agents tbody tr[data-agent="browser-1"]').waitFor({ timeout: 2000 });
    const shown = Date.now() - t0;
    await api(daemon.url, 'PUT', '/v1/agents/browser-1/status', { status: 'paused' });
    await page.locator('#agents tbody tr[data-agent="browser-1"] .status.paused').waitFor({ timeout: 2000 });
    await page.locator('#f-search').fill('');
    console.log(`a registration showed on the page ${shown} ms after the API answered`);

    // The charts have points: executions completed since the page opened.
    await page.waitForFunction(() => window.agentregDashboard.chartPoints() > 5, null, { timeout: DEADLINE_MS });
    await page.locator('#cost tbody tr').first().waitFor({ timeout: DEADLINE_MS });
    await page.locator('#tools tbody tr').first().waitFor({ timeout: DEADLINE_MS });
    // A few seconds more of the fleet moving, so the screenshot shows it.
    await page.waitForFunction(() => window.agentregDashboard.chartPoints() > 60, null, { timeout: DEADLINE_MS });
    await page.screenshot({ path: process.env.SCREENSHOT, fullPage: false });
    console.log('screenshot: ' + process.env.SCREENSHOT);
  } finally {
    await browser.close();
    daemon.child.kill('SIGTERM');
  }
  assert.deepEqual(problems, [], 'the page had problems');
  console.log('1 passed, 0 failed');
}

main().catch((e) => {
  console.error(e);
  console.log('0 passed, 1 failed');
  process.exit(1);
});
