// Oznámení a předvolby; kontakty (e-mail, telefon) s ověřením kódem.
import { call } from '../api.js';
import { announce, button, empty, field, fill, form, formatTime, h, message, section, table } from '../dom.js';

const CATEGORIES = {
  databox: 'Datová schránka', calendar: 'Kalendář', documents: 'Dokumenty', registers: 'Údaje a výpisy',
  filings: 'Podání', petitions: 'ePetice', account: 'Účet a bezpečnost',
};
const CHANNELS = { email: 'E-mail', sms: 'SMS' };

export async function list({ render }) {
  const [page, preferences] = await Promise.all([call('ListNotifications', { query: { pageSize: 50 } }), call('NotificationPreferences')]);
  const categories = Object.keys(preferences.categories);
  const channels = Object.keys(CHANNELS);
  const prefs = form({ class: 'stack', 'aria-label': 'Předvolby oznámení' }, [
    h('p', {}, preferences.note),
    h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Kanály podle oblasti' },
      h('table', { class: 'data-table' },
        h('caption', {}, 'Kam posílat oznámení'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Oblast'), channels.map((c) => h('th', { scope: 'col' }, CHANNELS[c])))),
        h('tbody', {}, categories.map((category) => h('tr', {},
          h('th', { scope: 'row' }, CATEGORIES[category] || category),
          channels.map((channel) => {
            const id = `pref-${category}-${channel}`;
            const verified = preferences.channels[channel]?.contactVerified;
            return h('td', {}, h('input', { type: 'checkbox', id, name: `categories.${category}.${channel}`, checked: Boolean(preferences.categories[category]?.[channel]),
              'aria-label': `${CATEGORIES[category] || category}: ${CHANNELS[channel]}${verified ? '' : ' (kontakt není ověřen)'}` }));
          })))))),
    button('Uložit předvolby'),
  ], async (element) => {
    const change = { categories: {} };
    for (const category of categories) {
      change.categories[category] = {};
      for (const channel of channels) change.categories[category][channel] = element.elements[`categories.${category}.${channel}`].checked;
    }
    await call('ChangeNotificationPreferences', { body: change });
    announce('Předvolby byly uloženy.');
    await render();
  });
  return [
    h('h1', {}, 'Oznámení'),
    section('Doručená oznámení', page.items.length
      ? table('Oznámení', ['Oznámení', 'Kdy', 'Stav'], page.items.map((n) => [
        h('div', {}, h('strong', {}, n.title), h('p', {}, n.body)),
        formatTime(n.createdAt || n.occurredAt),
        n.read ? 'přečteno' : button(`Označit jako přečtené: ${n.title}`, { type: 'button', variant: 'link', onclick: async () => {
          await call('MarkNotificationRead', { params: { id: n.id } });
          announce('Označeno jako přečtené.');
          await render();
        } }),
      ]))
      : empty('Zatím nemáte žádná oznámení.')),
    section('Předvolby', prefs, h('p', {}, 'E-mail a SMS posíláme jen na ověřené kontakty: ', h('a', { href: '#/kontakty' }, 'Kontakty'))),
  ];
}

export async function contacts({ render }) {
  const current = await call('ListContacts');
  const block = (kind, label, input, value, inputType) => {
    const contact = current[kind];
    const verifyArea = h('div', { 'aria-live': 'polite' });
    const verifyForm = () => form({ class: 'stack', 'aria-label': `Ověřit ${label}` }, [
      field({ label: 'Ověřovací kód', name: 'code', required: true, autocomplete: 'one-time-code' }),
      button('Ověřit'),
    ], async (element) => {
      await call('VerifyContact', { params: { contact: kind }, body: { code: element.elements.code.value.trim() } });
      announce(`${label} je ověřen.`);
      await render();
    });
    const setForm = form({ class: 'stack', 'aria-label': `Nastavit ${label}` }, [
      field({ label, name: input, type: inputType, required: true, value: contact?.[value] || contact?.pending?.[value] || '' }),
      button('Poslat ověřovací kód'),
    ], async (element) => {
      const sent = await call('NotificationContact', { params: { contact: kind }, body: { [input]: element.elements[input].value.trim() } });
      fill(verifyArea,
        message(sent.detail, 'success', 'status'),
        sent.simulated && sent.simulatedCode ? h('p', { class: 'simulated' }, h('strong', {}, 'SIMULÁTOR: '), `kód by přišel ${kind === 'email' ? 'e-mailem' : 'SMS'}; je `, h('code', { class: 'simulated-code' }, sent.simulatedCode)) : null,
        verifyForm());
      verifyArea.querySelector('input').focus();
    });
    return section(label,
      contact?.[value]
        ? h('p', {}, `${contact[value]} – ${contact.verified ? `ověřeno ${formatTime(contact.verifiedAt)}` : 'neověřeno'}`)
        : empty('Nenastaveno.'),
      contact?.pending ? h('p', {}, `Čeká na ověření: ${contact.pending[value]}`) : null,
      setForm,
      contact?.pending ? verifyForm() : null,
      verifyArea,
      contact?.[value] ? button(`Odebrat ${label}`, { type: 'button', variant: 'outlined', color: 'error', onclick: async () => {
        await call('DeleteNotificationContact', { params: { contact: kind } });
        announce('Kontakt byl odebrán.');
        await render();
      } }) : null);
  };
  return [
    h('h1', {}, 'Kontakty pro oznámení'),
    h('p', {}, 'Na ověřené kontakty posíláme oznámení podle vašich předvoleb. Kontakt ověříte kódem, který na něj pošleme.'),
    block('email', 'E-mail', 'address', 'address', 'email'),
    block('phone', 'Telefon', 'number', 'number', 'tel'),
  ];
}
