// Datová schránka: received / sent / archive, a message with its attachments and ZFO, a new message with
// attachments, the credit for commercial messages.
import { acting, call } from '../api.js';
import { announce, button, downloadLink, empty, field, fill, form, formatCzk, formatSize, formatTime, h, linkButton, section, simulatedNotice, table } from '../dom.js';

const FOLDERS = [['received', 'Přijaté'], ['sent', 'Odeslané'], ['archived', 'Archiv']];

function tabs(current) {
  return h('nav', { class: 'gov-tabs folder-tabs', 'aria-label': 'Složky datové schránky' },
    h('ul', { class: 'folder-tabs__list' }, FOLDERS.map(([folder, label]) => h('li', {},
      h('a', { href: `#/datova-schranka?slozka=${folder}`, 'aria-current': folder === current ? 'page' : undefined }, label)))));
}

export async function list({ query }) {
  const folder = FOLDERS.some(([f]) => f === query.get('slozka')) ? query.get('slozka') : 'received';
  const [box, page] = await Promise.all([
    // The box's own facts (id, credit) are the citizen's own: not shown while acting for somebody else.
    acting.current ? null : call('DataBoxInfo').catch(() => null),
    call('ListDataMessages', { query: { folder, pageSize: 20, ...(query.get('kurzor') ? { cursor: query.get('kurzor') } : {}) } }),
  ]);
  const label = FOLDERS.find(([f]) => f === folder)[1];
  return [
    h('h1', {}, 'Datová schránka'),
    simulatedNotice(page),
    box ? h('p', { class: 'meta' }, `Schránka ${box.box.id} (${box.box.ownerName})`,
      box.creditHellers !== null && box.creditHellers !== undefined ? ` · kredit ${formatCzk(box.creditHellers)}` : '',
      box.autoArchive ? ` · zprávy se archivují po ${box.archiveAfterDays} dnech` : '') : null,
    h('p', { class: 'actions' },
      linkButton('Napsat zprávu', '#/datova-schranka/nova-zprava', { variant: 'solid' }),
      acting.current ? null : linkButton('Kredit', '#/datova-schranka/kredit')),
    tabs(folder),
    page.items.length
      ? table(`${label} zprávy`, ['Předmět', folder === 'sent' ? 'Příjemce' : 'Odesílatel', 'Dodáno', 'Velikost'],
        page.items.map((m) => [
          h('a', { href: `#/datova-schranka/${folder}/${encodeURIComponent(m.id)}` }, m.subject || '(bez předmětu)',
            m.unread ? h('span', { class: 'gov-tag badge', 'data-type': 'bold', 'data-color': 'primary' }, 'nepřečteno') : null),
          folder === 'sent' ? m.recipientName : m.senderName,
          formatTime(m.deliveryTime),
          `${m.attachmentSizeKb} kB`,
        ]))
      : empty('Ve složce nejsou žádné zprávy.'),
    page.nextCursor
      ? h('p', {}, h('a', { href: `#/datova-schranka?slozka=${folder}&kurzor=${encodeURIComponent(page.nextCursor)}` }, 'Starší zprávy →'))
      : null,
  ];
}

// What the portal checked of the ZFO's signature, in words: the signature, the time stamp and the chains to
// the trusted authorities, but not revocation (the API says the same of `verified`).
function signatureText(signature) {
  if (!signature) return '—';
  if (!signature.verified) return `neověřen: ${signature.reason || 'podpis nelze ověřit'}`;
  const by = signature.signedBy ? `, podepsal ${signature.signedBy}` : '';
  const stamp = signature.timeStamp ? `, časové razítko ${formatTime(signature.timeStamp.time)}` : '';
  return `ověřen${by}${stamp} (odvolání certifikátu se nekontroluje)`;
}

export async function message({ params }) {
  const { folder, id } = params;
  const detail = await call('ShowDataMessage', { params: { folder, id } });
  if (folder === 'received' && detail.unread && !acting.current) await call('MarkDataMessageRead', { params: { id } }).catch(() => null);
  const rows = [
    ['Odesílatel', `${detail.senderName} (${detail.senderBox})`],
    ['Příjemce', `${detail.recipientName} (${detail.recipientBox})`],
    ['Dodáno', formatTime(detail.deliveryTime)],
    ['Doručeno', formatTime(detail.acceptanceTime)],
    detail.senderRefNumber ? ['Č. j. odesílatele', detail.senderRefNumber] : null,
    detail.personalDelivery ? ['Do vlastních rukou', 'ano'] : null,
    ['Podpis zprávy (ZFO)', signatureText(detail.signature)],
  ].filter(Boolean);
  return [
    h('p', {}, h('a', { href: `#/datova-schranka?slozka=${folder}` }, '← Zpět do složky')),
    h('h1', {}, detail.subject || '(bez předmětu)'),
    simulatedNotice(detail),
    h('dl', { class: 'facts' }, rows.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)])),
    section('Přílohy', detail.attachments.length
      ? h('ul', { class: 'item-list attachments' }, detail.attachments.map((a) => h('li', {},
        downloadLink(`Stáhnout ${a.name}`, 'DownloadAttachment', { folder, id, index: a.index }, a.name),
        h('span', { class: 'meta' }, ` ${a.mimeType}, ${formatSize(a.size)}`))))
      : empty('Zpráva nemá přílohy.')),
    h('p', {}, downloadLink('Stáhnout zprávu jako ZFO', 'DownloadZfo', { folder, id }, `${id}.zfo`, { button: true })),
  ];
}

