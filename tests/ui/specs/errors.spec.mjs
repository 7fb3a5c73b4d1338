// Bad input and failures: each shows a clear message in the page, never a blank
// screen. (Bad filter, unknown run, large and binary artifacts: see the other specs.)
import { test, expect, state, shoot } from '../fixtures.mjs';
import { startServer } from '../server.mjs';

test('a server that goes down is reported in the page', async ({ page, consoleGuard }) => {
  consoleGuard.allow(/ERR_CONNECTION_REFUSED|Failed to fetch|net::/);
  const server = await startServer('down');
  try {
    await page.goto(`${server.url}/experiments`);
    await expect(page.getByRole('heading', { name: 'Experiments' })).toBeVisible();
    await expect(page.getByText('Default')).toBeVisible();
  } finally {
    await server.stop();
  }
  await page.getByLabel('Search experiments by name').fill('x');
  const banner = page.locator('#banner');
  await expect(banner).toBeVisible();
  await expect(banner).toContainText('Cannot reach the Kiln server');
  await expect(page.locator('.error-box')).toContainText('Cannot reach the Kiln server');
  await expect(page.locator('#conn')).toHaveText('Server unreachable');
  await shoot(page, 'server-down');
});

test('a server error is shown, not swallowed', async ({ page, consoleGuard }) => {
  consoleGuard.allow(/status of 500/);
  await page.route('**/ajax-api/2.0/kiln/runs/table', (route) => route.fulfill({
    status: 500, contentType: 'application/json',
    body: JSON.stringify({ error_code: 'INTERNAL_ERROR', message: 'database error: disk I/O error' }),
  }));
  await page.goto(`/experiments/${state.experiments.demo}`);
  const box = page.locator('.error-box');
  await expect(box).toContainText('Could not load runs');
  await expect(box).toContainText('database error: disk I/O error (INTERNAL_ERROR, HTTP 500)');
});

test('an unknown page and an unknown experiment say so', async ({ page, consoleGuard }) => {
  consoleGuard.allow(/status of 40[04]/);
  await page.goto('/no/such/page');
  await expect(page.getByText('Page not found')).toBeVisible();
  await expect(page.locator('main code')).toHaveText('/no/such/page');
  await page.goto('/experiments/987654');
  await expect(page.getByText('Experiment “987654” was not found')).toBeVisible();
  await page.goto('/experiments/not-a-number');
  await expect(page.getByText('Experiment “not-a-number” was not found')).toBeVisible();
});

test('compare without runs and with too many runs explains itself', async ({ page }) => {
  await page.goto('/compare');
  await expect(page.getByText('No runs selected')).toBeVisible();
  const ids = Array.from({ length: 101 }, (_, i) => i.toString(16).padStart(32, '0'));
  await page.goto(`/compare?runs=${ids.join(',')}`);
  await expect(page.getByText(/compare at most 100 at once/)).toBeVisible();
});

test('the UI is served with caching headers and API 404s stay JSON', async ({ request }) => {
  const index = await request.get('/');
  expect(index.status()).toBe(200);
  expect(index.headers()['content-type']).toContain('text/html');
  expect(index.headers()['content-security-policy']).toContain("default-src 'self'");
  const js = await request.get('/static/js/main.js', { headers: { 'Accept-Encoding': 'gzip' } });
  expect(js.status()).toBe(200);
  const etag = js.headers().etag;
  expect(etag).toMatch(/^"[0-9a-f]{16}"$/);
  const again = await request.get('/static/js/main.js', { headers: { 'If-None-Match': etag } });
  expect(again.status()).toBe(304);
  const deep = await request.get(`/runs/${state.runs.train}`, { headers: { Accept: 'text/html' } });
  expect(deep.status()).toBe(200);
  expect(await deep.text()).toContain('/static/js/main.js');
  const api404 = await request.get('/ajax-api/2.0/kiln/nope');
  expect(api404.status()).toBe(404);
  expect((await api404.json()).error_code).toBe('ENDPOINT_NOT_FOUND');
  const bad = await request.get(`/ajax-api/2.0/kiln/metrics/sampled?run_ids=${state.runs.train}&metric_keys=train_loss&max_points=1`);
  expect(bad.status()).toBe(400);
  expect((await bad.json()).message).toContain('max_points');
});
