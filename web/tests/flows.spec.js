// The citizen's main flows, driven by keyboard alone (Tab to reach, Enter/Space to act, typing to fill), in one
// portal: Jana reads a message and downloads its attachment, uploads a document, adds a calendar event, requests a
// criminal-record extract and finds it in Documents, creates and publishes a petition, views the access log and
// signs out; Jiří signs her petition; an expired session sends the citizen to sign in again.
import { expect, test } from '@playwright/test';
import { checkAccessibility, navigate, open, pressOn, samplePdf, screenshot, signIn, signOut, tabTo, typeInto, waitForScreen } from './helpers.js';

test.describe.configure({ mode: 'serial' });
test.use({ viewport: { width: 1280, height: 900 } });

let page;
const petitionTitle = `Lavičky v parku ${Date.now()}`;

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
});
test.afterAll(async () => {
  await page.close();
});

test('Jana signs in', async () => {
  await signIn(page, 'Jana');
  await expect(page.locator('#obsah h1')).toContainText('Jana');
});

test('Jana opens a message and downloads its attachment', async () => {
  await navigate(page, 'Datová schránka');
  await pressOn(page, page.locator('table a[href^="#/datova-schranka/received/"]'));
  await waitForScreen(page);
  // The ZFO's signature as the API checked it (the simulator's own CA signs in local mode).
  const signature = page.locator('dl.facts dt:has-text("Podpis zprávy (ZFO)") + dd');
  await expect(signature).toContainText(/^ověřen, podepsal /);
  const attachment = page.locator('.attachments a[download]').first();
  const name = await attachment.getAttribute('download');
  const downloading = page.waitForEvent('download');
  await pressOn(page, attachment);
  const download = await downloading;
  expect(download.suggestedFilename()).toBe(name);
  const path = await download.path();
  const { statSync } = await import('node:fs');
  expect(statSync(path).size).toBeGreaterThan(0);
});

test('Jana uploads a document', async () => {
  await navigate(page, 'Dokumenty');
  const chooser = page.waitForEvent('filechooser');
  await pressOn(page, page.locator('input[name=file]'), 'Space');
  await (await chooser).setFiles({
    name: 'potvrzeni.pdf',
    mimeType: 'application/pdf',
    buffer: samplePdf(),
  });
  await typeInto(page, page.locator('input[name=title]'), 'Potvrzení o studiu');
  await pressOn(page, page.getByRole('button', { name: 'Nahrát' }));
  await expect(page.locator('table')).toContainText('Potvrzení o studiu');
});

test('Jana adds a calendar event', async () => {
  await navigate(page, 'Kalendář');
  await typeInto(page, page.locator('input[name=title]'), 'Návštěva úřadu');
  await typeInto(page, page.locator('input[name=location]'), 'Praha');
  await pressOn(page, page.getByRole('button', { name: 'Přidat událost' }));
  await expect(page.locator('table.month')).toContainText('Návštěva úřadu');
});

test('Jana requests a criminal-record extract and sees it arrive in Documents', async () => {
  await navigate(page, 'Výpisy');
  await tabTo(page, page.locator('select[name=kind]'));
  await expect(page.locator('select[name=kind]')).toHaveValue('criminal-record');
  await pressOn(page, page.getByRole('button', { name: 'Požádat o výpis' }));
  // The screen looks again every two seconds while the extract is pending; the local host runs the queue.
  const row = page.locator('table tr', { hasText: /rejstříku trestů/i }).first();
  await expect(row).toContainText('hotovo', { timeout: 30_000 });
  await navigate(page, 'Dokumenty');
  await expect(page.locator('table')).toContainText(/rejstříku trestů/i);
});

test('a problem from the API is shown next to the field it names', async () => {
  await navigate(page, 'ePetice');
  await pressOn(page, page.locator('a', { hasText: 'Založit petici' }));
  await waitForScreen(page);
  await typeInto(page, page.locator('input[name=title]'), petitionTitle);
  await typeInto(page, page.locator('textarea[name=summary]'), 'Chceme nové lavičky.');
  await typeInto(page, page.locator('textarea[name=text]'), 'Žádáme obec o deset nových laviček v parku.');
  await typeInto(page, page.locator('input[name="addressee.name"]'), 'Městský úřad Horní Lhota');
  await typeInto(page, page.locator('input[name="addressee.boxId"]'), 'NO');
  await pressOn(page, page.getByRole('button', { name: 'Uložit koncept' }));
  const boxId = page.locator('input[name="addressee.boxId"]');
  await expect(boxId).toHaveAttribute('aria-invalid', 'true');
  const errorId = (await boxId.getAttribute('aria-describedby')).split(' ').find((id) => id.endsWith('-error'));
  await expect(page.locator(`[id="${errorId}"]`)).toContainText('7');
  await expect(boxId).toBeFocused();
  await checkAccessibility(page, 'petice-chyba');
});

