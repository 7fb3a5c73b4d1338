// bench/ui: how fast the web UI shows a big experiment and a long metric history,
// Kiln against `mlflow server`'s own UI on the same data, in one run.
//
// For each server: start it on a fresh SQLite store, fill it through the REST API
// (an experiment with N runs, each with params, metrics and tags; a run with a
// P-point metric history), then in headless Chromium (cold cache, a new browser
// context per repetition) measure
//   * the time from navigation start to the first rendered runs-table row,
//   * the time to the first drawn metric chart of the long history,
//   * the bytes transferred for each page (until the network is idle).
// Times are read in the page (`performance.now()` when the element first exists,
// recorded by a MutationObserver), so Playwright's polling does not count.
//
//   node bench/ui/bench.mjs --kiln-bin target/release/kiln --mlflow-bin .venv/bin/mlflow [--runs 10000] [--points 100000] [--reps 5] [--only kiln|mlflow]

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const require = createRequire(path.join(REPO, 'tests', 'ui', 'package.json'));
const { chromium } = require('@playwright/test');

function parseArgs(argv) {
  const a = { runs: 10000, points: 100000, reps: 5, only: '', threads: 8, json: path.join(HERE, 'results.json'), chromium: process.env.KILN_CHROMIUM || '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => { i += 1; if (i >= argv.length) throw new Error(`${k} needs a value`); return argv[i]; };
    if (k === '--kiln-bin') a.kiln = path.resolve(v());
    else if (k === '--mlflow-bin') a.mlflow = path.resolve(v());
    else if (k === '--runs') a.runs = Number(v());
    else if (k === '--points') a.points = Number(v());
    else if (k === '--reps') a.reps = Number(v());
    else if (k === '--only') a.only = v();
    else if (k === '--threads') a.threads = Number(v());
    else if (k === '--json-out') a.json = v();
    else throw new Error(`unknown flag ${k}`);
  }
  for (const n of ['runs', 'points', 'reps', 'threads']) {
    if (!Number.isInteger(a[n]) || a[n] < 1) throw new Error(`--${n} must be a positive integer, got ${a[n]}`);
  }
  if (a.only && !['kiln', 'mlflow'].includes(a.only)) throw new Error(`--only must be kiln or mlflow, got ${a.only}`);
  return a;
}

const log = (m) => process.stderr.write(`[bench/ui] ${m}\n`);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

async function waitHealthy(url, proc, timeoutMs, logFile) {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}; see ${logFile}`);
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok) return (Date.now() - t0) / 1000;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server at ${url} not healthy after ${timeoutMs / 1000} s; see ${logFile}`);
}

