// Browser tests of the reference client against the real portal binary (web/scripts/browser-tests.sh starts it and
// sets PORTAL_BASE_URL), in Debian's chromium: the registry's browser download is not available here.
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: './tests',
  outputDir: './test-results/playwright',
  // One worker: the flows build on each other's data in one portal (serial files), and CI has 2 cores.
  workers: 1,
  fullyParallel: false,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: process.env.PORTAL_BASE_URL || 'http://127.0.0.1:7071',
    locale: 'cs-CZ',
    timezoneId: 'Europe/Prague',
    acceptDownloads: true,
    trace: 'off',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.PORTAL_CHROMIUM || '/usr/bin/chromium',
      args: ['--headless', '--lang=cs', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    },
  },
});
