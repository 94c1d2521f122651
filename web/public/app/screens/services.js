// Služby: the tiles of other portals (choose them for the dashboard), the pension calculator, municipal fees with
// payment and the QR Platba code, official notice boards with watches.
import { call, href, session } from '../api.js';
import { announce, button, checkbox, empty, field, fill, form, formatDate, formatTime, h, message, section, table } from '../dom.js';

const czk = (value) => `${Number(value).toLocaleString('cs-CZ')} Kč`;

export function hub() {
  const links = [
    ['#/dlazdice', 'Dlaždice portálů', 'Přehledy z ČSSZ, Finanční správy, Úřadu práce, eReceptu a dalších portálů na jednom místě.'],
    ['#/duchod', 'Důchodová kalkulačka', 'Odhad starobního důchodu podle pravidel platných pro daný rok.'],
    ['#/poplatky', 'Místní poplatky', 'Poplatky obce, jejich zaplacení kartou nebo QR Platbou.'],
    ['#/uredni-desky', 'Úřední desky', 'Hledání na úředních deskách a hlídání nových vyvěšení.'],
  ];
  return [
    h('h1', {}, 'Služby'),
    h('ul', { class: 'card-list' }, links.map(([target, title, text]) => h('li', { class: 'gov-card petition-card' },
      h('h2', { class: 'h4' }, h('a', { href: target }, title)), h('p', {}, text)))),
  ];
}

/** One tile of the dashboard (GET /api/dashboard): its summary, alerts, and a link to the portal. */
export function tile(t) {
  const summary = t.summary;
  return h('li', { class: 'gov-card tile' },
    h('h3', { class: 'h5' }, t.title.cs),
    summary ? h('p', { class: 'tile__headline' }, summary.headline) : h('p', { class: 'meta' }, t.description.cs),
    summary?.items?.length ? h('dl', { class: 'facts' }, summary.items.map((item) => [h('dt', {}, item.label), h('dd', {}, item.value)])) : null,
    summary?.alerts?.length ? h('ul', { class: 'item-list' }, summary.alerts.map((alert) => h('li', {}, alert.text))) : null,
    t.state && t.state !== 'fresh' ? h('p', { class: 'meta' }, t.state === 'stale' ? 'Údaje mohou být starší.' : 'Přehled teď není k dispozici.') : null,
    t.simulated ? h('p', { class: 'simulated' }, t.simulatedNotice || 'SIMULACE') : null,
    h('p', {}, h('a', { href: t.url, rel: 'noopener' }, `Otevřít ${t.title.cs}`)));
}

export async function tiles({ render }) {
  const catalogue = await call('ListTiles');
  const choose = form({ class: 'stack', 'aria-label': 'Dlaždice na přehledu' }, [
    h('fieldset', { class: 'tile-choice' }, h('legend', {}, 'Které dlaždice chcete na přehledu'),
      catalogue.items.map((t) => checkbox({ label: `${t.title.cs} – ${t.description.cs}`, name: 'tiles', checked: t.onDashboard }))),
    button('Uložit výběr'),
  ], async (element) => {
    const boxes = [...element.querySelectorAll('input[name=tiles]')];
    const chosen = catalogue.items.filter((_, i) => boxes[i].checked).map((t) => t.id);
    await call('SetDashboard', { body: { tiles: chosen } });
    announce('Výběr dlaždic byl uložen.');
    await render();
  });
  if (!session.current) return [h('h1', {}, 'Dlaždice portálů'), table('Portály', ['Portál', 'Co ukazuje'], catalogue.items.map((t) => [h('a', { href: t.url }, t.title.cs), t.description.cs]))];
  const dashboard = await call('GetDashboard');
  return [
    h('h1', {}, 'Dlaždice portálů'),
    section('Moje dlaždice', dashboard.tiles.length ? h('ul', { class: 'card-list' }, dashboard.tiles.map(tile)) : empty('Nemáte vybrané žádné dlaždice.')),
    section('Výběr', choose),
  ];
}

