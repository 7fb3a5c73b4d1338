// The runs table: nested runs, sorting, filter completion and errors, columns,
// virtual scrolling over many runs, selection for compare, live updates.
import { test, expect, state, shoot, api } from '../fixtures.mjs';

const rows = (page) => page.locator('[data-run-row]');
const rowOf = (page, id) => page.locator(`[data-run-row="${id}"]`);

test('nested runs are folded under their parent and unfold on demand', async ({ page }) => {
  await page.goto(`/experiments/${state.experiments.demo}`);
  const parent = rowOf(page, state.runs.parent);
  await expect(parent).toContainText('sweep');
  await expect(parent).toContainText('(3)');
  for (const c of state.runs.children) await expect(rowOf(page, c)).toHaveCount(0);
  await parent.getByRole('button', { name: /Unfold 3 child runs/ }).click();
  for (const c of state.runs.children) await expect(rowOf(page, c)).toBeVisible();
  await expect(page.getByTestId('run-count')).toHaveText('7 runs');
  await shoot(page, 'runs-table');
  // Keyboard: fold again with ArrowLeft on the parent row.
  await page.getByTestId('runs-table').focus();
  const ids = await rows(page).evaluateAll((els) => els.map((e) => e.dataset.runRow));
  const idx = ids.indexOf(state.runs.parent);
  for (let i = 0; i < idx; i++) await page.keyboard.press('ArrowDown');
  await expect(parent).toHaveClass(/active/);
  await page.keyboard.press('ArrowLeft');
  for (const c of state.runs.children) await expect(rowOf(page, c)).toHaveCount(0);
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(new RegExp(`/runs/${state.runs.parent}`));
});

test('sorts by a metric column on the server', async ({ page }) => {
  await page.goto(`/experiments/${state.experiments.many}`);
  const header = page.locator('.rt-head [role=columnheader]', { hasText: 'score' });
  await header.click();
  await expect(header).toHaveAttribute('aria-sort', 'descending');
  await expect(rows(page).first()).toContainText('0.999');
  await header.click();
  await expect(header).toHaveAttribute('aria-sort', 'ascending');
  const first = rows(page).first().locator('[role=gridcell]').nth(6);
  await expect(first).toHaveText('0');
  await expect(page).toHaveURL(/sort=metrics.score%3Aasc|sort=metrics.score:asc/);
});

test('completes filter keys and applies the filter on the server', async ({ page }) => {
  await page.goto(`/experiments/${state.experiments.many}`);
  const box = page.getByRole('combobox', { name: /Filter runs/ });
  await box.click();
  await box.pressSequentially('metrics.sc');
  const option = page.getByRole('option', { name: /metrics\.score/ });
  await expect(option).toBeVisible();
  await shoot(page, 'filter-completion');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await expect(box).toHaveValue('metrics.score ');
  // After a key the comparators are offered.
  await expect(page.getByRole('option', { name: /^>=/ })).toBeVisible();
  await box.pressSequentially('> 0.99 and params.group = \'g1\'');
  await page.keyboard.press('Escape');
  await page.keyboard.press('Enter');
  const expected = (await api('POST', '/runs/search', {
    experiment_ids: [state.experiments.many], filter: "metrics.score > 0.99 and params.group = 'g1'", max_results: 1000,
  })).runs || [];
  expect(expected.length).toBeGreaterThan(0);
  await expect(page.getByTestId('run-count')).toHaveText(`${expected.length} run${expected.length === 1 ? '' : 's'}`);
  await expect(rows(page)).toHaveCount(expected.length);
  for (const r of expected) await expect(rowOf(page, r.info.run_id)).toHaveCount(1);
});

test('a filter with a syntax error shows the server message', async ({ page, consoleGuard }) => {
  consoleGuard.allow(/status of 400/);
  await page.goto(`/experiments/${state.experiments.many}`);
  const box = page.getByRole('combobox', { name: /Filter runs/ });
  await box.fill('metrics.score >>> 1');
  await box.press('Enter');
  const err = page.getByTestId('filter-error');
  await expect(err).toContainText('The filter was not applied');
  await expect(err).toContainText(/INVALID_PARAMETER_VALUE/);
  await expect(page.getByText('Fix the filter above, or clear it.')).toBeVisible();
  await expect(box).toHaveAttribute('aria-invalid', 'true');
  await shoot(page, 'filter-error');
  await page.getByRole('button', { name: 'Clear' }).click();
  await expect(err).toBeEmpty();
  await expect(page.getByTestId('run-count')).toHaveText('1,200 runs');
});

