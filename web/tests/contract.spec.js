// The client calls only documented operations, and the page runs under a strict Content-Security-Policy.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { DELEGABLE, OPERATIONS } from '../public/app/operations.js';

const PUBLIC = join(dirname(fileURLToPath(import.meta.url)), '..', 'public');
const sources = (dir = join(PUBLIC, 'app')) => readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
  entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.js') ? [[join(dir, entry.name), readFileSync(join(dir, entry.name), 'utf8')]] : []);

test('every operation the client uses is in /api/openapi.json with that method, path and operationId', async ({ request }) => {
  const answer = await request.get('/api/openapi.json');
  expect(answer.ok()).toBeTruthy();
  const document = await answer.json();
  const documented = new Map();
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (operation && operation.operationId) documented.set(operation.operationId, [method.toUpperCase(), path]);
    }
  }
  const wrong = Object.entries(OPERATIONS)
    .filter(([id, entry]) => JSON.stringify(documented.get(id)) !== JSON.stringify(entry))
    .map(([id, entry]) => `${id}: the client has ${entry.join(' ')}, the document ${documented.get(id)?.join(' ') ?? 'nothing'}`);
  expect(wrong).toEqual([]);
});

test('the client acts for another person on exactly the operations the document lets it', async ({ request }) => {
  const document = await (await request.get('/api/openapi.json')).json();
  const delegable = new Set();
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item)) {
      if (operation?.parameters?.some((p) => p.in === 'header' && p.name === 'X-Acting-For')) delegable.add(operation.operationId);
    }
  }
  const used = Object.keys(OPERATIONS);
  // Every operation the client uses that the document lets act for somebody else is in DELEGABLE, and nothing more.
  expect(Object.keys(DELEGABLE).sort()).toEqual(used.filter((id) => delegable.has(id)).sort());
  // Each with the scope the document names for it.
  const scopes = {};
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item)) {
      const header = operation?.parameters?.find((p) => p.in === 'header' && p.name === 'X-Acting-For');
      const scope = header && /scope `([a-z-]+)`/.exec(header.description || '');
      if (scope) scopes[operation.operationId] = scope[1];
    }
  }
  for (const [id, scope] of Object.entries(DELEGABLE)) expect(scopes[id], id).toBe(scope);
});

test('the client reaches the API only through the operations table', () => {
  const used = new Set();
  for (const [file, text] of sources()) {
    const name = file.slice(PUBLIC.length);
    if (!name.endsWith('/api.js') && !name.endsWith('/operations.js')) {
      expect(text, `${name} calls fetch itself`).not.toMatch(/\bfetch\s*\(|XMLHttpRequest|sendBeacon|EventSource|WebSocket/);
      expect(text, `${name} writes an /api/ address by hand`).not.toMatch(/['"`]\/api\//);
    }
    for (const match of text.matchAll(/\b(?:call|href)\(\s*'(\w+)'/g)) used.add(match[1]);
  }
  const unknown = [...used].filter((id) => !(id in OPERATIONS));
  expect(unknown).toEqual([]);
  expect(used.size).toBeGreaterThan(30);
});

test('the page is served with a strict Content-Security-Policy and has no inline script or style', async ({ request }) => {
  const page = await request.get('/');
  expect(page.status()).toBe(200);
  const csp = page.headers()['content-security-policy'];
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("style-src 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain('unsafe-inline');
  expect(csp).not.toContain('unsafe-eval');
  const html = await page.text();
  expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
  expect(html).not.toMatch(/\son\w+=/i);
  expect(html).not.toMatch(/\sstyle=/i);
  expect(html).not.toMatch(/<style/i);
  for (const [file, text] of sources()) {
    expect(text, `${file} sets a style attribute (the policy refuses inline styles)`).not.toMatch(/setAttribute\(\s*'style'|\bstyle:\s*'/);
    expect(text, `${file} uses eval`).not.toMatch(/\beval\(|new Function\(/);
  }
  const module = await request.get('/app/main.js');
  expect(module.headers()['content-type']).toContain('text/javascript');
  const again = await request.get('/app/main.js', { headers: { 'If-None-Match': module.headers().etag } });
  expect(again.status()).toBe(304);
});

test('the browser reports no policy violation while the client runs', async ({ page }) => {
  const violations = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  await page.goto('/#/petice');
  await expect(page.locator('html[data-ready=true]')).toHaveCount(1);
  await expect(page.locator('#obsah h1')).toHaveText('ePetice');
  expect(violations).toEqual([]);
});
