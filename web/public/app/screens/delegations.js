// Zmocnění a zastoupení: the authorisations the citizen gave and received, whom they represent by law (children,
// companies), a new invitation (scopes, last day), accepting one, revoking; and the context switch "jednat za …"
// that makes the client send X-Acting-For on the operations that opted in (api.js, operations.js DELEGABLE).
import { acting, actFor, call } from '../api.js';
import { announce, button, checkbox, empty, field, form, formatDate, h, message, section, table } from '../dom.js';

/** The scopes in the order the citizen reads them, in Czech (as the portal names them in notices). */
export const SCOPES = [
  ['databox-read', 'čtení zpráv datové schránky'],
  ['databox-send', 'odesílání zpráv datové schránky'],
  ['documents-read', 'čtení dokumentů'],
  ['documents-write', 'správa dokumentů'],
  ['extracts', 'výpisy z registrů'],
  ['filings', 'podání'],
];
const SCOPE_NAMES = Object.fromEntries(SCOPES);
const STATES = { invited: 'čeká na přijetí', active: 'platí', revoked: 'zrušeno', ended: 'skončilo', lapsed: 'pozvánka propadla' };
const KINDS = { authorisation: 'zmocnění', 'legal-representative': 'zákonný zástupce', 'statutory-body': 'statutární orgán' };

export const scopeNames = (scopes) => scopes.map((scope) => SCOPE_NAMES[scope] || scope).join(', ');

function isoDay(date) {
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')}`;
}

function inMonths(months) {
  const date = new Date();
  date.setMonth(date.getMonth() + months);
  return date;
}

function tag(text, color = 'primary') {
  return h('span', { class: 'gov-tag badge', 'data-type': 'subtle', 'data-color': color }, text);
}

/** "Jednat za …" for a grant in force the citizen may use (received, or a representation). */
function actButton(d, render) {
  if (d.state !== 'active') return null;
  if (acting.current?.grant === d.id) {
    return button(`Přestat jednat za: ${d.counterpart}`, { type: 'button', variant: 'outlined', onclick: async () => {
      actFor(null);
      announce('Jednáte opět sami za sebe.');
      await render();
    } });
  }
  return button(`Jednat za: ${d.counterpart}`, { type: 'button', variant: 'outlined', onclick: async () => {
    actFor({ grant: d.id, name: d.counterpart, kind: d.kind, scopes: d.scopes });
    announce(`Jednáte za: ${d.counterpart}.`);
    await render();
  } });
}

function revokeButton(d, render, label) {
  if (d.kind !== 'authorisation' || !['invited', 'active'].includes(d.state)) return null;
  return button(d.counterpart ? `${label}: ${d.counterpart}` : `Zrušit pozvánku ${d.id}`, { type: 'button', variant: 'link', color: 'error', onclick: async () => {
    if (!window.confirm('Opravdu zrušit toto zmocnění? Platí okamžitě.')) return;
    await call('RevokeDelegation', { params: { id: d.id } });
    if (acting.current?.grant === d.id) actFor(null);
    announce('Zmocnění je zrušeno.');
    await render();
  } });
}

