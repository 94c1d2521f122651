// "Kdo viděl moje data" (the access log), the export of my data, and erasure of the account.
import { call, endSession, href, loginUrl } from '../api.js';
import { button, empty, field, fill, form, formatTime, h, linkButton, message, section, table } from '../dom.js';

const ACTIONS = { read: 'čtení', create: 'vytvoření', update: 'změna', delete: 'smazání', export: 'export', login: 'přihlášení', logout: 'odhlášení' };
const OUTCOMES = { success: 'provedeno', denied: 'odmítnuto', failed: 'selhalo' };

function actor(a) {
  if (a.kind === 'citizen') return 'vy';
  if (a.kind === 'official') return `úředník ${a.id}`;
  // Under a grant: in the principal's log the delegate by name, in the delegate's own log for whom they acted.
  if (a.kind === 'delegate') return `${a.name} (zmocnění)`;
  if (a.kind === 'onBehalfOf') return `vy za ${a.principal}`;
  return `systém (${a.job})`;
}

export async function accessLog({ query }) {
  const continuation = query.get('dalsi') || undefined;
  const page = await call('MyAccessLog', { query: { newestFirst: true, pageSize: 50, continuation } });
  return [
    h('h1', {}, 'Kdo viděl moje data'),
    h('p', {}, 'Každé čtení nebo změnu vašich údajů – vámi, úředníkem nebo automatickou úlohou portálu – zapisujeme do tohoto přehledu. Záznamy zůstávají i po výmazu účtu.'),
    page.items.length
      ? table('Přístupy k mým údajům', ['Kdy', 'Kdo', 'Co', 'Údaj', 'Účel', 'Výsledek'], page.items.map((e) => [
        formatTime(e.at), actor(e.actor), ACTIONS[e.action] || e.action, e.resourceType, e.purpose, OUTCOMES[e.outcome] || e.outcome,
      ]))
      : empty('Zatím žádné záznamy.'),
    page.continuation ? h('p', {}, h('a', { href: `#/pristupy?dalsi=${encodeURIComponent(page.continuation)}` }, 'Starší záznamy')) : null,
  ];
}

export function myData() {
  const erase = form({ class: 'stack', 'aria-label': 'Výmaz účtu' }, [
    message('Výmaz je nevratný: smaže vaše dokumenty, zprávy uložené v portálu, kalendář, kontakty a předvolby a ukončí všechna přihlášení. Přehled přístupů a podpisy petic (bez vazby na vás) zůstávají, jak ukládá zákon.', 'warning'),
    field({ label: 'Pro potvrzení napište DELETE MY DATA', name: 'confirm', required: true, autocomplete: 'off' }),
    button('Smazat můj účet a data', { color: 'error' }),
  ], async (element) => {
    try {
      await call('EraseMe', { body: { confirm: element.elements.confirm.value } });
    } catch (error) {
      if (error.status === 401 && error.type.endsWith('/reauthentication-required')) {
        sessionStorage.setItem('portal.after-login', '/soukromi');
        element.prepend(h('div', { class: 'gov-message notice', 'data-color': 'warning', 'data-type': 'subtle', role: 'alert' },
          'Výmaz vyžaduje čerstvé přihlášení (za posledních 10 minut). ',
          h('a', { href: loginUrl('/', 600) }, 'Přihlásit se znovu')));
        return;
      }
      throw error;
    }
    endSession();
    fill(document.getElementById('obsah'), h('h1', { tabindex: '-1' }, 'Účet byl smazán'),
      h('p', {}, 'Vaše data jsme smazali a všechna přihlášení ukončili.'));
    document.querySelector('#obsah h1').focus();
  });
  return [
    h('h1', {}, 'Export a výmaz'),
    section('Export mých dat', h('p', {}, 'Stáhněte si vše, co o vás portál vede: profil a přehled přístupů (JSON).'),
      h('p', {}, linkButton('Stáhnout moje data', href('ExportMe'), { download: 'portal-obcana-moje-data.json' }))),
    section('Výmaz účtu', erase),
  ];
}
