// The client's shell: navigation, routes in the URL fragment (#/dokumenty), the session and its expiry.
import { acting, actFor, loadSession, loginUrl, session } from './api.js';
import { announce, failure, fill, h } from './dom.js';
import * as auth from './screens/auth.js';
import * as calendar from './screens/calendar.js';
import * as dashboard from './screens/dashboard.js';
import * as delegations from './screens/delegations.js';
import * as databox from './screens/databox.js';
import * as documents from './screens/documents.js';
import * as filings from './screens/filings.js';
import * as notifications from './screens/notifications.js';
import * as petitions from './screens/petitions.js';
import * as privacy from './screens/privacy.js';
import * as registers from './screens/registers.js';
import * as services from './screens/services.js';

/** Routes: pattern → [screen, needs a session]. Parameters are `:name`. */
const ROUTES = [
  ['/', dashboard.home, false],
  ['/prihlaseni', auth.signIn, false],
  ['/odhlaseni', auth.signedOut, false],
  ['/relace-vyprsela', auth.expired, false],
  ['/prehled', dashboard.show, true],
  ['/datova-schranka', databox.list, true],
  ['/datova-schranka/nova-zprava', databox.compose, true],
  ['/datova-schranka/kredit', databox.credit, true],
  ['/datova-schranka/:folder/:id', databox.message, true],
  ['/dokumenty', documents.list, true],
  ['/kalendar', calendar.month, true],
  ['/oznameni', notifications.list, true],
  ['/kontakty', notifications.contacts, true],
  ['/udaje', registers.myData, true],
  ['/vypisy', registers.extracts, true],
  ['/podani', filings.list, true],
  ['/petice', petitions.list, false],
  ['/petice/nova', petitions.create, true],
  ['/petice/moje', petitions.mine, true],
  ['/petice/:id', petitions.detail, false],
  ['/zmocneni', delegations.list, true],
  ['/pristupy', privacy.accessLog, true],
  ['/soukromi', privacy.myData, true],
  ['/sluzby', services.hub, false],
  ['/dlazdice', services.tiles, false],
  ['/duchod', services.pension, false],
  ['/poplatky', services.fees, true],
  ['/uredni-desky', services.noticeBoards, false],
];

/** Navigation: [route, label, needs a session]. */
const NAV = [
  ['/prehled', 'Přehled', true],
  ['/datova-schranka', 'Datová schránka', true],
  ['/dokumenty', 'Dokumenty', true],
  ['/kalendar', 'Kalendář', true],
  ['/udaje', 'Údaje', true],
  ['/vypisy', 'Výpisy', true],
  ['/podani', 'Podání', true],
  ['/oznameni', 'Oznámení', true],
  ['/kontakty', 'Kontakty', true],
  ['/petice', 'ePetice', false],
  ['/sluzby', 'Služby', false],
  ['/zmocneni', 'Zmocnění', true],
  ['/pristupy', 'Kdo viděl moje data', true],
  ['/soukromi', 'Export a výmaz', true],
];

function match(path) {
  for (const [pattern, screen, personal] of ROUTES) {
    const names = [];
    const regex = new RegExp(`^${pattern.replace(/:(\w+)/g, (_, name) => { names.push(name); return '([^/]+)'; })}$`);
    const found = regex.exec(path);
    if (found) return { screen, personal, params: Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(found[i + 1])])) };
  }
  return null;
}

export function currentPath() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = hash.split('?');
  return { path, query: new URLSearchParams(query) };
}

export function go(path) {
  if (`#${path}` === location.hash) render();
  else location.hash = path;
}

function renderNav() {
  const nav = document.getElementById('hlavni-navigace');
  const { path } = currentPath();
  const signedIn = Boolean(session.current);
  fill(nav, h('ul', { class: 'site-nav__list' },
    NAV.filter(([, , personal]) => signedIn || !personal).map(([route, label]) => h('li', {},
      h('a', { href: `#${route}`, 'aria-current': path === route || path.startsWith(`${route}/`) ? 'page' : undefined }, label))),
    h('li', { class: 'site-nav__session' }, signedIn
      ? h('button', { type: 'button', class: 'gov-button', 'data-type': 'outlined', 'data-color': 'primary', id: 'odhlasit', onclick: () => auth.signOut() }, 'Odhlásit se')
      : h('a', { class: 'gov-button', 'data-type': 'solid', 'data-color': 'primary', href: '#/prihlaseni' }, 'Přihlásit se'))));
}

