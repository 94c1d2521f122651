// Dokumenty: upload, list, download, share links (create, list, revoke), delete.
import { acting, call } from '../api.js';
import { announce, button, downloadLink, empty, field, fill, form, formatDate, formatSize, formatTime, h, section, table } from '../dom.js';

const KINDS = { upload: 'nahraný', extract: 'výpis', receipt: 'potvrzení', 'archived-message': 'archivovaná zpráva' };

export async function list({ render }) {
  const page = await call('ListDocuments', { query: { pageSize: 50 } });
  const upload = form({ class: 'stack', 'aria-label': 'Nahrát dokument' }, [
    field({ label: 'Soubor', name: 'file', type: 'file', required: true, hint: 'PDF, JPEG, PNG nebo text.' }),
    field({ label: 'Název', name: 'title', hint: 'Nepovinné; jinak název souboru.' }),
    field({ label: 'Štítky', name: 'tags', hint: 'Oddělené čárkou, například „auto, pojištění“.' }),
    button('Nahrát'),
  ], async (element) => {
    const data = new FormData();
    const file = element.elements.file.files[0];
    if (file) data.set('file', file, file.name);
    if (element.elements.title.value) data.set('title', element.elements.title.value);
    if (element.elements.tags.value) data.set('tags', element.elements.tags.value);
    // One key per upload: resending after a lost answer (no answer, 5xx) stores the document once.
    element.dataset.idempotencyKey ||= crypto.randomUUID();
    let created;
    try {
      created = await call('UploadDocument', { body: data, headers: { 'Idempotency-Key': element.dataset.idempotencyKey } });
    } catch (error) {
      if (error.status !== 0 && error.status < 500) delete element.dataset.idempotencyKey;
      throw error;
    }
    delete element.dataset.idempotencyKey;
    announce(`Dokument ${created.title} byl nahrán.`);
    await render();
  });
  return [
    h('h1', {}, 'Dokumenty'),
    section('Nahrát dokument', upload),
    section('Moje dokumenty', page.items.length
      ? table('Moje dokumenty', ['Název', 'Druh', 'Velikost', 'Vytvořeno', 'Akce'], page.items.map((d) => [
        h('span', {}, d.title, d.simulated ? h('span', { class: 'gov-tag badge', 'data-type': 'subtle', 'data-color': 'warning' }, 'SIMULÁTOR') : null),
        KINDS[d.kind] || d.kind,
        formatSize(d.size),
        formatDate(d.createdAt),
        h('div', { class: 'row-actions' },
          downloadLink(`Stáhnout ${d.title}`, 'DownloadDocument', { id: d.id }, d.fileName),
          // Share links are the owner's own act: not offered while acting for somebody else.
          acting.current ? null : button(`Sdílet ${d.title}`, { type: 'button', variant: 'link', onclick: (event) => shares(event.currentTarget, d) }),
          button(`Smazat ${d.title}`, { type: 'button', variant: 'link', color: 'error', onclick: async () => {
            if (!window.confirm(`Opravdu smazat dokument ${d.title}?`)) return;
            await call('DeleteDocument', { params: { id: d.id } });
            announce('Dokument byl smazán.');
            await render();
          } })),
      ]))
      : h('p', { class: 'empty' }, 'Zatím tu nejsou žádné dokumenty.')),
    h('div', { id: 'sdileni' }),
  ];
}

async function shares(opener, documentView) {
  const target = document.getElementById('sdileni');
  const show = async () => {
    const existing = await call('ListDocumentShares', { params: { id: documentView.id } });
    const create = form({ class: 'stack', 'aria-label': 'Nový odkaz ke sdílení' }, [
      field({ label: 'Platnost odkazu v hodinách', name: 'expiresInHours', type: 'number', value: 24, min: 1, required: true }),
      button('Vytvořit odkaz'),
    ], async (element) => {
      const created = await call('ShareDocument', { params: { id: documentView.id }, body: { expiresInHours: Number(element.elements.expiresInHours.value) } });
      await show();
      const link = h('p', { class: 'gov-message notice', 'data-color': 'success', 'data-type': 'subtle', role: 'status' },
        'Odkaz (platný do ', formatTime(created.expiresAt), '): ', h('a', { href: created.url }, created.url));
      target.querySelector('section').append(link);
    });
    fill(target, section(`Sdílení: ${documentView.title}`,
      existing.items.length
        ? table('Odkazy ke sdílení', ['Vytvořen', 'Platí do', 'Staženo', 'Stav', ''], existing.items.map((s) => [
          formatTime(s.createdAt), formatTime(s.expiresAt), String(s.downloads), s.active ? 'aktivní' : 'zrušený',
          s.active ? button('Zrušit odkaz', { type: 'button', variant: 'link', color: 'error', onclick: async () => {
            await call('RevokeDocumentShare', { params: { id: documentView.id, shareId: s.id } });
            announce('Odkaz byl zrušen.');
            await show();
          } }) : '',
        ]))
        : empty('Dokument zatím nikomu nesdílíte.'),
      create));
  };
  await show();
  target.querySelector('h2').setAttribute('tabindex', '-1');
  target.querySelector('h2').focus();
  opener.setAttribute('aria-expanded', 'true');
}