export function compose({ go }) {
  const directoryResult = h('div', { class: 'directory-result', 'aria-live': 'polite' });
  const search = form({ class: 'stack', 'aria-label': 'Vyhledat datovou schránku' }, [
    field({ label: 'Hledat adresáta podle názvu nebo IČO', name: 'q', hint: 'Například „Úřad“. Kliknutím na výsledek vyplníte ID schránky.' }),
    button('Hledat', { variant: 'outlined' }),
    directoryResult,
  ], async (element) => {
    const found = await call('FindDataBoxes', { query: { q: element.elements.q.value } });
    fill(directoryResult, found.items.length
      ? h('ul', { class: 'item-list' }, found.items.slice(0, 10).map((b) => h('li', {},
        h('button', { type: 'button', class: 'gov-button', 'data-type': 'link', 'data-color': 'primary', onclick: () => {
          compose.elements.recipient.value = b.id;
          compose.elements.recipient.focus();
        } }, `${b.ownerName} (${b.id})`))))
      : empty('Nic nenalezeno.'));
  });
  const compose = form({ class: 'stack', 'aria-label': 'Nová datová zpráva' }, [
    field({ label: 'ID datové schránky adresáta', name: 'recipient', required: true, hint: '7 znaků, například „abc1234“.' }),
    field({ label: 'Předmět', name: 'subject', required: true }),
    field({ label: 'Přílohy', name: 'attachment', type: 'file', multiple: true, required: true, hint: 'Alespoň jedna příloha (PDF, obrázek…).' }),
    field({ label: 'Vaše číslo jednací', name: 'senderRefNumber' }),
    button('Odeslat zprávu'),
  ], async (element) => {
    const data = new FormData();
    data.set('recipient', element.elements.recipient.value.trim());
    data.set('subject', element.elements.subject.value);
    if (element.elements.senderRefNumber.value) data.set('senderRefNumber', element.elements.senderRefNumber.value);
    for (const file of element.elements.attachment.files) data.append('attachment', file, file.name);
    // One key per message: resending after a lost answer (no answer, 5xx) or
    // while it is still being sent (409) never sends it twice.
    element.dataset.idempotencyKey ||= crypto.randomUUID();
    let sent;
    try {
      sent = await call('SendDataMessage', { body: data, headers: { 'Idempotency-Key': element.dataset.idempotencyKey } });
    } catch (error) {
      if (error.status !== 0 && error.status < 500 && error.status !== 409) delete element.dataset.idempotencyKey;
      throw error;
    }
    delete element.dataset.idempotencyKey;
    announce('Zpráva byla odeslána.');
    go(`/datova-schranka/${sent.folder || 'sent'}/${encodeURIComponent(sent.id)}`);
  });
  return [
    h('p', {}, h('a', { href: '#/datova-schranka' }, '← Zpět do datové schránky')),
    h('h1', {}, 'Nová zpráva'),
    section('Adresát', search),
    section('Zpráva', compose),
  ];
}

export async function credit({ query, render }) {
  const box = await call('DataBoxInfo');
  const purchaseId = query.get('nakup');
  let purchase = null;
  if (purchaseId) purchase = await call('ShowCreditPurchase', { params: { id: purchaseId } }).catch(() => null);
  const buy = form({ class: 'stack', 'aria-label': 'Dobít kredit' }, [
    field({ label: 'Částka v Kč', name: 'amountCzk', type: 'number', required: true, min: 1, value: 100 }),
    button('Zaplatit'),
  ], async (element) => {
    const started = await call('BuyCredit', { body: { amountCzk: Number(element.elements.amountCzk.value) } });
    location.hash = `/datova-schranka/kredit?nakup=${encodeURIComponent(started.paymentId)}`;
  });
  const pay = purchase && purchase.state === 'pending' && purchase.simulated
    ? form({ class: 'stack', 'aria-label': 'Simulovaná platba' }, [
      h('p', {}, 'SIMULÁTOR platební brány: rozhodněte, jak platba dopadne.'),
      button('Zaplaceno', { name: 'paid', value: 'true' }),
    ], async () => {
      await call('SettleSimulatedPayment', { params: { id: purchaseId }, body: { paid: true } });
      announce('Platba byla přijata.');
      await render();
    })
    : null;
  return [
    h('p', {}, h('a', { href: '#/datova-schranka' }, '← Zpět do datové schránky')),
    h('h1', {}, 'Kredit datové schránky'),
    simulatedNotice(box),
    h('p', {}, 'Kredit platí poštovné za poštovní datové zprávy. Zůstatek: ',
      h('strong', {}, box.creditHellers === null || box.creditHellers === undefined ? 'neznámý' : formatCzk(box.creditHellers))),
    purchase ? section('Nákup kreditu', simulatedNotice(purchase), h('p', {}, `Stav: ${purchase.state}`), pay) : null,
    section('Dobít kredit', buy),
  ];
}