test('Jana creates and publishes a petition', async () => {
  await typeInto(page, page.locator('input[name="addressee.boxId"]'), 'simmuhl');
  await pressOn(page, page.getByRole('button', { name: 'Uložit koncept' }));
  await expect(page.locator('#obsah h1')).toHaveText('Moje petice');
  await pressOn(page, page.getByRole('button', { name: `Zveřejnit ${petitionTitle}` }));
  await expect(page.locator('table tr', { hasText: petitionTitle })).toContainText('zveřejněná');
});

test('Jana views the access log and downloads her data', async () => {
  await navigate(page, 'Kdo viděl moje data');
  await expect(page.locator('table tbody tr').first()).toBeVisible();
  await expect(page.locator('table')).toContainText('vy');
  await navigate(page, 'Export a výmaz');
  const downloading = page.waitForEvent('download');
  await pressOn(page, page.locator('a', { hasText: 'Stáhnout moje data' }));
  const exported = JSON.parse((await import('node:fs')).readFileSync(await (await downloading).path(), 'utf8'));
  expect(exported.accessLog.length).toBeGreaterThan(0);
});

test('Jana sees her tiles and a fee\'s QR Platba code', async () => {
  await navigate(page, 'Přehled');
  await expect(page.locator('.tile').first()).toBeVisible();
  await navigate(page, 'Služby');
  await pressOn(page, page.locator('a', { hasText: 'Místní poplatky' }));
  await waitForScreen(page);
  await pressOn(page, page.getByRole('button', { name: /^QR Platba:/ }).first());
  const qr = page.locator('#qr-platba img');
  await expect(qr).toBeVisible();
  await expect.poll(() => qr.evaluate((img) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
  await expect(page.locator('#qr-platba')).toContainText('Variabilní symbol');
});

test('Jana estimates her pension', async () => {
  await navigate(page, 'Služby');
  await pressOn(page, page.locator('a', { hasText: 'Důchodová kalkulačka' }));
  await waitForScreen(page);
  await tabTo(page, page.locator('input[name=birthDate]'));
  await page.keyboard.type('01051970');
  await typeInto(page, page.locator('input[name=insuranceYears]'), '35');
  await typeInto(page, page.locator('input[name=averageMonthlyEarnings]'), '40000');
  await pressOn(page, page.getByRole('button', { name: 'Spočítat odhad' }));
  await expect(page.locator('#obsah')).toContainText('Důchod celkem');
  await checkAccessibility(page, 'duchod-vysledek');
});

test('Jana verifies her e-mail address with the code sent to it', async () => {
  await navigate(page, 'Kontakty');
  const email = page.locator('input[name=address]');
  await typeInto(page, email, 'jana.novakova@example.cz');
  await pressOn(page, page.getByRole('button', { name: 'Poslat ověřovací kód' }).first());
  // Locally the SIMULATOR shows the code it "sent"; a citizen would read it in the e-mail.
  const code = (await page.locator('.simulated-code').textContent()).trim();
  await typeInto(page, page.locator('input[name=code]').first(), code);
  await pressOn(page, page.getByRole('button', { name: 'Ověřit' }).first());
  await expect(page.locator('#obsah')).toContainText('jana.novakova@example.cz – ověřeno');
});

test('Jana signs out', async () => {
  await signOut(page);
  await open(page, '/dokumenty');
  await expect(page.locator('#obsah h1')).toHaveText('Přihlášení');
});

test('Jiří reads the petition without login, then signs it', async () => {
  await open(page, '/petice');
  await pressOn(page, page.locator('a', { hasText: petitionTitle }));
  await waitForScreen(page);
  await expect(page.locator('.signature-count')).toContainText('0');
  // The petition's public page is a screen too: axe and screenshots at both widths.
  for (const width of [360, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    await checkAccessibility(page, `petice-detail at ${width}`);
    await screenshot(page, `${width}-petice-detail`);
  }
  await signIn(page, 'Jiří');
  await navigate(page, 'ePetice');
  await pressOn(page, page.locator('a', { hasText: petitionTitle }));
  await waitForScreen(page);
  await pressOn(page, page.locator('#podepsat'));
  await expect(page.locator('#obsah')).toContainText('Petici jste podepsali.');
  await expect(page.locator('.signature-count')).toContainText('1');
  await signOut(page);
});

test('an expired session sends the citizen to sign in again', async () => {
  await signIn(page, 'Jana');
  await page.context().clearCookies();
  await navigate(page, 'Dokumenty').catch(() => {});
  await expect(page.locator('#obsah h1')).toHaveText('Přihlášení vypršelo');
  await expect(page.locator('#hlavni-navigace')).toContainText('Přihlásit se');
});

test('Ludmila erases her account', async () => {
  await signIn(page, 'Ludmila');
  await navigate(page, 'Export a výmaz');
  await typeInto(page, page.locator('input[name=confirm]'), 'DELETE MY DATA');
  await pressOn(page, page.getByRole('button', { name: 'Smazat můj účet a data' }));
  await expect(page.locator('#obsah h1')).toHaveText('Účet byl smazán');
  await expect(page.locator('#odhlasit')).toHaveCount(0);
  await open(page, '/prehled');
  await expect(page.locator('#obsah h1')).toHaveText('Přihlášení');
});
