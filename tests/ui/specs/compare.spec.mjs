// Compare: parameter diff, metrics side by side, overlaid charts, parallel
// coordinates and scatter.
import { test, expect, state, shoot } from '../fixtures.mjs';

test('compares three trials', async ({ page }) => {
  const ids = state.runs.children;
  await page.goto(`/compare?runs=${ids.join(',')}`);
  await expect(page.getByRole('heading', { name: 'Comparing 3 runs' })).toBeVisible();
  const diff = page.getByTestId('param-diff');
  await expect(diff.locator('tr', { hasText: 'lr' }).first()).toHaveAttribute('data-differs', 'true');
  await expect(diff.locator('tr', { hasText: 'seed' })).toHaveAttribute('data-differs', 'false');
  await page.getByLabel('Only differences').check();
  await expect(diff.locator('tr', { hasText: 'seed' })).toHaveCount(0);
  await expect(diff.locator('tbody tr')).toHaveCount(3); // depth, lr, model
  await expect(page.getByTestId('metric-compare')).toContainText('loss');

  // Overlaid charts: one line per run, a legend with every run.
  const card = page.locator('[data-testid=chart-card][data-key="loss"]');
  await expect(card.locator('.chart')).toHaveAttribute('data-drawn', '1');
  await expect(card.locator('.note')).toHaveText('150 points');
  await expect(page.locator('.legend')).toContainText('trial-0');
  await expect(page.locator('.legend')).toContainText('trial-2');

  // Parallel coordinates: a line per run; scatter: a point per run.
  await expect(page.getByTestId('parallel').locator('path.pc-line')).toHaveCount(3);
  const scatter = page.getByTestId('scatter');
  await expect(scatter.locator('circle.pt')).toHaveCount(3);
  await page.getByLabel('Scatter x axis').selectOption('params.lr');
  await page.getByLabel('Scatter y axis').selectOption('metrics.loss');
  await expect(scatter.locator('svg')).toHaveAttribute('aria-label', /metrics.loss against params.lr/);
  await scatter.locator('circle.pt').first().hover();
  await expect(scatter.locator('.tip')).toContainText('params.lr');
  await shoot(page, 'compare');
  await scatter.locator(`circle.pt[data-run="${ids[0]}"]`).click();
  await expect(page).toHaveURL(new RegExp(`/runs/${ids[0]}`));
});

test('a missing run in the list is reported, the others compared', async ({ page, consoleGuard }) => {
  consoleGuard.allow(/status of 404/);
  await page.goto(`/compare?runs=${state.runs.children[0]},ffffffffffffffffffffffffffffffff`);
  await expect(page.getByRole('heading', { name: 'Comparing 1 run' })).toBeVisible();
  await expect(page.getByRole('alert').filter({ hasText: 'could not be loaded' })).toContainText('ffffffffffffffffffffffffffffffff');
});
