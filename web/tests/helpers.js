// What the browser tests share: keyboard-only driving, sign-in through the development identity provider,
// axe-core injected into the page, screenshots at the two widths.
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from '@playwright/test';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
export const SCREENS = join(dirname(fileURLToPath(import.meta.url)), '..', 'test-results', 'screens');
mkdirSync(SCREENS, { recursive: true });

/** Presses Tab until `locator` has the focus (at most `max` presses): the element is reachable by keyboard. */
export async function tabTo(page, locator, max = 150) {
  const target = locator.first();
  await expect(target).toBeVisible();
  for (let i = 0; i < max; i++) {
    if (await target.evaluate((element) => element === document.activeElement)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`not reachable with ${max} Tab presses: ${target}`);
}

/** Reaches `locator` by Tab and activates it with Enter. */
export async function pressOn(page, locator, key = 'Enter') {
  await tabTo(page, locator);
  await page.keyboard.press(key);
}

/** Reaches a text field by Tab and types into it. */
export async function typeInto(page, locator, text) {
  await tabTo(page, locator);
  await page.keyboard.press('Control+A');
  await page.keyboard.type(text);
}

/** Opens a screen of the client by its address, as a bookmark would, and waits for it. */
export async function open(page, route) {
  await page.goto(`/#${route}`);
  await waitForScreen(page);
}

export async function waitForScreen(page) {
  await expect(page.locator('html[data-ready=true]')).toHaveCount(1);
  await expect(page.locator('#obsah[aria-busy=true]')).toHaveCount(0);
  await expect(page.locator('#obsah h1')).toBeVisible();
}

/** Signs in through the portal's login (the development identity provider in local mode), by keyboard. */
export async function signIn(page, citizen) {
  await open(page, '/prihlaseni');
  await pressOn(page, page.locator('#prihlasit'));
  await page.waitForURL(/\/api\/auth\/dev/);
  const row = page.locator('li', { hasText: citizen });
  await pressOn(page, row.locator('button[value=substantial]'));
  await page.waitForURL((url) => url.pathname === '/');
  await waitForScreen(page);
  await expect(page.locator('#odhlasit')).toBeAttached();
}

export async function signOut(page) {
  const menu = page.locator('#menu-toggle');
  if (await menu.isVisible()) await pressOn(page, menu);
  await pressOn(page, page.locator('#odhlasit'));
  await expect(page.locator('#obsah h1')).toHaveText('Byli jste odhlášeni');
}

/** Goes to a screen through the navigation, by keyboard (the menu button first on a narrow screen). */
export async function navigate(page, label) {
  const menu = page.locator('#menu-toggle');
  if (await menu.isVisible()) await pressOn(page, menu);
  await pressOn(page, page.locator('#hlavni-navigace a', { hasText: label }));
  await waitForScreen(page);
}

/** axe-core in the page: no serious or critical violation of WCAG 2.0/2.1 A and AA. */
export async function checkAccessibility(page, name) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
  }));
  const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const described = serious.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('\n    ')}`);
  expect(described, `axe on ${name}`).toEqual([]);
  return result;
}

export async function screenshot(page, name) {
  await page.screenshot({ path: join(SCREENS, `${name}.png`), fullPage: true });
}

/** A small, well-formed one-page PDF (correct cross-reference table), as a citizen would upload. */
export function samplePdf(text = 'Potvrzeni') {
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    null,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  const stream = `BT /F1 24 Tf 72 760 Td (${text}) Tj ET`;
  objects[3] = `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`;
  let body = '%PDF-1.4\n';
  const offsets = [];
  objects.forEach((object, i) => {
    offsets.push(body.length);
    body += `${i + 1} 0 obj\n${object}\nendobj\n`;
  });
  const xref = body.length;
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) body += `${String(offset).padStart(10, '0')} 00000 n \n`;
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(body, 'latin1');
}