async function startServer(kind, args) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-ui-${kind}-`));
  const port = await freePort();
  const logFile = path.join(dir, 'server.log');
  const out = fs.openSync(logFile, 'w');
  const common = ['--host', '127.0.0.1', '--port', String(port), '--backend-store-uri', `sqlite:///${path.join(dir, 'store.db')}`, '--artifacts-destination', path.join(dir, 'artifacts')];
  const [bin, argv] = kind === 'kiln'
    ? [args.kiln, ['server', ...common]]
    : [args.mlflow, ['server', ...common, '--serve-artifacts']];
  const proc = spawn(bin, argv, { cwd: dir, stdio: ['ignore', out, out], detached: true, env: { ...process.env, MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true' } });
  const spawnError = new Promise((_, reject) => proc.once('error', (e) => reject(new Error(`cannot start ${bin}: ${e.message}`))));
  const url = `http://127.0.0.1:${port}`;
  const startup = await Promise.race([waitHealthy(url, proc, 180_000, logFile), spawnError]);
  return {
    url, dir, startup,
    async stop() {
      if (proc.exitCode !== null) return;
      const done = new Promise((r) => proc.once('exit', r));
      try { process.kill(-proc.pid, 'SIGTERM'); } catch { return; }
      const t = setTimeout(() => { try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ } }, 15_000);
      await done;
      clearTimeout(t);
    },
  };
}

async function call(url, method, p, body) {
  const r = await fetch(`${url}/api/2.0/mlflow${p}`, { method, headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${p}: HTTP ${r.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : {};
}

/** The same data for both servers: `runs` runs in one experiment, one long history in another. */
async function fill(url, args) {
  const t0 = Date.now();
  const exp = (await call(url, 'POST', '/experiments/create', { name: 'bench-ui' })).experiment_id;
  const base = Date.now() - args.runs * 1000;
  let next = 0;
  const worker = async () => {
    while (next < args.runs) {
      const i = next++;
      const start = base + i * 1000;
      const run = (await call(url, 'POST', '/runs/create', { experiment_id: exp, run_name: `bench-${String(i).padStart(5, '0')}`, start_time: start, tags: [{ key: 'group', value: `g${i % 10}` }] })).run;
      const id = run.info.run_id;
      await call(url, 'POST', '/runs/log-batch', {
        run_id: id,
        params: [{ key: 'lr', value: String((i % 50) / 100) }, { key: 'depth', value: String(3 + (i % 8)) }, { key: 'model', value: i % 3 ? 'gbm' : 'linear' }],
        metrics: [{ key: 'loss', value: ((i * 37) % 1000) / 1000, timestamp: start + 500, step: 0 }, { key: 'acc', value: ((i * 53) % 1000) / 1000, timestamp: start + 500, step: 0 }],
        tags: [{ key: 'team', value: 'bench' }],
      });
      await call(url, 'POST', '/runs/update', { run_id: id, status: 'FINISHED', end_time: start + 900 });
    }
  };
  await Promise.all(Array.from({ length: args.threads }, worker));
  const exp2 = (await call(url, 'POST', '/experiments/create', { name: 'bench-ui-long' })).experiment_id;
  const long = (await call(url, 'POST', '/runs/create', { experiment_id: exp2, run_name: 'long-history', start_time: base })).run.info.run_id;
  for (let s = 0; s < args.points; s += 1000) {
    const metrics = [];
    for (let j = s; j < Math.min(args.points, s + 1000); j++) {
      metrics.push({ key: 'train_loss', value: 2 * Math.exp(-j / (args.points / 5)) + 0.05 * Math.sin(j / 50), timestamp: base + j * 10, step: j });
    }
    await call(url, 'POST', '/runs/log-batch', { run_id: long, metrics });
  }
  await call(url, 'POST', '/runs/update', { run_id: long, status: 'FINISHED', end_time: base + args.points * 10 });
  return { exp, exp2, long, seconds: (Date.now() - t0) / 1000 };
}

const PAGES = {
  kiln: {
    table: (s, d) => [`${s.url}/experiments/${d.exp}`, '[data-run-row]'],
    chart: (s, d) => [`${s.url}/runs/${d.long}?tab=metrics`, '.chart[data-drawn]'],
  },
  mlflow: {
    table: (s, d) => [`${s.url}/#/experiments/${d.exp}/runs`, '.ag-center-cols-container .ag-row'],
    chart: (s, d) => [`${s.url}/#/experiments/${d.exp2}/runs/${d.long}/model-metrics`, '.js-plotly-plot path.js-line[d*="L"]'],
  },
};

/** One cold load of `url`: ms until `selector` first exists, and bytes until the network is idle. */
async function measure(browser, url, selector) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 820 } });
  await context.addInitScript((sel) => {
    window.__benchSeen = null;
    const check = () => {
      if (window.__benchSeen === null && document.querySelector(sel)) {
        window.__benchSeen = performance.now();
        obs.disconnect();
      }
    };
    const obs = new MutationObserver(check);
    obs.observe(document, { subtree: true, childList: true, attributes: true });
  }, selector);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  let bytes = 0;
  cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; });
  let ms = null;
  let error = null;
  try {
    await page.goto(url, { waitUntil: 'commit' });
    await page.waitForFunction(() => window.__benchSeen !== null, null, { timeout: 120_000, polling: 50 });
    ms = await page.evaluate(() => window.__benchSeen);
    await page.waitForLoadState('networkidle', { timeout: 60_000 }).catch(() => {});
    await page.waitForTimeout(500);
  } catch (e) {
    error = e.message.split('\n')[0];
  }
  await context.close();
  return { ms, bytes, error };
}

