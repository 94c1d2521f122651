// Podání: the citizen's filings (status, urging, payment) and the driving-licence application.
import { acting, call } from '../api.js';
import { announce, button, empty, field, form, formatDate, h, onlyForOneself, section, table } from '../dom.js';

const REASONS = [['expired', 'Skončila platnost'], ['data-change', 'Změna údajů'], ['lost', 'Ztráta'], ['stolen', 'Odcizení'], ['damaged', 'Poškození']];

export async function list({ render }) {
  const page = await call('ListFilings', { query: { pageSize: 50 } });
  const licence = form({ class: 'stack', 'aria-label': 'Žádost o řidičský průkaz' }, [
    field({ label: 'Důvod', name: 'reason', required: true, options: REASONS }),
    field({ label: 'Kód obecního úřadu obce s rozšířenou působností', name: 'officeCode', required: true, hint: '4 číslice, například 1000 (Praha).' }),
    field({ label: 'Fotografie', name: 'photo', type: 'file', accept: 'image/jpeg', required: true, hint: 'JPEG 35 × 45 mm, alespoň 413 × 531 pixelů, 20 kB až 5 MB.' }),
    button('Podat žádost'),
  ], async (element) => {
    const data = new FormData();
    data.set('reason', element.elements.reason.value);
    data.set('officeCode', element.elements.officeCode.value.trim());
    const photo = element.elements.photo.files[0];
    if (photo) data.set('photo', photo, photo.name);
    const filed = await call('ApplyForDrivingLicence', { body: data });
    announce(`Žádost podána: ${filed.statusName}.`);
    await render();
  });
  return [
    h('h1', {}, 'Podání'),
    section('Moje podání', page.items.length
      ? table('Moje podání', ['Podání', 'Úřad', 'Podáno', 'Stav', ''], page.items.map((f) => [
        h('span', {}, f.title, f.simulated ? h('span', { class: 'gov-tag badge', 'data-type': 'subtle', 'data-color': 'warning' }, 'SIMULÁTOR') : null),
        f.agency.name,
        formatDate(f.submittedAt || f.createdAt),
        h('span', {}, f.statusName, f.overdue ? ' – po lhůtě' : ''),
        h('div', { class: 'row-actions' },
          !acting.current && f.status === 'awaiting-payment' && f.payment && f.simulated ? button(`Zaplatit ${f.payment.amountCzk} Kč (simulátor)`, { type: 'button', variant: 'link', onclick: async () => {
            await call('SettleSimulatedFilingPayment', { params: { id: f.id }, body: { paid: true } });
            announce('Platba byla přijata.');
            await render();
          } }) : null,
          !acting.current && f.canUrge ? button(`Urgovat ${f.title}`, { type: 'button', variant: 'link', onclick: async () => {
            await call('UrgeFiling', { params: { id: f.id } });
            announce('Urgence byla odeslána.');
            await render();
          } }) : null),
      ]))
      : empty('Zatím jste nic nepodali.')),
    section('Žádost o řidičský průkaz', acting.current ? onlyForOneself('O řidičský průkaz požádat') : licence),
  ];
}
