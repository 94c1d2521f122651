// Every screen at 360 px and 1280 px: axe-core finds no serious or critical WCAG 2.1 AA violation, and a
// screenshot of each is written to web/test-results/screens (the test artefacts).
import { expect, test } from '@playwright/test';
import { checkAccessibility, open, pressOn, screenshot, signIn } from './helpers.js';

const PUBLIC_SCREENS = [
  ['uvod', '/'],
  ['prihlaseni', '/prihlaseni'],
  ['petice', '/petice'],
  ['odhlaseno', '/odhlaseni'],
  ['relace-vyprsela', '/relace-vyprsela'],
  ['sluzby', '/sluzby'],
  ['dlazdice-verejne', '/dlazdice'],
  ['duchod', '/duchod'],
  ['uredni-desky', '/uredni-desky'],
];
const PERSONAL_SCREENS = [
  ['prehled', '/prehled'],
  ['datova-schranka', '/datova-schranka'],
  ['datova-schranka-odeslane', '/datova-schranka?slozka=sent'],
  ['datova-schranka-archiv', '/datova-schranka?slozka=archived'],
  ['nova-zprava', '/datova-schranka/nova-zprava'],
  ['kredit', '/datova-schranka/kredit'],
  ['dokumenty', '/dokumenty'],
  ['kalendar', '/kalendar'],
  ['oznameni', '/oznameni'],
  ['kontakty', '/kontakty'],
  ['udaje', '/udaje'],
  ['vypisy', '/vypisy'],
  ['podani', '/podani'],
  ['petice-nova', '/petice/nova'],
  ['petice-moje', '/petice/moje'],
  ['zmocneni', '/zmocneni'],
  ['pristupy', '/pristupy'],
  ['soukromi', '/soukromi'],
  ['dlazdice', '/dlazdice'],
  ['poplatky', '/poplatky'],
  ['uredni-desky-hlidani', '/uredni-desky'],
];

for (const width of [360, 1280]) {
  test.describe(`${width} px`, () => {
    test.use({ viewport: { width, height: 800 } });

    test('public screens', async ({ page }) => {
      for (const [name, route] of PUBLIC_SCREENS) {
        await open(page, route);
        await checkAccessibility(page, `${name} at ${width}`);
        await screenshot(page, `${width}-${name}`);
      }
    });

    test('personal screens', async ({ page }) => {
      test.setTimeout(120_000);
      await signIn(page, 'Jana');
      for (const [name, route] of PERSONAL_SCREENS) {
        await open(page, route);
        await checkAccessibility(page, `${name} at ${width}`);
        await screenshot(page, `${width}-${name}`);
      }
      // A message, and the open menu of a narrow screen.
      await open(page, '/datova-schranka');
      const first = page.locator('table a[href^="#/datova-schranka/received/"]').first();
      await open(page, (await first.getAttribute('href')).slice(1));
      await checkAccessibility(page, `zprava at ${width}`);
      await screenshot(page, `${width}-zprava`);
      if (width < 1024) {
        await pressOn(page, page.locator('#menu-toggle'));
        await expect(page.locator('#menu-toggle')).toHaveAttribute('aria-expanded', 'true');
        await expect(page.locator('#hlavni-navigace a', { hasText: 'Dokumenty' })).toBeVisible();
        await checkAccessibility(page, `menu at ${width}`);
        await screenshot(page, `${width}-menu`);
        await page.keyboard.press('Escape');
        await expect(page.locator('#menu-toggle')).toHaveAttribute('aria-expanded', 'false');
        await expect(page.locator('#menu-toggle')).toBeFocused();
      }
    });
  });
}
