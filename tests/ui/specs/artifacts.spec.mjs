// The artifact browser: tree, previews of every kind, download, and the files it
// cannot preview (binary, too large).
import { test, expect, state, shoot } from '../fixtures.mjs';

async function open(page, ...segments) {
  await page.goto(`/runs/${state.runs.train}?tab=artifacts`);
  const tree = page.getByRole('navigation', { name: 'Artifacts' });
  for (let i = 0; i < segments.length; i++) {
    const p = segments.slice(0, i + 1).join('/');
    await tree.locator(`button.node[data-path="${p}"]`).first().click();
  }
  return page.getByTestId('artifact-preview');
}

test('previews a PNG image', async ({ page }) => {
  const preview = await open(page, 'plots', 'curve.png');
  const img = preview.locator('img');
  await expect(img).toBeVisible();
  expect(await img.evaluate((i) => i.naturalWidth)).toBe(64);
  await expect(preview).toContainText('64 × 40 px');
  await shoot(page, 'artifact-png');
});

test('previews an SVG image without running it', async ({ page }) => {
  const preview = await open(page, 'plots', 'diagram.svg');
  const img = preview.locator('img');
  await expect(img).toBeVisible();
  expect(await img.evaluate((i) => i.naturalWidth)).toBe(120);
  expect(await img.getAttribute('src')).toMatch(/^blob:/);
});

test('shows CSV as a table', async ({ page }) => {
  const preview = await open(page, 'data', 'predictions.csv');
  const table = preview.getByTestId('csv-table');
  await expect(table.locator('thead th')).toHaveText(['id', 'label', 'score', 'comment']);
  await expect(table.locator('tbody tr')).toHaveCount(3);
  await expect(table.locator('tbody tr').nth(0).locator('td').nth(3)).toHaveText('first, with comma');
  await expect(table.locator('tbody tr').nth(2).locator('td').nth(3)).toHaveText('quoted "word"');
  await shoot(page, 'artifact-csv');
});

test('pretty-prints JSON and shows text', async ({ page }) => {
  let preview = await open(page, 'config.json');
  await expect(preview.getByTestId('json')).toContainText('"num_leaves": 31');
  preview = await open(page, 'notes', 'readme.txt');
  await expect(preview.locator('pre')).toContainText('Trained on churn-train.');
});

test('shows the logged model metadata (MLmodel)', async ({ page }) => {
  await page.goto(`/runs/${state.runs.train}?tab=artifacts`);
  const tree = page.getByRole('navigation', { name: 'Artifacts' });
  await expect(tree).toContainText('Logged model: model');
  await tree.locator('button.node[data-path="MLmodel"]').click();
  const meta = page.getByTestId('mlmodel');
  await expect(meta).toContainText('Model metadata');
  await expect(meta).toContainText('flavors');
  await expect(meta).toContainText('python_function');
  await shoot(page, 'artifact-mlmodel');
});

test('a binary file is not shown as text', async ({ page }) => {
  const preview = await open(page, 'weights.bin');
  await expect(preview.getByTestId('binary')).toContainText('Binary file');
});

test('a file too large to preview says so and can still be read in part', async ({ page }) => {
  const preview = await open(page, 'big.log');
  await expect(preview.getByTestId('too-large')).toContainText('Too large to preview');
  await expect(preview.getByTestId('too-large')).toContainText('3.0 MB');
  await shoot(page, 'artifact-too-large');
  await preview.getByRole('button', { name: /Show the first 1.0 MB/ }).click();
  await expect(preview.locator('pre')).toContainText('epoch=1 loss=0.5');
  await expect(preview).toContainText('Showing the first 1.0 MB of 3.0 MB');
});

test('downloads a file', async ({ page }) => {
  const preview = await open(page, 'config.json');
  const link = preview.getByRole('link', { name: 'Download' });
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  expect(download.suggestedFilename()).toBe('config.json');
  const path = await download.path();
  const text = (await import('node:fs')).readFileSync(path, 'utf8');
  expect(JSON.parse(text).model).toBe('gbm');
});
