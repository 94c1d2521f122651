// ePetice: the public list and a petition's page without login; signing and withdrawing a signature; creating,
// publishing and listing one's own petitions.
import { call, loginUrl, session } from '../api.js';
import { announce, button, empty, field, form, formatDate, h, message, section, table } from '../dom.js';

const STATES = { draft: 'koncept', published: 'zveřejněná', closed: 'uzavřená', 'handed-over': 'předaná', blocked: 'zablokovaná' };

export async function list({ query }) {
  const sort = query.get('razeni') === 'podpisy' ? 'signatures' : 'newest';
  const page = await call('ListPetitions', { query: { sort, pageSize: 50 } });
  return [
    h('h1', {}, 'ePetice'),
    h('p', {}, 'Petice podle zákona č. 85/1990 Sb. Podepsat může každý přihlášený občan, a to jen jednou; kdo co podepsal, portál nezveřejňuje.'),
    h('p', { class: 'actions' },
      session.current ? h('a', { class: 'gov-button', 'data-type': 'solid', 'data-color': 'primary', href: '#/petice/nova' }, 'Založit petici') : null,
      session.current ? h('a', { class: 'gov-button', 'data-type': 'outlined', 'data-color': 'primary', href: '#/petice/moje' }, 'Moje petice') : null),
    h('p', {}, 'Řadit: ',
      h('a', { href: '#/petice', 'aria-current': sort === 'newest' ? 'true' : undefined }, 'nejnovější'), ' · ',
      h('a', { href: '#/petice?razeni=podpisy', 'aria-current': sort === 'signatures' ? 'true' : undefined }, 'podle počtu podpisů')),
    page.items.length
      ? h('ul', { class: 'card-list' }, page.items.map((p) => h('li', { class: 'gov-card petition-card' },
        h('h2', { class: 'h4' }, h('a', { href: `#/petice/${encodeURIComponent(p.id)}` }, p.title)),
        h('p', {}, p.summary),
        h('p', { class: 'meta' }, `${p.signatures.toLocaleString('cs-CZ')} podpisů · adresát ${p.addressee.name} · ${STATES[p.state] || p.state} · do ${formatDate(p.endsOn)}`))))
      : empty('Žádné zveřejněné petice.'),
  ];
}

export async function detail({ params, render }) {
  const petition = await call('ShowPetition', { params: { id: params.id } });
  let signature = null;
  if (session.current) signature = await call('MyPetitionSignature', { params: { id: params.id } }).catch(() => null);
  const open = petition.state === 'published' && new Date(`${petition.endsOn}T23:59:59`) >= new Date();
  const status = h('div', { 'aria-live': 'polite' });
  let action;
  if (!open) action = h('p', {}, 'Petici už nelze podepsat.');
  else if (!session.current) action = h('p', {}, h('a', { class: 'gov-button', 'data-type': 'solid', 'data-color': 'primary', href: loginUrl('/'), onclick: () => sessionStorage.setItem('portal.after-login', `/petice/${params.id}`) }, 'Přihlásit se a podepsat'));
  else if (signature?.signed) {
    action = h('div', {}, h('p', {}, 'Petici jste podepsali.'),
      button('Odvolat podpis', { type: 'button', variant: 'outlined', color: 'error', id: 'odvolat-podpis', onclick: async () => {
        await call('WithdrawPetitionSignature', { params: { id: params.id } });
        announce('Podpis byl odvolán.');
        await render();
      } }));
  } else {
    action = form({ class: 'stack', 'aria-label': 'Podepsat petici' }, [
      h('p', {}, 'Podpisem potvrzujete své jméno a adresu trvalého pobytu z registru obyvatel; předají se jen petičnímu výboru.'),
      button('Podepsat petici', { id: 'podepsat' }),
    ], async () => {
      const count = await call('SignPetition', { params: { id: params.id } });
      announce(`Petice podepsána. Podpisů: ${count.signatures}.`);
      await render();
    });
  }
  return [
    h('p', {}, h('a', { href: '#/petice' }, '← Všechny petice')),
    h('h1', {}, petition.title),
    h('p', { class: 'lead' }, petition.summary),
    h('p', { class: 'signature-count' }, h('strong', {}, petition.signatures.toLocaleString('cs-CZ')), ' podpisů'),
    petition.addressedToSenate && petition.senateThresholdReached ? message('Petice dosáhla 10 000 podpisů: Senát ji projedná.', 'success') : null,
    h('dl', { class: 'facts' }, [['Adresát', petition.addressee.name], ['Stav', STATES[petition.state] || petition.state],
      ['Zveřejněna', formatDate(petition.publishedAt)], ['Sběr podpisů do', formatDate(petition.endsOn)]]
      .map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)])),
    section('Text petice', h('div', { class: 'petition-text' }, petition.text.split(/\n{2,}/).map((para) => h('p', {}, para)))),
    section('Podpis', action, status),
  ];
}

export function create({ go }) {
  const inMonth = new Date(Date.now() + 30 * 86400000).toISOString().slice(0, 10);
  const petitionForm = form({ class: 'stack', 'aria-label': 'Nová petice' }, [
    field({ label: 'Název', name: 'title', required: true }),
    field({ label: 'Shrnutí', name: 'summary', type: 'textarea', rows: 3, required: true }),
    field({ label: 'Text petice', name: 'text', type: 'textarea', rows: 8, required: true }),
    field({ label: 'Adresát (název úřadu)', name: 'addressee.name', required: true }),
    field({ label: 'Datová schránka adresáta', name: 'addressee.boxId', required: true, hint: '7 znaků, malá písmena a číslice; najdete ji v adresáři datových schránek.' }),
    field({ label: 'Sběr podpisů do', name: 'endsOn', type: 'date', required: true, value: inMonth }),
    button('Uložit koncept'),
  ], async (element) => {
    const e = element.elements;
    const created = await call('CreatePetition', { body: {
      title: e.title.value, summary: e.summary.value, text: e.text.value,
      addressee: { name: e['addressee.name'].value, boxId: e['addressee.boxId'].value.trim() }, endsOn: e.endsOn.value,
    } });
    announce('Koncept petice byl uložen.');
    go(`/petice/moje?nova=${encodeURIComponent(created.id)}`);
  });
  return [h('p', {}, h('a', { href: '#/petice' }, '← Všechny petice')), h('h1', {}, 'Založit petici'), petitionForm];
}

export async function mine({ render }) {
  const mineList = await call('ListMyPetitions');
  return [
    h('p', {}, h('a', { href: '#/petice' }, '← Všechny petice')),
    h('h1', {}, 'Moje petice'),
    h('p', {}, h('a', { href: '#/petice/nova' }, 'Založit novou petici')),
    mineList.items.length
      ? table('Moje petice', ['Název', 'Stav', 'Podpisy', 'Do', ''], mineList.items.map((p) => [
        p.state === 'draft' ? p.title : h('a', { href: `#/petice/${encodeURIComponent(p.id)}` }, p.title),
        STATES[p.state] || p.state,
        String(p.signatures),
        formatDate(p.endsOn),
        p.state === 'draft' ? button(`Zveřejnit ${p.title}`, { type: 'button', variant: 'link', onclick: async () => {
          await call('PublishPetition', { params: { id: p.id } });
          announce('Petice byla zveřejněna.');
          await render();
        } }) : '',
      ]))
      : empty('Zatím jste žádnou petici nezaložili.'),
  ];
}
