// Every page against a fresh store (nothing logged yet): clear empty states.
import { test, expect, shoot } from '../fixtures.mjs';
import { startServer } from '../server.mjs';

let server;
test.beforeAll(async () => { server = await startServer('fresh'); });
test.afterAll(async () => { if (server) await server.stop(); });

test('a fresh store shows empty states on every page', async ({ page, consoleGuard }) => {
  consoleGuard.allow(/status of 404/);
  await page.goto(`${server.url}/`);
  const rows = page.getByTestId('experiments').locator('tbody tr');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('Default');
  await shoot(page, 'fresh-experiments');

  await page.getByRole('link', { name: 'Default' }).click();
  await expect(page.getByText('No runs in this experiment yet')).toBeVisible();

  await page.getByRole('link', { name: 'Models' }).click();
  await expect(page.getByText('No registered models yet')).toBeVisible();
  await shoot(page, 'fresh-models');

  await page.getByRole('link', { name: 'Studies' }).click();
  await expect(page.getByText('No studies yet')).toBeVisible();
  await expect(page.getByText(/kiln tune --objective-cmd/)).toBeVisible();
  await shoot(page, 'fresh-studies');

  await page.goto(`${server.url}/compare`);
  await expect(page.getByText('No runs selected')).toBeVisible();
  await page.goto(`${server.url}/runs/0123456789abcdef0123456789abcdef`);
  await expect(page.getByText(/was not found/)).toBeVisible();
});

test('the first run logged to a fresh store shows up with its page', async ({ page }) => {
  const call = async (p, body) => {
    const r = await fetch(`${server.url}/api/2.0/mlflow${p}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    expect(r.ok).toBe(true);
    return r.json();
  };
  const run = (await call('/runs/create', { experiment_id: '0', run_name: 'first', start_time: Date.now() })).run;
  await call('/runs/log-metric', { run_id: run.info.run_id, key: 'loss', value: 0.5, timestamp: Date.now(), step: 0 });
  await page.goto(`${server.url}/experiments/0`);
  await expect(page.locator(`[data-run-row="${run.info.run_id}"]`)).toContainText('first');
  await page.getByRole('link', { name: 'first' }).click();
  await expect(page.getByTestId('metrics')).toContainText('loss');
  await page.getByRole('tab', { name: 'Artifacts' }).click();
  await expect(page.getByText('No artifacts')).toBeVisible();
});

test('a study without trials yet explains how to start one', async ({ page }) => {
  const r = await fetch(`${server.url}/api/2.0/kiln/studies/create`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'fresh-study', space: { x: { float: [0, 1] } } }),
  });
  expect(r.ok).toBe(true);
  await page.goto(`${server.url}/studies`);
  await expect(page.getByTestId('studies').locator('tr[data-study="fresh-study"] td').nth(2)).toHaveText('0');
  await page.getByRole('link', { name: 'fresh-study' }).click();
  await expect(page.getByText('No trials yet')).toBeVisible();
  await expect(page.getByText('kiln study ask --study fresh-study')).toBeVisible();
});
