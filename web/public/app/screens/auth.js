// Sign-in (the portal's login: the development identity provider locally, NIA in Azure), sign-out, session expiry.
import { logout, loginUrl, session } from '../api.js';
import { failure, h, linkButton } from '../dom.js';

export function signInContent(reason) {
  const after = sessionStorage.getItem('portal.after-login') || '/prehled';
  sessionStorage.setItem('portal.after-login', after);
  return [
    h('h1', {}, 'Přihlášení'),
    reason ? h('div', { class: 'gov-message notice', 'data-color': 'warning', 'data-type': 'subtle' }, reason) : null,
    h('p', {}, 'Do Portálu občana se přihlásíte prostřednictvím Národního bodu pro identifikaci a autentizaci (NIA): bankovní identitou, eObčankou, NIA ID nebo mobilním klíčem eGovernmentu.'),
    h('p', {}, 'Na místním počítači (cargo run) místo NIA odpovídá vývojový poskytovatel identity – SIMULÁTOR s ukázkovými občany. Zvolte úroveň záruky „substantial“ nebo „high“.'),
    h('p', {}, linkButton('Přihlásit se', loginUrl('/'), { variant: 'solid', id: 'prihlasit' })),
  ];
}

export function signIn() {
  if (session.current) return [h('h1', {}, 'Přihlášení'), h('p', {}, 'Jste přihlášeni. ', h('a', { href: '#/prehled' }, 'Pokračovat na přehled'))];
  return signInContent();
}

export function signedOut() {
  return [
    h('h1', {}, 'Byli jste odhlášeni'),
    h('p', {}, 'Vaše relace v Portálu občana skončila. Pro jistotu zavřete okno prohlížeče, pokud počítač sdílíte.'),
    h('p', {}, h('a', { href: '#/prihlaseni' }, 'Znovu se přihlásit'), ' · ', h('a', { href: '#/petice' }, 'Veřejné ePetice')),
  ];
}

export function expired() {
  return [
    h('h1', {}, 'Přihlášení vypršelo'),
    h('div', { class: 'gov-message notice', 'data-color': 'warning', 'data-type': 'subtle', role: 'alert' },
      'Z bezpečnostních důvodů jsme vás po 15 minutách nečinnosti (nebo po 8 hodinách) odhlásili. Neuložené změny se neuložily.'),
    h('p', {}, linkButton('Přihlásit se znovu', loginUrl('/'), { variant: 'solid' })),
  ];
}

export async function signOut() {
  try {
    const answer = await logout();
    sessionStorage.removeItem('portal.after-login');
    // With NIA, the identity provider ends its own session too.
    if (answer?.endSessionUrl) location.assign(answer.endSessionUrl);
    else location.hash = '/odhlaseni';
  } catch (error) {
    document.getElementById('obsah').prepend(failure(error));
  }
}
