// Shared test fixtures: the filled server's state, a guard that fails a test on any
// console error or uncaught page error (a test that expects an HTTP error response
// declares it with `consoleGuard.allow(/.../)`), screenshots in light and dark at
// laptop and wide-screen sizes, and small API helpers.
import fs from 'node:fs';
import path from 'node:path';
import { test as base, expect } from '@playwright/test';
import { HERE } from './server.mjs';

export { expect };

export const state = JSON.parse(fs.readFileSync(process.env.KILN_UI_STATE, 'utf8'));

export const SIZES = { laptop: { width: 1366, height: 820 }, wide: { width: 2560, height: 1340 } };

export const test = base.extend({
  baseURL: async ({}, use) => { await use(state.url); },
  consoleGuard: [async ({ page }, use) => {
    const errors = [];
    const allowed = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
    await use({ allow(re) { allowed.push(re); } });
    const bad = errors.filter((e) => !allowed.some((re) => re.test(e)));
    expect(bad, 'the page logged console errors').toEqual([]);
  }, { auto: true }],
});

/** Saves `<name>-<laptop|wide>-<light|dark>.png` under tests/ui/screenshots/. */
export async function shoot(page, name) {
  const dir = path.join(HERE, 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  const original = page.viewportSize();
  for (const [size, vp] of Object.entries(SIZES)) {
    await page.setViewportSize(vp);
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      // Let charts redraw for the new size and theme (they paint on the next frame).
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      await page.screenshot({ path: path.join(dir, `${name}-${size}-${scheme}.png`), fullPage: true });
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  if (original) await page.setViewportSize(original);
}

/** Calls Kiln's REST API from the test (not through the page). */
export async function api(method, apiPath, body) {
  const url = `${state.url}/api/2.0/mlflow${apiPath}`;
  const init = { method, headers: { 'Content-Type': 'application/json' } };
  if (body !== undefined) init.body = JSON.stringify(body);
  const resp = await fetch(url, init);
  const text = await resp.text();
  if (!resp.ok) throw new Error(`${method} ${apiPath}: ${resp.status} ${text}`);
  return text ? JSON.parse(text) : {};
}
