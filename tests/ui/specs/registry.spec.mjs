// The model registry: list, model, version; promote / demote, aliases, tags,
// descriptions, and links to the source run and its data.
import { test, expect, state, shoot, api } from '../fixtures.mjs';

const model = () => state.model;
const mv = async (v) => (await api('GET', `/model-versions/get?name=${model()}&version=${v}`)).model_version;

test('lists registered models', async ({ page }) => {
  await page.goto('/models');
  const row = page.locator('tr', { hasText: model() });
  await expect(row).toContainText('@candidate → v1');
  await expect(row).toContainText('v2');
  await shoot(page, 'models');
  await row.getByRole('link', { name: model() }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(model());
});

test('promotes, archives-existing and demotes versions', async ({ page }) => {
  await page.goto(`/models/${model()}`);
  const versions = page.getByTestId('versions');
  await versions.getByTestId('stage-select-1').selectOption('Staging');
  const dialog = page.getByRole('dialog');
  await expect(dialog).toContainText('Promote ui-churn v1 to Staging');
  await dialog.getByRole('button', { name: 'Move to Staging' }).click();
  await expect(versions.locator('tr', { hasText: 'Version 1' })).toContainText('Staging');
  expect((await mv(1)).current_stage).toBe('Staging');

  await versions.getByTestId('stage-select-2').selectOption('Staging');
  await page.getByRole('dialog').getByLabel(/Archive the other versions now in Staging/).check();
  await page.getByRole('dialog').getByRole('button', { name: 'Move to Staging' }).click();
  await expect(versions.locator('tr', { hasText: 'Version 2' })).toContainText('Staging');
  await expect(versions.locator('tr', { hasText: 'Version 1' })).toContainText('Archived');
  expect((await mv(1)).current_stage).toBe('Archived');

  // On the version page: promote to Production, then demote back to None.
  await page.goto(`/models/${model()}/versions/2`);
  await page.getByRole('button', { name: 'Promote to Production' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Move to Production' }).click();
  await expect(page.locator('h1 .stage')).toHaveText('Production');
  expect((await mv(2)).current_stage).toBe('Production');
  await shoot(page, 'model-version');
  await page.getByRole('button', { name: 'Demote to None' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Move to None' }).click();
  await expect(page.locator('h1 .stage')).toHaveText('None');
  expect((await mv(2)).current_stage).toBe('None');
});

test('sets and removes aliases', async ({ page, consoleGuard }) => {
  consoleGuard.allow(/status of 400/);
  await page.goto(`/models/${model()}`);
  await page.getByRole('button', { name: 'Set alias' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Alias').fill('champion');
  await dialog.getByLabel('Version').selectOption('2');
  await dialog.getByRole('button', { name: 'Set alias' }).click();
  const aliases = page.getByTestId('aliases');
  await expect(aliases.locator('[data-alias="champion"]')).toContainText('@champion → v2');
  expect((await mv(2)).aliases).toContain('champion');
  await shoot(page, 'model');

  // A bad alias name is refused with the server's message, in the dialog.
  await page.getByRole('button', { name: 'Set alias' }).click();
  await page.getByRole('dialog').getByLabel('Alias').fill('latest');
  await page.getByRole('dialog').getByRole('button', { name: 'Set alias' }).click();
  await expect(page.getByRole('dialog').locator('.error-box')).toBeVisible();
  await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();

  await aliases.getByRole('button', { name: 'Remove alias champion' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Remove' }).click();
  await expect(aliases.locator('[data-alias="champion"]')).toHaveCount(0);
  expect((await mv(2)).aliases || []).not.toContain('champion');
});

test('adds and removes tags, edits descriptions', async ({ page }) => {
  await page.goto(`/models/${model()}`);
  const tags = page.getByTestId('tags');
  await tags.getByLabel('Tag key').fill('owner');
  await tags.getByLabel('Tag value').fill('ml-team');
  await tags.getByRole('button', { name: 'Add tag' }).click();
  await expect(page.getByTestId('tags')).toContainText('ml-team');
  const rm = (await api('GET', `/registered-models/get?name=${model()}`)).registered_model;
  expect(rm.tags).toContainEqual({ key: 'owner', value: 'ml-team' });
  await page.getByTestId('tags').getByRole('button', { name: 'Remove tag owner' }).click();
  await expect(page.getByTestId('tags')).not.toContainText('ml-team');

  await page.getByTestId('description').getByRole('button', { name: 'Edit' }).click();
  await page.getByRole('dialog').getByLabel('Description').fill('Edited from the UI.');
  await page.getByRole('dialog').getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('description')).toContainText('Edited from the UI.');
  expect((await api('GET', `/registered-models/get?name=${model()}`)).registered_model.description).toBe('Edited from the UI.');

  // Version tags and description.
  await page.goto(`/models/${model()}/versions/1`);
  await page.getByTestId('tags').getByLabel('Tag key').fill('validated');
  await page.getByTestId('tags').getByLabel('Tag value').fill('yes');
  await page.getByTestId('tags').getByRole('button', { name: 'Add tag' }).click();
  await expect(page.getByTestId('tags')).toContainText('validated');
  expect((await mv(1)).tags).toContainEqual({ key: 'validated', value: 'yes' });
  await page.getByTestId('description').getByRole('button', { name: 'Edit' }).click();
  await page.getByRole('dialog').getByLabel('Description').fill('First version.');
  await page.getByRole('dialog').getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('description')).toContainText('First version.');
  expect((await mv(1)).description).toBe('First version.');
});

test('a version links to its run and shows the run\'s data', async ({ page }) => {
  await page.goto(`/models/${model()}/versions/1`);
  const box = page.getByTestId('version-run');
  await expect(box).toContainText('train-gbm');
  await expect(box).toContainText('churn-train');
  await expect(box).toContainText('auc');
  await box.getByRole('link', { name: 'train-gbm' }).click();
  await expect(page).toHaveURL(new RegExp(`/runs/${state.runs.train}`));
});

test('an unknown model or version says so', async ({ page, consoleGuard }) => {
  consoleGuard.allow(/status of 404/);
  await page.goto('/models/no-such-model');
  await expect(page.getByText('Model “no-such-model” was not found')).toBeVisible();
  await page.goto(`/models/${model()}/versions/99`);
  await expect(page.getByText(`Version 99 of “${model()}” was not found`)).toBeVisible();
});
