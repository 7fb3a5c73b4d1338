// The study pages: the studies list (from the top navigation), a one-objective
// study (optimisation history, best trial, importances, intermediate values,
// parallel coordinates, the trial table with every state, links to the trials'
// MLflow runs), a two-objective study's Pareto front, and the error states.
import { test, expect, state, shoot } from '../fixtures.mjs';

const single = state.studies.single;
const multi = state.studies.multi;

/** A number as the UI shows it (up to 6 significant digits). */
function fmt(v) {
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e9)) return v.toExponential(4);
  return String(Number(v.toPrecision(6)));
}

const complete = (s) => s.trials.filter((t) => t.state === 'COMPLETE');

/** Whether trial `a` dominates `b` (no worse in every objective, better in one). */
function dominates(a, b, dirs) {
  let strictly = false;
  for (let i = 0; i < dirs.length; i++) {
    const [x, y] = dirs[i] === 'maximize' ? [-a.values[i], -b.values[i]] : [a.values[i], b.values[i]];
    if (x > y) return false;
    if (x < y) strictly = true;
  }
  return strictly;
}

test('the studies list is reachable from the top navigation and searchable', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Studies' }).click();
  await expect(page).toHaveURL(/\/studies$/);
  await expect(page.getByRole('link', { name: 'Studies' })).toHaveAttribute('aria-current', 'page');
  const table = page.getByTestId('studies');
  const row = table.locator(`tr[data-study="${single.name}"]`);
  const count = (st) => String(single.trials.filter((t) => t.state === st).length);
  await expect(row.locator('td').nth(2)).toHaveText(String(single.trials.length));
  await expect(row.locator('td').nth(3)).toHaveText(count('COMPLETE'));
  await expect(row.locator('td').nth(4)).toHaveText(count('PRUNED'));
  await expect(row.locator('td').nth(5)).toHaveText(count('FAIL'));
  await expect(row.locator('td').nth(6)).toHaveText(count('RUNNING'));
  await expect(row.locator('td').nth(7)).toHaveText(count('WAITING'));
  await expect(row).toContainText('loss ↓');
  await expect(row).toContainText('random');
  const mrow = table.locator(`tr[data-study="${multi.name}"]`);
  await expect(mrow).toContainText('error ↓');
  await expect(mrow).toContainText('speed ↑');
  await shoot(page, 'studies');

  // Keyboard: "/" focuses the search, Enter on a link opens the study.
  await page.keyboard.press('/');
  await expect(page.getByLabel('Search studies by name')).toBeFocused();
  await page.keyboard.type('trade');
  await expect(table.locator('tbody tr')).toHaveCount(1);
  await page.getByLabel('Search studies by name').fill('no-such-study-xyz');
  await expect(page.getByText('No study matches “no-such-study-xyz”')).toBeVisible();
  await page.getByLabel('Search studies by name').fill('quad');
  await page.getByRole('link', { name: single.name }).focus();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(new RegExp(`/studies/${single.name}$`));
  await expect(page.getByRole('heading', { level: 1 })).toContainText(single.name);
});