const median = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

async function benchServer(kind, args, browser) {
  log(`${kind}: starting server`);
  const server = await startServer(kind, args);
  try {
    log(`${kind}: up in ${server.startup.toFixed(1)} s; filling ${args.runs} runs and a ${args.points}-point history`);
    const data = await fill(server.url, args);
    log(`${kind}: filled in ${data.seconds.toFixed(1)} s`);
    const out = { startup_s: server.startup, fill_s: data.seconds };
    for (const [name, page] of Object.entries(PAGES[kind])) {
      const [url, sel] = page(server, data);
      await measure(browser, url, sel); // warm the server (and its caches), not the browser
      const reps = [];
      for (let i = 0; i < args.reps; i++) reps.push(await measure(browser, url, sel));
      const errors = reps.filter((r) => r.error).map((r) => r.error);
      out[name] = { url, selector: sel, ms: reps.map((r) => r.ms), bytes: reps.map((r) => r.bytes), median_ms: median(reps.map((r) => r.ms)), median_bytes: median(reps.map((r) => r.bytes)), errors };
      log(`${kind}: ${name} median ${out[name].median_ms === null ? 'n/a' : out[name].median_ms.toFixed(0)} ms, ${(out[name].median_bytes / 1024).toFixed(0)} KiB${errors.length ? `; errors: ${errors[0]}` : ''}`);
    }
    return out;
  } finally {
    await server.stop();
  }
}

const fmtMs = (v) => (v === null || v === undefined ? 'n/a' : `${Math.round(v).toLocaleString('en-US')} ms`);
const fmtKiB = (v) => (v === null || v === undefined ? 'n/a' : `${Math.round(v / 1024).toLocaleString('en-US')} KiB`);

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.only !== 'mlflow' && !args.kiln) throw new Error('--kiln-bin is required');
  if (args.only !== 'kiln' && !args.mlflow) throw new Error('--mlflow-bin is required');
  if (!fs.existsSync(args.chromium)) throw new Error(`Chromium not found at ${args.chromium} (apt-get install chromium, or KILN_CHROMIUM)`);
  const browser = await chromium.launch({ executablePath: args.chromium, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  const results = { runs: args.runs, points: args.points, reps: args.reps, when: new Date().toISOString(), cpus: os.cpus().length };
  try {
    for (const kind of ['kiln', 'mlflow']) {
      if (args.only && args.only !== kind) continue;
      results[kind] = await benchServer(kind, args, browser);
    }
  } finally {
    await browser.close();
  }
  fs.writeFileSync(args.json, JSON.stringify(results, null, 2));
  const k = results.kiln;
  const m = results.mlflow;
  const line = (label, key, field, fmt, lowerBetter = true) => {
    const kv = k && k[key] ? k[key][field] : null;
    const mv = m && m[key] ? m[key][field] : null;
    const ratio = kv && mv ? (lowerBetter ? mv / kv : kv / mv) : null;
    console.log(`${label}: kiln ${fmt(kv)}, mlflow ${fmt(mv)}${ratio ? `, ratio ${ratio.toFixed(1)}x (mlflow/kiln, lower is better)` : ''}`);
  };
  console.log(`bench/ui: ${args.runs.toLocaleString('en-US')} runs, ${args.points.toLocaleString('en-US')}-point history, median of ${args.reps} cold loads each`);
  line('runs table, first row', 'table', 'median_ms', fmtMs);
  line('runs table, bytes', 'table', 'median_bytes', fmtKiB);
  line('long history, first chart', 'chart', 'median_ms', fmtMs);
  line('long history, bytes', 'chart', 'median_bytes', fmtKiB);
  if (k) {
    const ok = (k.table.median_ms ?? Infinity) < 1000 && (k.chart.median_ms ?? Infinity) < 1000;
    console.log(`target (both under 1 s for kiln): ${ok ? 'met' : 'NOT met'}`);
  }
  log(`results written to ${args.json}`);
}

main().catch((e) => { console.error(`bench/ui failed: ${e.message}`); process.exit(1); });