/** The banner that says for whom the citizen acts, with the way back to acting for oneself. */
function renderActing() {
  const banner = document.getElementById('jednani');
  const who = session.current && acting.current;
  banner.hidden = !who;
  if (!who) {
    banner.replaceChildren();
    return;
  }
  const { name, kind, scopes } = acting.current;
  const why = kind === 'legal-representative' ? 'jako zákonný zástupce' : kind === 'statutory-body' ? 'jako statutární orgán' : 'na základě zmocnění';
  fill(banner,
    h('p', {}, h('strong', {}, `Jednáte za: ${name}`), ` (${why}: ${delegations.scopeNames(scopes)}). `,
      'Datová schránka, dokumenty, výpisy a podání teď ukazují a mění údaje této osoby; ostatní stránky jsou vaše vlastní. ',
      'Každý krok se zapíše do přehledu přístupů vám i jí.'),
    h('p', { class: 'actions' },
      h('button', { type: 'button', class: 'gov-button', 'data-type': 'outlined', 'data-color': 'primary', id: 'jednat-za-sebe', onclick: () => {
        actFor(null);
        announce('Jednáte opět sami za sebe.');
        render();
      } }, 'Jednat za sebe'),
      h('a', { href: '#/zmocneni' }, 'Zmocnění a zastoupení')));
}
acting.listeners.add(renderActing);

let expiryTimer = null;
function watchExpiry() {
  clearTimeout(expiryTimer);
  const expiresAt = session.current?.expiresAt && Date.parse(session.current.expiresAt);
  if (!expiresAt) return;
  // The idle expiry moves with every request; check again when it is due.
  expiryTimer = setTimeout(async () => {
    const before = session.current;
    await loadSession().catch(() => null);
    if (before && !session.current) sessionEnded('expired');
    else watchExpiry();
  }, Math.max(expiresAt - Date.now() + 1000, 5000));
}

function sessionEnded(reason) {
  renderNav();
  renderActing();
  if (reason === 'expired') go('/relace-vyprsela');
}
session.listeners.add(sessionEnded);

let rendering = 0;
export async function render() {
  const turn = ++rendering;
  const main = document.getElementById('obsah');
  const { path, query } = currentPath();
  const found = match(path);
  renderNav();
  renderActing();
  document.getElementById('hlavni-navigace').classList.remove('site-nav--open');
  document.getElementById('menu-toggle').setAttribute('aria-expanded', 'false');
  if (!found) {
    fill(main, h('h1', { tabindex: '-1' }, 'Stránka nenalezena'), h('p', {}, h('a', { href: '#/' }, 'Zpět na úvod')));
    focusHeading(main);
    return;
  }
  if (found.personal && !session.current) {
    sessionStorage.setItem('portal.after-login', path + (query.toString() ? `?${query}` : ''));
    fill(main, ...auth.signInContent('Pro tuto stránku se musíte přihlásit.'));
    document.title = 'Přihlášení – Portál občana';
    focusHeading(main);
    return;
  }
  main.setAttribute('aria-busy', 'true');
  let content;
  try {
    content = await found.screen({ params: found.params, query, go, render });
  } catch (error) {
    content = [h('h1', { tabindex: '-1' }, 'Chyba'), failure(error)];
  }
  if (turn !== rendering) return;
  main.removeAttribute('aria-busy');
  fill(main, ...[content].flat(Infinity).filter((node) => node !== null && node !== undefined && node !== false));
  const title = main.querySelector('h1')?.textContent;
  document.title = title ? `${title} – Portál občana` : 'Portál občana';
  focusHeading(main);
  watchExpiry();
}

let first = true;
function focusHeading(main) {
  const heading = main.querySelector('h1');
  if (!heading) return;
  heading.setAttribute('tabindex', '-1');
  // Moving focus to the new screen's heading tells a screen reader the screen changed; not on the first load.
  if (!first) heading.focus();
  first = false;
}

async function start() {
  // Escape closes the open menu and gives the focus back to its button.
  document.addEventListener('keydown', (event) => {
    const nav = document.getElementById('hlavni-navigace');
    if (event.key !== 'Escape' || !nav.classList.contains('site-nav--open')) return;
    nav.classList.remove('site-nav--open');
    const toggle = document.getElementById('menu-toggle');
    toggle.setAttribute('aria-expanded', 'false');
    toggle.focus();
  });
  document.getElementById('menu-toggle').addEventListener('click', (event) => {
    const nav = document.getElementById('hlavni-navigace');
    const open = nav.classList.toggle('site-nav--open');
    event.currentTarget.setAttribute('aria-expanded', String(open));
  });
  try {
    await loadSession();
  } catch (error) {
    fill(document.getElementById('obsah'), h('h1', {}, 'Portál je nedostupný'), failure(error));
    return;
  }
  // Back from the identity provider: continue where the citizen wanted to go.
  const after = sessionStorage.getItem('portal.after-login');
  if (session.current && after) {
    sessionStorage.removeItem('portal.after-login');
    if (currentPath().path === '/') location.replace(`#${after}`);
  }
  window.addEventListener('hashchange', render);
  await render();
  document.documentElement.dataset.ready = 'true';
}

export { loginUrl };
start();