test('1,200 runs scroll virtually: few rows in the DOM, every run reachable', async ({ page }) => {
  await page.goto(`/experiments/${state.experiments.many}`);
  await expect(page.getByTestId('run-count')).toHaveText('1,200 runs');
  expect(await rows(page).count()).toBeLessThan(100);
  const table = page.getByTestId('runs-table');
  await table.evaluate((el) => { el.scrollTop = el.scrollHeight; });
  await expect.poll(async () => Math.max(...await rows(page).evaluateAll((els) => els.map((e) => Number(e.getAttribute('aria-rowindex'))))))
    .toBe(1201);
  expect(await rows(page).count()).toBeLessThan(100);
  // End / Home from the keyboard.
  await table.focus();
  await page.keyboard.press('Home');
  await expect(page.locator('[data-run-row][aria-rowindex="2"]')).toBeVisible();
});

test('chooses columns, including tags', async ({ page }) => {
  await page.goto(`/experiments/${state.experiments.demo}`);
  await page.getByRole('button', { name: 'Columns…' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Search keys').fill('kind');
  await dialog.getByRole('checkbox', { name: 'kind' }).check();
  await dialog.getByRole('button', { name: 'Show columns' }).click();
  const header = page.locator('.rt-head [role=columnheader]', { hasText: 'kind' });
  await expect(header).toBeVisible();
  await expect(rowOf(page, state.runs.parent)).toContainText('sweep');
  const kindCol = await page.locator('.rt-head [role=columnheader]').evaluateAll((els) => els.findIndex((e) => e.textContent.includes('kind')));
  await expect(rowOf(page, state.runs.parent).locator('[role=gridcell]').nth(kindCol)).toHaveText('sweep');
  await expect(rowOf(page, state.runs.running).locator('[role=gridcell]').nth(kindCol)).toHaveText('live');
});

test('selects runs and opens the compare view', async ({ page }) => {
  await page.goto(`/experiments/${state.experiments.demo}`);
  const compare = page.getByRole('button', { name: /Compare/ });
  await expect(compare).toBeDisabled();
  await rowOf(page, state.runs.train).getByRole('checkbox').check();
  await rowOf(page, state.runs.train2).getByRole('checkbox').check();
  await expect(compare).toHaveText('Compare 2 runs');
  await compare.click();
  await expect(page).toHaveURL(/\/compare\?runs=/);
  await expect(page.getByRole('heading', { name: 'Comparing 2 runs' })).toBeVisible();
});

test('running runs update live and new runs appear without a reload', async ({ page }) => {
  await page.goto(`/experiments/${state.experiments.demo}`);
  const live = rowOf(page, state.runs.running);
  await expect(live).toContainText('RUNNING');
  const marker = await page.evaluate(() => { window.__noReload = 1; return 1; });
  const now = Date.now();
  await api('POST', '/runs/log-metric', { run_id: state.runs.running, key: 'loss', value: 0.25, timestamp: now, step: 1 });
  await expect(live).toContainText('0.25', { timeout: 20_000 });
  await api('POST', '/runs/update', { run_id: state.runs.running, status: 'FINISHED', end_time: now + 1 });
  await expect(live).toContainText('FINISHED', { timeout: 20_000 });
  const created = await api('POST', '/runs/create', { experiment_id: state.experiments.demo, run_name: 'appeared-live', start_time: Date.now() });
  await expect(rowOf(page, created.run.info.run_id)).toContainText('appeared-live', { timeout: 20_000 });
  await expect(page.getByTestId('run-count')).toHaveText('8 runs');
  expect(await page.evaluate(() => window.__noReload)).toBe(marker);
  await expect(page.locator('.conn.live')).toContainText('Live');
  await api('POST', '/runs/delete', { run_id: created.run.info.run_id });
});
