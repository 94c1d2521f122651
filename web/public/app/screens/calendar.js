// Kalendář: the month view, own events (add, delete), the iCal feed address.
import { call } from '../api.js';
import { announce, button, checkbox, empty, field, fill, form, formatDate, h, section } from '../dom.js';

const MONTHS = ['leden', 'únor', 'březen', 'duben', 'květen', 'červen', 'červenec', 'srpen', 'září', 'říjen', 'listopad', 'prosinec'];
const DAYS = ['Po', 'Út', 'St', 'Čt', 'Pá', 'So', 'Ne'];
const pad = (n) => String(n).padStart(2, '0');
const iso = (y, m, d) => `${y}-${pad(m + 1)}-${pad(d)}`;

export function monthRange(year, month) {
  const last = new Date(year, month + 1, 0).getDate();
  return { from: iso(year, month, 1), to: iso(year, month, last) };
}

/** The month as a table of weeks (Monday first), each day listing its events. */
export function monthGrid(year, month, items) {
  const first = new Date(year, month, 1);
  const lead = (first.getDay() + 6) % 7;
  const days = new Date(year, month + 1, 0).getDate();
  const byDay = new Map();
  for (const item of items) {
    const start = item.date;
    const end = item.endDate || item.date;
    for (let d = 1; d <= days; d++) {
      const day = iso(year, month, d);
      if (day >= start && day <= end) byDay.set(day, [...(byDay.get(day) || []), item]);
    }
  }
  const today = new Date();
  const todayIso = iso(today.getFullYear(), today.getMonth(), today.getDate());
  const cells = [...Array(lead).fill(null), ...Array.from({ length: days }, (_, i) => i + 1)];
  while (cells.length % 7) cells.push(null);
  const weeks = [];
  for (let i = 0; i < cells.length; i += 7) weeks.push(cells.slice(i, i + 7));
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': `Kalendář ${MONTHS[month]} ${year}` },
    h('table', { class: 'month' },
      h('caption', {}, `${MONTHS[month]} ${year}`),
      h('thead', {}, h('tr', {}, DAYS.map((d) => h('th', { scope: 'col' }, d)))),
      h('tbody', {}, weeks.map((week) => h('tr', {}, week.map((d) => {
        if (!d) return h('td', { class: 'month__blank' });
        const day = iso(year, month, d);
        const events = byDay.get(day) || [];
        return h('td', { class: day === todayIso ? 'month__today' : undefined, 'aria-current': day === todayIso ? 'date' : undefined },
          h('span', { class: 'month__day' }, String(d)),
          events.length ? h('ul', { class: 'month__events' }, events.map((e) => h('li', { class: `month__event month__event--${e.origin}` }, e.title))) : null);
      }))))));
}

export async function month({ query, render }) {
  const now = new Date();
  const [y, m] = (query.get('mesic') || `${now.getFullYear()}-${pad(now.getMonth() + 1)}`).split('-').map(Number);
  const year = Number.isFinite(y) ? y : now.getFullYear();
  const monthIndex = Number.isFinite(m) && m >= 1 && m <= 12 ? m - 1 : now.getMonth();
  const { from, to } = monthRange(year, monthIndex);
  const [page, feed] = await Promise.all([call('ListCalendarEvents', { query: { from, to } }), call('ShowCalendarFeed')]);
  const prev = new Date(year, monthIndex - 1, 1);
  const next = new Date(year, monthIndex + 1, 1);
  const add = form({ class: 'stack', 'aria-label': 'Přidat událost' }, [
    field({ label: 'Název', name: 'title', required: true }),
    field({ label: 'Datum', name: 'date', type: 'date', required: true, value: iso(year, monthIndex, Math.min(now.getDate(), 28)) }),
    field({ label: 'Místo', name: 'location' }),
    field({ label: 'Popis', name: 'description', type: 'textarea', rows: 3 }),
    field({ label: 'Připomenout (dní předem)', name: 'remindDaysBefore', type: 'number', min: 0, max: 60 }),
    checkbox({ label: 'Celodenní', name: 'allDay', checked: true }),
    button('Přidat událost'),
  ], async (element) => {
    const e = element.elements;
    const body = { title: e.title.value, date: e.date.value || null, allDay: e.allDay.checked };
    if (e.location.value) body.location = e.location.value;
    if (e.description.value) body.description = e.description.value;
    if (e.remindDaysBefore.value !== '') body.remindDaysBefore = Number(e.remindDaysBefore.value);
    const created = await call('CreateCalendarEvent', { body });
    announce(`Událost ${created.title} byla přidána.`);
    await render();
  });
  const feedSection = section('Kalendář v telefonu (iCal)',
    h('p', {}, 'Odběr kalendáře přidá vaše termíny do aplikace kalendáře v telefonu nebo počítači. Adresu nikomu nedávejte; kdykoli ji můžete zrušit.'),
    feed.exists ? h('p', {}, `Odběr je zapnutý od ${formatDate(feed.createdAt)}. Novou adresu získáte vytvořením nového odběru (stará přestane platit).`) : empty('Odběr není zapnutý.'),
    h('div', { id: 'ical-adresa', 'aria-live': 'polite' }),
    h('p', { class: 'actions' },
      button(feed.exists ? 'Vytvořit novou adresu' : 'Zapnout odběr', { type: 'button', onclick: async () => {
        const created = await call('CreateCalendarFeed');
        fill(document.getElementById('ical-adresa'), h('p', {}, 'Adresa odběru: ', h('code', { class: 'feed-url' }, created.url)));
      } }),
      feed.exists ? button('Zrušit odběr', { type: 'button', variant: 'outlined', color: 'error', onclick: async () => {
        await call('DeleteCalendarFeed');
        announce('Odběr byl zrušen.');
        await render();
      } }) : null));
  const own = page.items.filter((item) => item.editable);
  return [
    h('h1', {}, 'Kalendář'),
    h('nav', { class: 'month-nav', 'aria-label': 'Měsíce' },
      h('a', { href: `#/kalendar?mesic=${prev.getFullYear()}-${pad(prev.getMonth() + 1)}` }, `← ${MONTHS[prev.getMonth()]}`),
      h('strong', {}, `${MONTHS[monthIndex]} ${year}`),
      h('a', { href: `#/kalendar?mesic=${next.getFullYear()}-${pad(next.getMonth() + 1)}` }, `${MONTHS[next.getMonth()]} →`)),
    monthGrid(year, monthIndex, page.items),
    section('Termíny v měsíci', page.items.length
      ? h('ul', { class: 'item-list' }, page.items.map((item) => h('li', {},
        h('strong', {}, formatDate(item.date)), ` ${item.title}`, item.origin === 'system' ? h('span', { class: 'meta' }, ' (z portálu)') : null,
        own.includes(item) ? button(`Smazat ${item.title}`, { type: 'button', variant: 'link', color: 'error', onclick: async () => {
          await call('DeleteCalendarEvent', { params: { id: item.id } });
          announce('Událost byla smazána.');
          await render();
        } }) : null)))
      : empty('V tomto měsíci nemáte žádné termíny.')),
    section('Přidat událost', add),
    feedSection,
  ];
}
