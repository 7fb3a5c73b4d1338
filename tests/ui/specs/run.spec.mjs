// The run page: overview (params, metrics with min/max, tags, datasets, lineage),
// charts (downsampled 100,000-point history, log scale, smoothing, zoom, hover).
import { test, expect, state, shoot } from '../fixtures.mjs';

test('overview shows params, metrics, tags, datasets and lineage', async ({ page }) => {
  await page.goto(`/runs/${state.runs.train}`);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('train-gbm');
  const params = page.getByTestId('params');
  await expect(params).toContainText('num_leaves');
  await expect(params).toContainText('31');
  const metrics = page.getByTestId('metrics');
  const loss = metrics.locator('tr', { hasText: 'train_loss' });
  await expect(loss.locator('td').nth(5)).toHaveText('100,000');
  await expect(loss.locator('td').nth(4)).toHaveText('9');   // max: the spike
  await expect(loss.locator('td').nth(2)).toHaveText('99999'); // latest step
  await expect(page.getByTestId('tags')).toContainText('stage');
  const ds = page.getByTestId('dataset');
  await expect(ds).toContainText('churn-train');
  await expect(ds).toContainText('training');
  await expect(ds).toContainText('Fingerprint');
  await expect(ds).toContainText('num_rows');
  await ds.getByText(/Schema: 3 columns/).click();
  await expect(ds).toContainText('churned');
  const versions = page.getByTestId('registered-versions');
  await expect(versions).toContainText('ui-churn v1');
  await expect(page.getByText('Logged models (1)')).toBeVisible();
  await shoot(page, 'run-overview');
});

test('a child run links to its parent, the parent lists its children', async ({ page }) => {
  await page.goto(`/runs/${state.runs.children[0]}`);
  await expect(page.getByRole('heading', { name: 'Parent run' })).toBeVisible();
  await page.getByRole('link', { name: 'sweep' }).first().click();
  await expect(page).toHaveURL(new RegExp(`/runs/${state.runs.parent}`));
  await expect(page.getByRole('heading', { name: 'Child runs (3)' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'trial-2' })).toBeVisible();
});

test('charts: 100,000 points downsampled on the server, zoom, log scale, smoothing, hover', async ({ page }) => {
  const sampled = [];
  page.on('response', (r) => { if (r.url().includes('/kiln/metrics/sampled')) sampled.push(r); });
  await page.goto(`/runs/${state.runs.train}?tab=metrics`);
  const card = page.locator('[data-testid=chart-card][data-key="train_loss"]');
  await expect(card.locator('.chart')).toHaveAttribute('data-drawn', '1');
  await expect(card.locator('.note')).toContainText('of 100,000 points (downsampled)');
  const shown = Number((await card.locator('.note').textContent()).split(' of ')[0].replace(/,/g, ''));
  expect(shown).toBeLessThan(10_000);
  const resp = sampled.find((r) => r.url().includes('train_loss'));
  const body = await resp.json();
  expect(body.series[0].total).toBe(100_000);
  expect(Math.max(...body.series[0].values)).toBe(9); // the spike survives downsampling
  await shoot(page, 'run-charts');

  // Hover shows values.
  const canvas = card.locator('canvas');
  const box = await canvas.boundingBox();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
  await expect(card.locator('.tip')).toBeVisible();
  await expect(card.locator('.tip')).toContainText('step:');

  // Drag to zoom: the chart asks the server for the zoomed range.
  const before = sampled.length;
  await page.mouse.move(box.x + box.width * 0.4, box.y + box.height * 0.5);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.45, box.y + box.height * 0.5, { steps: 5 });
  await page.mouse.up();
  await expect.poll(() => sampled.length).toBeGreaterThan(before);
  const zoomUrl = new URL(sampled[sampled.length - 1].url());
  const start = Number(zoomUrl.searchParams.get('start'));
  const end = Number(zoomUrl.searchParams.get('end'));
  expect(end - start).toBeLessThan(20_000);
  await expect(card.locator('.note')).not.toContainText('of 100,000');
  await card.locator('canvas').dblclick();
  await expect(card.locator('.note')).toContainText('of 100,000 points');

  // Log scale and smoothing redraw without errors; smoothing shows raw and smoothed on hover.
  await page.getByLabel('Log scale (y)').check();
  await page.getByLabel('Smoothing').fill('0.9');
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.5);
  await expect(card.locator('.tip')).toContainText('raw');
  // Single-point metrics are drawn too.
  await expect(page.locator('[data-testid=chart-card][data-key="auc"] .note')).toHaveText('1 point');
});

test('an unknown run id shows a clear message', async ({ page, consoleGuard }) => {
  consoleGuard.allow(/status of 404/);
  await page.goto('/runs/0123456789abcdef0123456789abcdef');
  await expect(page.getByText('Run “0123456789abcdef0123456789abcdef” was not found')).toBeVisible();
  await expect(page.getByText(/RESOURCE_DOES_NOT_EXIST/)).toBeVisible();
  await shoot(page, 'run-not-found');
});