export async function pension() {
  const result = h('div', { 'aria-live': 'polite' });
  const show = (estimate) => fill(result, section('Odhad',
    estimate.simulated ? h('p', { class: 'simulated' }, h('strong', {}, 'SIMULÁTOR: '), 'údaje ČSSZ pocházejí ze simulátoru.') : null,
    h('p', { class: 'signature-count' }, h('strong', {}, czk(estimate.breakdown.total)), ' měsíčně'),
    h('dl', { class: 'facts' }, [
      ['Důchodový věk', `${estimate.retirementAge.years} let a ${estimate.retirementAge.months} měsíců (${formatDate(estimate.retirementAge.date)})`],
      ['Odchod do důchodu', `${formatDate(estimate.retirementDate)} (${{ regular: 'řádný', early: 'předčasný', postponed: 'odložený' }[estimate.kind] || estimate.kind})`],
      ['Nárok', estimate.entitled ? 'ano' : 'zatím ne'],
      ['Podle', estimate.legalBasis],
    ].map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)])),
    table('Výpočet', ['Položka', 'Částka', 'Vysvětlení'], estimate.breakdown.lines.map((line) => [line.label, czk(line.amount), line.explanation || ''])),
    estimate.notes.length ? h('ul', {}, estimate.notes.map((note) => h('li', {}, note))) : null));
  const calculator = form({ class: 'stack', 'aria-label': 'Důchodová kalkulačka' }, [
    field({ label: 'Datum narození', name: 'birthDate', type: 'date', required: true }),
    field({ label: 'Pohlaví', name: 'sex', required: true, options: [['female', 'žena'], ['male', 'muž']] }),
    field({ label: 'Odpracované roky (doba pojištění)', name: 'insuranceYears', type: 'number', min: 0, max: 60, required: true }),
    field({ label: 'Průměrný hrubý měsíční výdělek v Kč', name: 'averageMonthlyEarnings', type: 'number', min: 0 }),
    field({ label: 'Počet vychovaných dětí', name: 'children', type: 'number', min: 0, max: 20 }),
    field({ label: 'Plánovaný odchod do důchodu', name: 'plannedRetirementDate', type: 'date', hint: 'Nepovinné; jinak v důchodovém věku.' }),
    button('Spočítat odhad'),
  ], async (element) => {
    const e = element.elements;
    const body = { birthDate: e.birthDate.value || null, sex: e.sex.value, insuranceYears: e.insuranceYears.value === '' ? null : Number(e.insuranceYears.value) };
    if (e.averageMonthlyEarnings.value !== '') body.averageMonthlyEarnings = Number(e.averageMonthlyEarnings.value);
    if (e.children.value !== '') body.children = Number(e.children.value);
    if (e.plannedRetirementDate.value) body.plannedRetirementDate = e.plannedRetirementDate.value;
    show(await call('EstimatePension', { body }));
    announce('Odhad důchodu je hotový.');
  });
  const mine = session.current
    ? button('Spočítat z mých údajů u ČSSZ', { type: 'button', variant: 'outlined', onclick: async () => {
      try {
        show(await call('EstimateMyPension'));
      } catch (error) {
        if (error.status !== 404) throw error;
        fill(result, message('ČSSZ o vás nevede záznam o době pojištění; vyplňte údaje ve formuláři.', 'warning', 'status'));
      }
    } })
    : null;
  return [
    h('h1', {}, 'Důchodová kalkulačka'),
    h('p', {}, 'Orientační odhad starobního důchodu. Skutečnou výši určí ČSSZ v rozhodnutí.'),
    mine ? h('p', {}, mine) : null,
    calculator,
    result,
  ];
}

export async function fees({ query, render }) {
  const overview = await call('ListFees');
  const paymentId = query.get('platba');
  const payment = paymentId ? await call('ShowFeePayment', { params: { payment: paymentId } }).catch(() => null) : null;
  const qrArea = h('div', { id: 'qr-platba', 'aria-live': 'polite' });
  const checkout = payment && payment.state === 'pending' && payment.simulated
    ? form({ class: 'stack', 'aria-label': 'Platba kartou (simulátor)' }, [
      h('p', { class: 'simulated' }, payment.notice || 'SIMULÁTOR platební brány'),
      field({ label: 'Číslo karty', name: 'card', required: true, value: '4242424242424242', autocomplete: 'off', hint: 'Testovací karta simulátoru.' }),
      button(`Zaplatit ${payment.amount} Kč`),
    ], async (element) => {
      await call('SimulatedFeeCheckout', { params: { payment: payment.id }, body: { card: element.elements.card.value.trim() } });
      announce('Platba byla odeslána.');
      await render();
    })
    : null;
  return [
    h('h1', {}, 'Místní poplatky'),
    overview.simulated ? h('p', { class: 'simulated' }, overview.notice || 'SIMULÁTOR') : null,
    overview.municipality ? h('p', {}, `${overview.municipality.name} – ${overview.municipality.office}`) : null,
    payment ? section('Platba', h('p', {}, `${payment.title}: ${payment.stateName}`), checkout) : null,
    section('Moje poplatky', overview.obligations.length
      ? table('Moje poplatky', ['Poplatek', 'Částka', 'Splatnost', 'Stav', ''], overview.obligations.map((o) => [
        h('span', {}, `${o.title} ${o.period}`, h('br'), h('span', { class: 'meta' }, o.detail)),
        `${o.amount} Kč`,
        formatDate(o.dueDate),
        o.status === 'open' ? (o.overdue ? 'po splatnosti' : 'k zaplacení') : o.status === 'paid' ? 'zaplaceno' : o.status,
        o.status === 'open' ? h('div', { class: 'row-actions' },
          button(`Zaplatit kartou: ${o.title}`, { type: 'button', variant: 'link', onclick: async () => {
            const started = await call('PayFee', { params: { fee: o.id } });
            location.hash = `/poplatky?platba=${encodeURIComponent(started.id)}`;
          } }),
          button(`QR Platba: ${o.title}`, { type: 'button', variant: 'link', onclick: async () => {
            const qr = await call('FeeQrPayment', { params: { fee: o.id } });
            fill(qrArea, section(`QR Platba: ${o.title}`,
              h('img', { src: href('FeeQrSvg', { fee: o.id }), alt: `QR kód platby ${qr.amount} Kč na účet ${qr.iban}, variabilní symbol ${qr.variableSymbol}`, width: 220, height: 220, class: 'qr' }),
              h('dl', { class: 'facts' }, [['Účet', qr.iban], ['Částka', `${qr.amount} ${qr.currency}`], ['Variabilní symbol', qr.variableSymbol], ['Příjemce', qr.payee], ['Splatnost', formatDate(qr.dueDate)]]
                .map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)])),
              h('p', {}, h('a', { href: href('FeeQrPng', { fee: o.id }), download: `qr-${o.id}.png` }, 'Stáhnout QR kód (PNG)'))));
            qrArea.querySelector('h2').setAttribute('tabindex', '-1');
            qrArea.querySelector('h2').focus();
          } })) : '',
      ]))
      : empty('Nemáte žádné poplatky.')),
    qrArea,
    section('Sazebník', overview.catalogue.map((fee) => h('div', { class: 'fee' },
      h('h3', { class: 'h5' }, fee.title),
      h('ul', {}, fee.rates.map((rate) => h('li', {}, `${rate.label}: ${(rate.amountHellers / 100).toLocaleString('cs-CZ')} Kč / ${rate.unit}`))),
      h('p', { class: 'meta' }, `Splatnost: ${fee.due}`)))),
  ];
}

