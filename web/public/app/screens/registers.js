// Údaje: my data from the base registers, the odometer check; výpisy: request an extract, watch it arrive, download.
import { acting, call } from '../api.js';
import { announce, button, downloadLink, empty, field, fill, form, formatDate, formatTime, h, message, onlyForOneself, section, simulatedNotice, table } from '../dom.js';

const KINDS = [
  ['criminal-record', 'Výpis z rejstříku trestů'],
  ['trade-register', 'Výpis z živnostenského rejstříku'],
  ['driver-points', 'Výpis bodového hodnocení řidiče'],
  ['vehicles', 'Výpis vozidel'],
  ['person', 'Výpis z registru obyvatel'],
  ['properties', 'Výpis z katastru nemovitostí (list vlastnictví)'],
];
const STATUS = { queued: 've frontě', running: 'zpracovává se', done: 'hotovo', failed: 'nepodařilo se' };

export async function myData() {
  const data = await call('MyRegisterData');
  const p = data.person;
  const odometerResult = h('div', { 'aria-live': 'polite' });
  const odometer = form({ class: 'stack', 'aria-label': 'Kontrola tachometru' }, [
    field({ label: 'VIN vozidla', name: 'vin', required: true, hint: '17 znaků, například TMBEG6NJ5LZ012345.' }),
    field({ label: 'Číslo protokolu z poslední technické kontroly', name: 'protocol', required: true, hint: 'Ve tvaru CZ-3204-24-05-0123.' }),
    button('Zkontrolovat'),
  ], async (element) => {
    const check = await call('CheckOdometer', { query: { vin: element.elements.vin.value.trim(), protocol: element.elements.protocol.value.trim() } });
    fill(odometerResult,
      simulatedNotice(check),
      check.wentBackwards ? message('Pozor: některý stav tachometru je nižší než předchozí.', 'warning', 'status') : message('Stav tachometru nikdy neklesl.', 'success', 'status'),
      table('Záznamy tachometru', ['Datum', 'Kilometry', 'Zdroj', ''], check.readings.map((r) => [formatDate(r.date), r.kilometres.toLocaleString('cs-CZ'), r.source === 'stk' ? 'STK' : 'emise', r.wentBackwards ? 'pokles' : ''])),
      h('p', { class: 'meta' }, check.disclaimer));
  });
  return [
    h('h1', {}, 'Moje údaje'),
    simulatedNotice(data),
    section('Registr obyvatel',
      h('dl', { class: 'facts' },
        [['Jméno', `${p.givenName} ${p.familyName}`], ['Datum narození', formatDate(p.dateOfBirth)], ['Místo narození', p.placeOfBirth],
          ['Trvalý pobyt', p.residence.formatted], ['Doručovací adresa', p.deliveryAddress?.formatted || '—'],
          ['Státní občanství', p.citizenships.join(', ')], ['Datová schránka', p.dataBoxId || '—']]
          .map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)])),
      p.identityDocuments.length
        ? table('Doklady', ['Doklad', 'Číslo', 'Platí do'], p.identityDocuments.map((d) => [d.kind, d.number, formatDate(d.expiresOn)]))
        : null,
      h('p', { class: 'meta' }, `Načteno ${formatTime(data.fetchedAt)}`)),
    data.entrepreneur ? section('Živnostenský rejstřík',
      h('dl', { class: 'facts' }, [['Název', data.entrepreneur.name], ['IČO', data.entrepreneur.ico], ['Sídlo', data.entrepreneur.registeredOffice]]
        .map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]))) : null,
    section('Kontrola tachometru', odometer, odometerResult),
    h('p', {}, h('a', { href: '#/vypisy' }, 'Výpisy z registrů'), ' · ', h('a', { href: '#/podani' }, 'Podání a žádost o řidičský průkaz')),
  ];
}

let watching = null;

export async function extracts({ render }) {
  clearTimeout(watching);
  const jobs = await call('ListExtracts');
  const request = form({ class: 'stack', 'aria-label': 'Požádat o výpis' }, [
    field({ label: 'Druh výpisu', name: 'kind', required: true, options: KINDS }),
    button('Požádat o výpis'),
  ], async (element) => {
    const job = await call('RequestExtract', { body: { kind: element.elements.kind.value } });
    announce(`Žádost o ${job.title} přijata, výpis se připravuje.`);
    await render();
  });
  const pending = jobs.items.some((job) => job.status === 'queued' || job.status === 'running');
  // Watch a pending extract arrive: look again every two seconds while this screen is shown.
  if (pending) {
    watching = setTimeout(() => {
      if (location.hash.startsWith('#/vypisy')) render();
    }, 2000);
  }
  return [
    h('h1', {}, 'Výpisy z registrů'),
    h('p', {}, 'Hotový výpis najdete také v ', h('a', { href: '#/dokumenty' }, 'Dokumentech'), '.'),
    section('Požádat o výpis', acting.current ? onlyForOneself('O výpis požádat') : request),
    section('Moje žádosti', jobs.items.length
      ? table('Žádosti o výpis', ['Výpis', 'Požádáno', 'Stav', ''], jobs.items.map((job) => [
        h('span', {}, job.title, job.simulated ? h('span', { class: 'gov-tag badge', 'data-type': 'subtle', 'data-color': 'warning' }, 'SIMULÁTOR') : null),
        formatTime(job.createdAt),
        h('span', { class: `status status--${job.status}` }, STATUS[job.status] || job.status, job.reason ? ` (${job.reason})` : ''),
        job.documentId ? downloadLink(`Stáhnout ${job.title}`, 'DownloadDocument', { id: job.documentId }, `${job.kind}.pdf`) : '',
      ]))
      : empty('Zatím jste o žádný výpis nežádali.')),
  ];
}
