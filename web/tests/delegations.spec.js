// Delegation as two people meet it, each in their own browser, by keyboard alone: Ludmila invites Jana to read her
// data-box messages for a month; Jana accepts, switches to acting for Ludmila (a banner says so, and the client sends
// X-Acting-For) and reads Ludmila's box instead of her own; both access logs show it; Ludmila revokes; Jana's very
// next read is refused, naming the grant; back to herself, Jana sees her own box again.
import { expect, test } from '@playwright/test';
import { checkAccessibility, navigate, pressOn, screenshot, signIn, typeInto, waitForScreen } from './helpers.js';

test.describe.configure({ mode: 'serial' });

const LUDMILA = 'Ludmila Šťastná Žďárská';
let ludmila;
let jana;
let grant;
let code;
let ludmilasSubjects;
let janasSubjects;

test.beforeAll(async ({ browser }) => {
  const viewport = { width: 1280, height: 900 };
  ludmila = await (await browser.newContext({ viewport, locale: 'cs-CZ', timezoneId: 'Europe/Prague' })).newPage();
  jana = await (await browser.newContext({ viewport, locale: 'cs-CZ', timezoneId: 'Europe/Prague' })).newPage();
  // A revocation asks for confirmation.
  for (const page of [ludmila, jana]) page.on('dialog', (dialog) => dialog.accept());
});
test.afterAll(async () => {
  await ludmila.context().close();
  await jana.context().close();
});

const subjects = (page) => page.locator('#obsah table a[href^="#/datova-schranka/received/"]').allTextContents();

test('Ludmila invites Jana to read her data-box messages for a month', async () => {
  await signIn(ludmila, 'Ludmila');
  await navigate(ludmila, 'Datová schránka');
  // Opening it is the box's first login (it becomes accessible), but nobody has sent Ludmila a message yet.
  await expect(ludmila.locator('#obsah')).toContainText('Schránka sim4lud');
  ludmilasSubjects = await subjects(ludmila);

  await navigate(ludmila, 'Zmocnění');
  await expect(ludmila.locator('#obsah h1')).toHaveText('Zmocnění a zastoupení');
  const scopes = ludmila.locator('input[name=scopes]');
  await expect(scopes).toHaveCount(6);
  await expect(ludmila.locator('input[name=scopes]:checked')).toHaveCount(1);
  await expect(ludmila.locator('input[name=scopes]:checked')).toHaveValue('databox-read');
  const endsOn = await ludmila.locator('input[name=endsOn]').inputValue();
  const days = (Date.parse(endsOn) - Date.now()) / 86_400_000;
  expect(days).toBeGreaterThan(26);
  expect(days).toBeLessThan(32);
  await checkAccessibility(ludmila, 'zmocneni');
  await pressOn(ludmila, ludmila.getByRole('button', { name: 'Vytvořit pozvánku' }));
  await expect(ludmila.locator('.invitation-code')).toBeVisible();
  grant = (await ludmila.locator('.invitation-id').textContent()).trim();
  code = (await ludmila.locator('.invitation-code').textContent()).trim();
  expect(grant).not.toBe('');
  expect(code).not.toBe('');
  const row = ludmila.locator('table tr', { hasText: 'čtení zpráv datové schránky' });
  await expect(row).toContainText('čeká na přijetí');
  await checkAccessibility(ludmila, 'zmocneni-pozvanka');
  await screenshot(ludmila, '1280-zmocneni-pozvanka');
});

test('Jana accepts, acts for Ludmila and reads her data box', async () => {
  await signIn(jana, 'Jana');
  await navigate(jana, 'Datová schránka');
  await expect(jana.locator('#obsah')).toContainText('Schránka sim4jan');
  janasSubjects = await subjects(jana);
  expect(janasSubjects.length).toBeGreaterThan(0);
  expect(janasSubjects).not.toEqual(ludmilasSubjects);

  await navigate(jana, 'Zmocnění');
  await typeInto(jana, jana.locator('input[name=id]'), grant);
  await typeInto(jana, jana.locator('input[name=code]'), code);
  await pressOn(jana, jana.getByRole('button', { name: 'Přijmout zmocnění' }));
  const row = jana.locator('table tr', { hasText: LUDMILA });
  await expect(row).toContainText('platí');
  await expect(jana.locator('#jednani')).toBeHidden();
  await pressOn(jana, jana.getByRole('button', { name: `Jednat za: ${LUDMILA}` }));
  const banner = jana.locator('#jednani');
  await expect(banner).toBeVisible();
  await expect(banner).toContainText(`Jednáte za: ${LUDMILA}`);
  await expect(banner).toContainText('čtení zpráv datové schránky');
  await checkAccessibility(jana, 'zmocneni-jednani');
  await screenshot(jana, '1280-zmocneni-jednani');

  // The client sends the grant on the data box's list, and the list is Ludmila's.
  const listed = jana.waitForRequest((request) => new URL(request.url()).pathname === '/api/databox/messages'
    && request.headers()['x-acting-for'] === grant);
  await navigate(jana, 'Datová schránka');
  await listed;
  await expect(banner).toContainText(`Jednáte za: ${LUDMILA}`);
  expect(await subjects(jana)).toEqual(ludmilasSubjects);
  await expect(jana.locator('#obsah')).toContainText('Ve složce nejsou žádné zprávy.');
  // Jana's own box (its id and credit) is not shown as if it were Ludmila's.
  await expect(jana.locator('#obsah')).not.toContainText('sim4jan');
  await checkAccessibility(jana, 'datova-schranka-za-jineho');
  await screenshot(jana, '1280-datova-schranka-za-jineho');

  // Pages that are not delegated stay Jana's own: her access log says she acted for Ludmila.
  await navigate(jana, 'Kdo viděl moje data');
  await expect(jana.locator('table')).toContainText(`vy za ${LUDMILA}`);
});

