// The experiments list: counts, search, create, rename, delete, restore, empty states.
import { test, expect, state, shoot, api } from '../fixtures.mjs';

test('lists experiments with run counts and last activity', async ({ page }) => {
  await page.goto('/');
  const table = page.getByTestId('experiments');
  const demo = table.locator(`tr[data-experiment="${state.experiments.demo}"]`);
  await expect(demo).toContainText('ui-demo');
  // 7 runs: the sweep and its 3 trials, 2 training runs, the live run; 1 running.
  await expect(demo.locator('td').nth(2)).toHaveText('7');
  await expect(demo.locator('td').nth(3)).toHaveText('1');
  const many = table.locator(`tr[data-experiment="${state.experiments.many}"]`);
  await expect(many.locator('td').nth(2)).toHaveText('1,200');
  await expect(many.locator('td').nth(4)).toHaveText(/ago|just now/);
  await shoot(page, 'experiments');
});

test('searches by name and says when nothing matches', async ({ page }) => {
  await page.goto('/');
  const search = page.getByLabel('Search experiments by name');
  await search.fill('ui-em');
  await expect(page.getByTestId('experiments').locator('tbody tr')).toHaveCount(1);
  await expect(page.getByTestId('experiments')).toContainText('ui-empty');
  await search.fill('no-such-experiment-xyz');
  await expect(page.getByText('No experiment matches “no-such-experiment-xyz”')).toBeVisible();
});

test('creates, renames, deletes and restores an experiment', async ({ page, consoleGuard }) => {
  consoleGuard.allow(/status of 400/);
  await page.goto('/');
  const name = `ui-created-${Date.now()}`;
  await page.getByRole('button', { name: 'New experiment' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Name').fill(name);
  await dialog.getByRole('button', { name: 'Create' }).click();
  await expect(dialog).toHaveCount(0);
  const row = page.getByTestId('experiments').locator('tr', { hasText: name });
  await expect(row).toHaveCount(1);
  const got = await api('GET', `/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`);
  expect(got.experiment.lifecycle_stage).toBe('active');

  // A duplicate name is refused with the server's message, in the dialog.
  await page.getByRole('button', { name: 'New experiment' }).click();
  await page.getByRole('dialog').getByLabel('Name').fill(name);
  await page.getByRole('dialog').getByRole('button', { name: 'Create' }).click();
  await expect(page.getByRole('dialog').locator('.error-box')).toContainText('already exists');
  await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();

  await row.getByRole('button', { name: `Rename ${name}` }).click();
  await page.getByRole('dialog').getByLabel('New name').fill(`${name}-renamed`);
  await page.getByRole('dialog').getByRole('button', { name: 'Rename' }).click();
  const renamed = page.getByTestId('experiments').locator('tr', { hasText: `${name}-renamed` });
  await expect(renamed).toHaveCount(1);

  await renamed.getByRole('button', { name: `Delete ${name}-renamed` }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByTestId('experiments').locator('tr', { hasText: `${name}-renamed` })).toHaveCount(0);
  const id = got.experiment.experiment_id;
  expect((await api('GET', `/experiments/get?experiment_id=${id}`)).experiment.lifecycle_stage).toBe('deleted');

  await page.getByLabel('Show deleted').check();
  const deleted = page.getByTestId('experiments').locator('tr', { hasText: `${name}-renamed` });
  await deleted.getByRole('button', { name: 'Restore' }).click();
  await expect(page.getByTestId('experiments').locator('tr', { hasText: `${name}-renamed` })).toHaveCount(0);
  expect((await api('GET', `/experiments/get?experiment_id=${id}`)).experiment.lifecycle_stage).toBe('active');
});

test('an experiment without runs says how to log one', async ({ page }) => {
  await page.goto(`/experiments/${state.experiments.empty}`);
  await expect(page.getByText('No runs in this experiment yet')).toBeVisible();
  await expect(page.locator('.empty code')).toContainText('MLFLOW_TRACKING_URI=');
  await shoot(page, 'experiment-empty');
});
