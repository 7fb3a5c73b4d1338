// Playwright configuration for Kiln's UI tests. The browser is Debian's Chromium
// (no browser download): KILN_CHROMIUM overrides /usr/bin/chromium.
import { defineConfig } from '@playwright/test';

export const CHROMIUM = process.env.KILN_CHROMIUM || '/usr/bin/chromium';

export default defineConfig({
  testDir: './specs',
  timeout: 90_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  outputDir: './test-results',
  globalSetup: './global-setup.mjs',
  use: {
    browserName: 'chromium',
    viewport: { width: 1366, height: 820 },
    launchOptions: {
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    },
    trace: 'off',
    screenshot: 'only-on-failure',
    actionTimeout: 15_000,
  },
});