test('Ludmila sees Jana in her access log and revokes the authorisation', async () => {
  await navigate(ludmila, 'Kdo viděl moje data');
  const read = ludmila.locator('table tr', { hasText: 'Jana Nováková (zmocnění)' }).first();
  await expect(read).toContainText('čtení');
  await navigate(ludmila, 'Zmocnění');
  const row = ludmila.locator('table tr', { hasText: 'Jana Nováková' });
  await expect(row).toContainText('platí');
  await pressOn(ludmila, ludmila.getByRole('button', { name: 'Zrušit zmocnění pro: Jana Nováková' }));
  await expect(ludmila.locator('table tr', { hasText: 'Jana Nováková' })).toContainText('zrušeno');
});

test('Jana\'s next read is refused, naming the grant; acting for herself again shows her own box', async () => {
  await navigate(jana, 'Datová schránka');
  const refusal = jana.locator('#obsah [role=alert]');
  await expect(refusal).toContainText(`Za osobu ${LUDMILA} teď jednat nemůžete`);
  await expect(refusal).toContainText(grant);
  await expect(jana.locator('#obsah table')).toHaveCount(0);
  await checkAccessibility(jana, 'zmocneni-odmitnuto');
  await screenshot(jana, '1280-zmocneni-odmitnuto');
  await pressOn(jana, jana.locator('#jednat-za-sebe'));
  await waitForScreen(jana);
  await expect(jana.locator('#jednani')).toBeHidden();
  await expect(jana.locator('#obsah')).toContainText('Schránka sim4jan');
  expect(await subjects(jana)).toEqual(janasSubjects);
  await navigate(jana, 'Zmocnění');
  await expect(jana.locator('table tr', { hasText: LUDMILA })).toContainText('zrušeno');
});

test('Jana acts for her son by law: uploads a document into his storage and downloads it from there', async () => {
  const violations = [];
  jana.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  await navigate(jana, 'Zmocnění');
  const son = jana.locator('table tr', { hasText: 'zákonný zástupce' }).first();
  await expect(son).toContainText('SIMULÁTOR');
  const name = (await son.locator('td').first().textContent()).replace('SIMULÁTOR', '').trim();
  await pressOn(jana, son.getByRole('button', { name: `Jednat za: ${name}` }));
  await expect(jana.locator('#jednani')).toContainText(`Jednáte za: ${name}`);
  await expect(jana.locator('#jednani')).toContainText('jako zákonný zástupce');

  await navigate(jana, 'Dokumenty');
  const title = `Vysvědčení ${Date.now()}`;
  const chooser = jana.waitForEvent('filechooser');
  await pressOn(jana, jana.locator('input[name=file]'), 'Space');
  await (await chooser).setFiles({ name: 'vysvedceni.txt', mimeType: 'text/plain', buffer: Buffer.from('Samé jedničky') });
  await typeInto(jana, jana.locator('input[name=title]'), title);
  const uploaded = jana.waitForRequest((request) => request.method() === 'POST'
    && new URL(request.url()).pathname === '/api/documents' && Boolean(request.headers()['x-acting-for']));
  await pressOn(jana, jana.getByRole('button', { name: 'Nahrát' }));
  await uploaded;
  await expect(jana.locator('table')).toContainText(title);
  // Share links are the owner's own act: not offered for somebody else's document.
  await expect(jana.getByRole('button', { name: `Sdílet ${title}` })).toHaveCount(0);
  // A link cannot carry X-Acting-For: the download goes through the client, and is the son's file.
  const downloading = jana.waitForEvent('download');
  await pressOn(jana, jana.locator('a', { hasText: `Stáhnout ${title}` }));
  const download = await downloading;
  expect(download.suggestedFilename()).toBe('vysvedceni.txt');
  expect((await import('node:fs')).readFileSync(await download.path(), 'utf8')).toBe('Samé jedničky');
  await checkAccessibility(jana, 'dokumenty-za-jineho');

  await pressOn(jana, jana.locator('#jednat-za-sebe'));
  await waitForScreen(jana);
  await expect(jana.locator('#obsah h1')).toHaveText('Dokumenty');
  await expect(jana.locator('#obsah')).not.toContainText(title);
  expect(violations).toEqual([]);
});
