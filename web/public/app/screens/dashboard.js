// The first screen: the month calendar, the newest messages, unread notifications (the seed's dashboard).
import { call, session } from '../api.js';
import { empty, failure, formatTime, h, section, simulatedNotice } from '../dom.js';
import { monthGrid, monthRange } from './calendar.js';
import { signInContent } from './auth.js';
import { tile } from './services.js';

export async function home(context) {
  if (session.current) return show(context);
  return [
    ...signInContent(),
    h('h2', {}, 'Bez přihlášení'),
    h('p', {}, h('a', { href: '#/petice' }, 'Veřejné ePetice'), ' – přečtěte si petice a jejich počty podpisů.'),
  ];
}

export async function show() {
  const today = new Date();
  const { from, to } = monthRange(today.getFullYear(), today.getMonth());
  const [me, events, messages, notices, tiles] = await Promise.allSettled([
    call('Me'),
    call('ListCalendarEvents', { query: { from, to } }),
    // The overview is the citizen's own, even while they act for somebody else.
    call('ListDataMessages', { query: { folder: 'received', pageSize: 5 }, self: true }),
    call('ListNotifications', { query: { unread: true, pageSize: 5 } }),
    call('GetDashboard'),
  ]);
  const name = me.status === 'fulfilled' ? [me.value.profile?.givenName, me.value.profile?.familyName].filter(Boolean).join(' ') : '';
  return [
    h('h1', {}, name ? `Dobrý den, ${name}` : 'Přehled'),
    section('Moje dlaždice',
      tiles.status === 'fulfilled'
        ? (tiles.value.tiles.length ? h('ul', { class: 'card-list tiles' }, tiles.value.tiles.map(tile)) : empty('Nemáte vybrané žádné dlaždice.'))
        : failure(tiles.reason),
      h('p', {}, h('a', { href: '#/dlazdice' }, 'Vybrat dlaždice'))),
    section('Nejnovější zprávy v datové schránce',
      messages.status === 'fulfilled'
        ? [simulatedNotice(messages.value), messages.value.items.length
          ? h('ul', { class: 'item-list' }, messages.value.items.map((m) => h('li', {},
            h('a', { href: `#/datova-schranka/received/${encodeURIComponent(m.id)}` }, m.subject || '(bez předmětu)'),
            m.unread ? h('span', { class: 'gov-tag badge', 'data-type': 'bold', 'data-color': 'primary' }, 'nepřečteno') : null,
            h('span', { class: 'meta' }, ` ${m.senderName} · ${formatTime(m.deliveryTime)}`))))
          : empty('Žádné zprávy.')]
        : failure(messages.reason),
      h('p', {}, h('a', { href: '#/datova-schranka' }, 'Všechny zprávy'))),
    section('Kalendář',
      events.status === 'fulfilled' ? monthGrid(today.getFullYear(), today.getMonth(), events.value.items) : failure(events.reason),
      h('p', {}, h('a', { href: '#/kalendar' }, 'Otevřít kalendář'))),
    section('Nepřečtená oznámení',
      notices.status === 'fulfilled'
        ? (notices.value.items.length
          ? h('ul', { class: 'item-list' }, notices.value.items.map((n) => h('li', {}, n.title)))
          : empty('Nemáte nepřečtená oznámení.'))
        : failure(notices.reason),
      h('p', {}, h('a', { href: '#/oznameni' }, 'Všechna oznámení'))),
  ];
}