export async function list({ render }) {
  const delegations = await call('ListDelegations');
  const all = [...delegations.given, ...delegations.received, ...delegations.representations];
  // A grant that no longer lets the citizen act ends the context at once.
  if (acting.current && !all.some((d) => d.id === acting.current.grant && d.state === 'active' && d.role !== 'principal')) actFor(null);

  const invitation = h('div', { class: 'invitation', 'aria-live': 'polite' });
  const create = form({ class: 'stack', 'aria-label': 'Nové zmocnění' }, [
    h('fieldset', { class: 'gov-form-control form-field scope-choice', dataset: { field: 'scopes' } },
      h('legend', { class: 'gov-form-label__label' }, 'Co smí zmocněná osoba dělat', h('span', { class: 'required', 'aria-hidden': 'true' }, ' *')),
      h('p', { class: 'field-hint' }, 'Podepisovat petice za jiného nelze nikdy.'),
      SCOPES.map(([scope, label]) => checkbox({ label, name: 'scopes', checked: scope === 'databox-read' })).map((box, i) => {
        box.querySelector('input').value = SCOPES[i][0];
        return box;
      })),
    field({ label: 'Poslední den platnosti', name: 'endsOn', type: 'date', required: true, value: isoDay(inMonths(1)),
      min: isoDay(new Date()), max: isoDay(inMonths(12)), hint: 'Nejdéle rok ode dneška; zrušit ho můžete kdykoli dřív.' }),
    button('Vytvořit pozvánku'),
  ], async (element) => {
    const scopes = [...element.querySelectorAll('input[name=scopes]:checked')].map((input) => input.value);
    const created = await call('CreateDelegation', { body: { scopes, endsOn: element.elements.endsOn.value } });
    await render();
    const shown = document.querySelector('#obsah .invitation');
    shown.replaceChildren(h('div', { class: 'gov-message notice', 'data-color': 'success', 'data-type': 'subtle', role: 'status' },
      h('strong', {}, 'Pozvánka je vytvořena. '),
      'Předejte tyto dva údaje osobě, kterou zmocňujete (kód uvidíte jen teď; platí 7 dní):',
      h('dl', { class: 'facts' },
        h('dt', {}, 'Číslo pozvánky'), h('dd', { class: 'invitation-id' }, created.delegation.id),
        h('dt', {}, 'Kód'), h('dd', { class: 'invitation-code' }, created.code))));
    shown.setAttribute('tabindex', '-1');
    shown.focus();
  });

  const accept = form({ class: 'stack', 'aria-label': 'Přijmout pozvánku' }, [
    field({ label: 'Číslo pozvánky', name: 'id', required: true, autocomplete: 'off' }),
    field({ label: 'Kód', name: 'code', required: true, autocomplete: 'off' }),
    button('Přijmout zmocnění'),
  ], async (element) => {
    const accepted = await call('AcceptDelegation', { params: { id: element.elements.id.value.trim() }, body: { code: element.elements.code.value.trim() } });
    announce(`Zmocnění od ${accepted.counterpart} je přijato.`);
    await render();
  });

  const simulated = all.some((d) => d.simulated);
  return [
    h('h1', {}, 'Zmocnění a zastoupení'),
    h('p', {}, 'Zde zmocníte jiného člověka, aby za vás četl zprávy, spravoval dokumenty nebo podával žádosti, a zde také jednáte za ty, kdo zmocnili vás, a za děti a firmy, které zastupujete ze zákona. Každý takový krok uvidíte vy i zmocnitel v přehledu „Kdo viděl moje data“.'),
    simulated ? h('p', { class: 'simulated' }, h('strong', {}, 'SIMULÁTOR: '), 'zastoupení dětí a firem pochází ze simulovaných registrů, ne ze skutečných.') : null,
    section('Jednáte za', delegations.received.length || delegations.representations.length
      ? table('Za koho můžete jednat', ['Kdo', 'Proč', 'Rozsah', 'Platí do', 'Stav', 'Akce'],
        [...delegations.received, ...delegations.representations].map((d) => [
          h('span', {}, d.counterpart, d.simulated ? tag('SIMULÁTOR', 'warning') : null),
          KINDS[d.kind] || d.kind,
          scopeNames(d.scopes),
          d.endsOn ? formatDate(d.endsOn) : 'ze zákona',
          STATES[d.state] || d.state,
          h('div', { class: 'row-actions' }, actButton(d, render), revokeButton(d, render, 'Vzdát se zmocnění od')),
        ]))
      : empty('Nikdo vás nezmocnil a nikoho ze zákona nezastupujete.'),
    delegations.representationsKnown ? null
      : message('Registry teď neodpověděly, proto tu nemusí být děti a firmy, které zastupujete ze zákona. Zkuste to později.', 'warning')),
    section('Zmocnění, která jste dali', delegations.given.length
      ? table('Zmocnění, která jste dali', ['Komu', 'Rozsah', 'Platí do', 'Stav', 'Akce'], delegations.given.map((d) => [
        d.counterpart || h('span', { class: 'meta' }, `pozvánka ${d.id}`),
        scopeNames(d.scopes),
        formatDate(d.endsOn),
        STATES[d.state] || d.state,
        h('div', { class: 'row-actions' }, revokeButton(d, render, 'Zrušit zmocnění pro')),
      ]))
      : empty('Zatím jste nikoho nezmocnili.')),
    section('Zmocnit někoho', h('p', {}, 'Vytvoříte pozvánku; zmocněná osoba ji přijme po přihlášení do portálu. Její osobní údaje k tomu nepotřebujete.'), create, invitation),
    section('Přijmout pozvánku', accept),
  ];
}