test('a one-objective study: history, best trial, importances, trials in every state', async ({ page }) => {
  await page.goto(`/studies/${single.name}`);
  await expect(page.getByRole('heading', { level: 1 })).toContainText(single.name);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('loss ↓ minimize');
  const done = complete(single);
  const best = done.reduce((a, b) => (b.values[0] < a.values[0] ? b : a));
  const last = done[done.length - 1];

  // Counts by state.
  const stats = page.getByTestId('study-stats');
  for (const st of ['COMPLETE', 'PRUNED', 'FAIL', 'RUNNING', 'WAITING']) {
    await expect(stats.locator(`[data-state="${st}"] strong`)).toHaveText(String(single.trials.filter((t) => t.state === st).length));
  }

  // The optimisation history drew; at the last complete trial the best so far is the best value.
  const history = page.getByTestId('history');
  const chart = history.locator('.chart');
  await expect(chart).toHaveAttribute('data-drawn', '1');
  await expect(chart.locator('.msg')).toBeHidden();
  const box = await chart.locator('canvas').boundingBox();
  await page.mouse.move(box.x + box.width - 16, box.y + box.height / 2);
  const tip = chart.locator('.tip');
  await expect(tip).toBeVisible();
  await expect(tip).toContainText(`trial: ${last.number}`);
  await expect(tip.locator('.row', { hasText: 'best so far' })).toContainText(fmt(best.values[0]));
  await expect(tip.locator('.row', { hasText: 'loss' }).first()).toContainText(fmt(last.values[0]));
  await page.mouse.move(0, 0);

  // Best trial.
  const bestPanel = page.getByTestId('best');
  await expect(bestPanel.getByRole('heading', { name: `Best trial: #${best.number}` })).toBeVisible();
  await expect(bestPanel.locator('[data-best-value]')).toHaveText(fmt(best.values[0]));
  await expect(bestPanel).toContainText(best.params.booster);

  // Importances: the parameters every complete trial has (not the conditional drop_rate), x first.
  const imp = page.getByTestId('importances');
  const rows = imp.locator('.imp-row');
  await expect(rows).toHaveCount(3);
  await expect(rows.first()).toHaveAttribute('data-param', 'x');
  await expect(imp.locator('[data-param="drop_rate"]')).toHaveCount(0);
  const shares = (await imp.locator('.imp-val').allTextContents()).map((t) => Number(t.replace('%', '')));
  expect(Math.abs(shares.reduce((a, b) => a + b, 0) - 100)).toBeLessThan(0.5);

  // Intermediate values and parallel coordinates.
  await expect(page.getByTestId('intermediate').locator('.chart')).toHaveAttribute('data-drawn', '1');
  await expect(page.getByTestId('parallel').locator('path.pc-line')).toHaveCount(done.length);

  // The trial table: every trial with its state, values, intermediate values and run link.
  const trials = page.getByTestId('trials');
  await expect(trials.locator('tbody tr')).toHaveCount(single.trials.length);
  for (const t of single.trials) {
    const tr = trials.locator(`tr[data-trial="${t.number}"]`);
    await expect(tr).toHaveAttribute('data-state', t.state);
    await expect(tr.locator('.status')).toHaveText(t.state);
    await expect(tr.locator('[data-value="0"]')).toHaveText(t.state === 'COMPLETE' ? fmt(t.values[0]) : '—');
    await expect(tr.locator('[data-intermediate]')).toHaveAttribute('data-intermediate', String(t.intermediate.length));
    if (t.intermediate.length) {
      const [step, v] = t.intermediate[t.intermediate.length - 1];
      await expect(tr.locator('[data-intermediate]')).toContainText(`last ${fmt(v)} @ step ${step}`);
    }
    if (t.run_id) await expect(tr.locator('a[data-run-link]')).toHaveAttribute('href', `/runs/${t.run_id}`);
    if (t.state === 'FAIL') await expect(tr).toContainText(t.reason);
  }
  await expect(trials.locator(`tr[data-trial="${best.number}"]`)).toContainText('best');
  await shoot(page, 'study');

  // Filter by state, sort best first.
  await page.getByLabel('Show trials in state').selectOption('PRUNED');
  await expect(trials.locator('tbody tr')).toHaveCount(single.trials.filter((t) => t.state === 'PRUNED').length);
  await expect(trials.locator('tbody tr[data-state="COMPLETE"]')).toHaveCount(0);
  await page.getByLabel('Show trials in state').selectOption('');
  await page.getByLabel('Sort trials').selectOption('best:0');
  await expect(trials.locator('tbody tr').first()).toHaveAttribute('data-trial', String(best.number));

  // Log scale redraws the history without errors.
  await page.getByLabel('Log scale (y)').check();
  await expect(chart.locator('.msg')).toBeHidden();
});

test('a trial links to its MLflow child run, which links back to the study', async ({ page }) => {
  const t = complete(single)[0];
  await page.goto(`/studies/${single.name}`);
  await page.getByTestId('trials').locator(`tr[data-trial="${t.number}"] a[data-run-link]`).click();
  await expect(page).toHaveURL(new RegExp(`/runs/${t.run_id}`));
  await expect(page.getByRole('heading', { level: 1 })).toContainText(`trial-${t.number}`);
  await expect(page.getByRole('heading', { name: 'Parent run' })).toBeVisible();
  await expect(page.getByRole('link', { name: single.name }).first()).toBeVisible();
  const link = page.getByTestId('study-link');
  await expect(link).toContainText(`trial #${t.number}`);
  await expect(link.locator('.status')).toHaveText('COMPLETE');
  await link.getByRole('link', { name: single.name }).click();
  await expect(page).toHaveURL(new RegExp(`/studies/${single.name}$`));
  await expect(page.getByTestId('history').locator('.chart')).toHaveAttribute('data-drawn', '1');
});