export async function noticeBoards({ query, render }) {
  const q = query.get('hledat') || '';
  const [boards, items] = await Promise.all([call('ListNoticeBoards'), call('SearchNoticeBoardItems', { query: { q: q || undefined, limit: 50 } })]);
  const watches = session.current ? await call('ListNoticeBoardWatches') : null;
  const search = form({ class: 'stack', role: 'search', 'aria-label': 'Hledat na úředních deskách' }, [
    field({ label: 'Hledat', name: 'q', value: q, type: 'search' }),
    button('Hledat', { variant: 'outlined' }),
  ], async (element) => {
    location.hash = `/uredni-desky?hledat=${encodeURIComponent(element.elements.q.value)}`;
  });
  const watch = watches && form({ class: 'stack', 'aria-label': 'Nové hlídání' }, [
    field({ label: 'Klíčová slova', name: 'keywords', hint: 'Oddělená čárkou, například „uzavírka, Horní Lhota“.' }),
    field({ label: 'Místo', name: 'place' }),
    field({ label: 'Spisová značka', name: 'caseNumber' }),
    button('Hlídat'),
  ], async (element) => {
    const e = element.elements;
    const body = { keywords: e.keywords.value.split(',').map((k) => k.trim()).filter(Boolean) };
    if (e.place.value) body.place = e.place.value;
    if (e.caseNumber.value) body.caseNumber = e.caseNumber.value;
    await call('CreateNoticeBoardWatch', { body });
    announce('Hlídání bylo uloženo.');
    await render();
  });
  return [
    h('h1', {}, 'Úřední desky'),
    search,
    section(q ? `Výsledky pro „${q}“` : 'Nová vyvěšení', items.items.length
      ? h('ul', { class: 'item-list' }, items.items.map((item) => h('li', {},
        item.url ? h('a', { href: item.url, rel: 'noopener' }, item.title) : item.title,
        h('span', { class: 'meta' }, ` ${item.boardName} · vyvěšeno ${formatDate(item.postedOn)}${item.caseNumber ? ` · ${item.caseNumber}` : ''}`),
        item.simulated ? h('span', { class: 'gov-tag badge', 'data-type': 'subtle', 'data-color': 'warning' }, 'SIMULACE') : null)))
      : empty('Nic nenalezeno.')),
    watches ? section('Moje hlídání', watches.items.length
      ? table('Moje hlídání', ['Klíčová slova', 'Místo', 'Spisová značka', 'Od', ''], watches.items.map((w) => [
        w.keywords.join(', ') || '—', w.place || '—', w.caseNumber || '—', formatTime(w.createdAt),
        button('Zrušit hlídání', { type: 'button', variant: 'link', color: 'error', onclick: async () => {
          await call('DeleteNoticeBoardWatch', { params: { id: w.id } });
          announce('Hlídání bylo zrušeno.');
          await render();
        } }),
      ]))
      : empty('Nic nehlídáte.'), watch) : null,
    section('Sledované desky', table('Úřední desky', ['Deska', 'Vyvěšení', 'Naposledy načteno'], boards.items.map((b) => [b.name, String(b.items), formatTime(b.lastHarvestAt)]))),
  ];
}