test('a two-objective study shows its Pareto front', async ({ page }) => {
  await page.goto(`/studies/${multi.name}`);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('error ↓ minimize');
  await expect(page.getByRole('heading', { level: 1 })).toContainText('speed ↑ maximize');
  const done = complete(multi);
  const front = done.filter((t) => !done.some((o) => o !== t && dominates(o, t, multi.directions)));
  expect(front.length).toBeGreaterThan(0);
  expect(front.length).toBeLessThan(done.length);

  const pareto = page.getByTestId('pareto');
  await expect(pareto.locator('circle.pt')).toHaveCount(done.length);
  await expect(pareto.locator('circle.pt.front')).toHaveCount(front.length);
  for (const t of front) await expect(pareto.locator(`circle.pt.front[data-run="${t.run_id}"]`)).toHaveCount(1);
  await expect(pareto.locator('path.sc-line')).toHaveCount(front.length > 1 ? 1 : 0);
  const table = page.getByTestId('front');
  await expect(table.locator('tbody tr')).toHaveCount(front.length);
  for (const t of front) {
    const tr = table.locator(`tr[data-trial="${t.number}"]`);
    await expect(tr.locator('td').nth(1)).toHaveText(fmt(t.values[0]));
    await expect(tr.locator('td').nth(2)).toHaveText(fmt(t.values[1]));
  }

  // One history chart per objective, importances per objective, both values in the table.
  for (const i of [0, 1]) {
    await expect(page.getByTestId('history').locator(`[data-objective="${i}"] .chart`)).toHaveAttribute('data-drawn', '1');
  }
  const imp = page.getByTestId('importances');
  await expect(imp.locator('.imp[data-objective]')).toHaveCount(2);
  await expect(imp.locator('.imp[data-objective="1"] h3')).toHaveText('speed');
  const failed = multi.trials.find((t) => t.state === 'FAIL');
  const tr = page.getByTestId('trials').locator(`tr[data-trial="${failed.number}"]`);
  await expect(tr.locator('.status')).toHaveText('FAIL');
  await expect(tr).toContainText('diverged');
  const one = done[0];
  const row = page.getByTestId('trials').locator(`tr[data-trial="${one.number}"]`);
  await expect(row.locator('[data-value="0"]')).toHaveText(fmt(one.values[0]));
  await expect(row.locator('[data-value="1"]')).toHaveText(fmt(one.values[1]));
  await expect(page.getByTestId('parallel').locator('path.pc-line')).toHaveCount(done.length);
  await shoot(page, 'study-pareto');

  // A point opens its trial's run.
  await pareto.locator(`circle.pt.front[data-run="${front[0].run_id}"]`).click();
  await expect(page).toHaveURL(new RegExp(`/runs/${front[0].run_id}`));
});

test('an unknown study name shows a clear message', async ({ page, consoleGuard }) => {
  consoleGuard.allow(/status of 404/);
  await page.goto('/studies/no-such-study');
  await expect(page.getByText('Study “no-such-study” was not found')).toBeVisible();
  await expect(page.getByText(/RESOURCE_DOES_NOT_EXIST/)).toBeVisible();
  await shoot(page, 'study-not-found');
  await page.getByRole('link', { name: 'See all studies' }).click();
  await expect(page.getByTestId('studies')).toBeVisible();
});

test('a server error on the study page is shown, not swallowed', async ({ page, consoleGuard }) => {
  consoleGuard.allow(/status of 500/);
  await page.route('**/ajax-api/2.0/kiln/studies/overview**', (route) => route.fulfill({
    status: 500, contentType: 'application/json', body: JSON.stringify({ error_code: 'INTERNAL_ERROR', message: 'the disk is on fire' }),
  }));
  await page.goto(`/studies/${single.name}`);
  await expect(page.getByRole('alert').filter({ hasText: 'Could not load the study' })).toContainText('the disk is on fire');
});

test('a study with a running trial updates without a reload', async ({ page }) => {
  const call = async (p, body) => {
    const r = await fetch(`${state.url}/api/2.0/kiln/studies${p}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    expect(r.ok, `${p}: ${r.status}`).toBe(true);
    return r.json();
  };
  const name = `tune-live-${Date.now()}`;
  await call('/create', { name, sampler: 'random', space: { x: { float: [0, 1] } } });
  const t = (await call('/ask', { study: name })).trial;
  await page.goto(`/studies/${name}`);
  const row = page.getByTestId('trials').locator(`tr[data-trial="${t.number}"]`);
  await expect(row).toHaveAttribute('data-state', 'RUNNING');
  await expect(page.getByTestId('study-stats')).toContainText('Live: refreshes every 5 s');
  await expect(page.getByTestId('history').locator('.msg')).toHaveText('No complete trial yet');
  await call('/report', { study: name, number: t.number, step: 0, value: 0.75 });
  await call('/tell', { study: name, number: t.number, value: 0.25 });
  // The page polls every 5 s: wait for the new state (no reload).
  await expect(row).toHaveAttribute('data-state', 'COMPLETE', { timeout: 20_000 });
  await expect(row.locator('[data-value="0"]')).toHaveText('0.25');
  await expect(page.getByTestId('best').getByRole('heading', { name: `Best trial: #${t.number}` })).toBeVisible();
  await expect(page.getByTestId('history').locator('.chart')).toHaveAttribute('data-drawn', '1');
  await expect(page.getByTestId('importances-message')).toContainText('at least 2 complete trials');
});
