// An OpenID Connect provider configured like NIA (Identita občana) for the
// portal's login tests. Started by scripts/oidc-provider.sh; see README.md.
//
//   node provider.js <port> <config-dir>
//
// <config-dir> holds client.json ({client_id, client_secret}),
// portal-enc.jwk.json (the portal's public RSA-OAEP key as a JWK) and
// accounts.json (the demo citizens). Everything else lives in memory.
import * as crypto from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import Provider, { interactionPolicy } from 'oidc-provider';

const [portArg, configDir] = process.argv.slice(2);
const port = Number(portArg);
if (!Number.isInteger(port) || port <= 0 || port > 65535 || !configDir) {
  console.error('usage: node provider.js <port> <config-dir>');
  process.exit(2);
}

const readJson = (name) => JSON.parse(readFileSync(path.join(configDir, name), 'utf8'));

const LOA = {
  low: 'http://eidas.europa.eu/LoA/low',
  substantial: 'http://eidas.europa.eu/LoA/substantial',
  high: 'http://eidas.europa.eu/LoA/high',
};
const ACR_VALUES = Object.values(LOA);
// NIA attributes (OIDC claim names), released only when the RP asks for them
// through the `claims` parameter.
const NIA_CLAIMS = [
  'PersonIdentifier',
  'CurrentGivenName',
  'CurrentFamilyName',
  'DateOfBirth',
  'CurrentAddress',
  'eMail',
  'phonenumber',
];
const REDIRECT_URI = 'https://portal.test/api/auth/callback';
const POST_LOGOUT_REDIRECT_URI = 'https://portal.test/';

const issuer = `http://127.0.0.1:${port}`;
const client = readJson('client.json');
const portalEncJwk = readJson('portal-enc.jwk.json');
const accounts = new Map(readJson('accounts.json').map((a) => [a.login, a]));

// One RS256 signing key, new at every start, published at /jwks. The private
// half is also written to the config dir (PKCS#8 PEM) so the relying party's
// tests can forge tokens "the provider signed" with claims it would never
// issue (expired, another audience, a replayed nonce).
const signingKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const signingJwk = {
  ...signingKey.export({ format: 'jwk' }),
  kid: `sig-${crypto.randomBytes(8).toString('hex')}`,
  alg: 'RS256',
  use: 'sig',
};
writeFileSync(path.join(configDir, 'provider-signing.key.pem'), signingKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
writeFileSync(path.join(configDir, 'provider-signing.kid'), signingJwk.kid, { mode: 0o600 });

// accountId is a random value per login, mapped to the citizen's login. It is
// what oidc-provider would put in `sub`; the id_token carries no `sub` (see
// the grant below), and if a future oidc-provider put it back it would still
// be a random per-login value, never the PersonIdentifier.
const logins = new Map();

// Every authorization request is a fresh login (no SSO across requests), so a
// test picks the citizen and the LoA with login_hint and acr_values each time.
const policy = interactionPolicy.base();
policy.get('login').checks.push(new interactionPolicy.Check(
  'fresh_login',
  'every authorization request authenticates the citizen anew',
  'login_required',
  (ctx) => (ctx.oidc.result?.login
    ? interactionPolicy.Check.NO_NEED_TO_PROMPT
    : interactionPolicy.Check.REQUEST_PROMPT),
));

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const provider = new Provider(issuer, {
  clients: [{
    client_id: client.client_id,
    client_secret: client.client_secret,
    client_name: 'Portál občana (test)',
    token_endpoint_auth_method: 'client_secret_post',
    redirect_uris: [REDIRECT_URI],
    post_logout_redirect_uris: [POST_LOGOUT_REDIRECT_URI],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    id_token_signed_response_alg: 'RS256',
    id_token_encrypted_response_alg: 'RSA-OAEP',
    id_token_encrypted_response_enc: 'A256CBC-HS512',
    jwks: { keys: [portalEncJwk] },
  }],
  jwks: { keys: [signingJwk] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  acrValues: ACR_VALUES,
  // `acr` rides on the openid scope so every id_token states the LoA, asked
  // for or not. `sub` cannot be removed here (oidc-provider adds it back).
  claims: {
    openid: ['sub', 'acr'],
    acr: null,
    auth_time: null,
    sid: null,
    iss: null,
    ...Object.fromEntries(NIA_CLAIMS.map((c) => [c, null])),
  },
  scopes: ['openid'],
  responseTypes: ['code'],
  subjectTypes: ['public'],
  clientAuthMethods: ['client_secret_post'],
  // NIA does not advertise PKCE: optional for this confidential client. A
  // code_challenge (S256) that is sent is still enforced at the token endpoint.
  pkce: { required: () => false },
  features: {
    devInteractions: { enabled: false },
    claimsParameter: { enabled: true },
    encryption: { enabled: true },
    // GET /session/end answers a page whose only form auto-submits in a
    // browser; a test POSTs its xsrf with logout=yes to /session/end/confirm.
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.body = '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Odhlášení</title>'
          + '<script>document.addEventListener("DOMContentLoaded", function () { document.forms[0].submit() });</script>'
          + '</head><body>'
          + form.replace('</form>', '<input type="hidden" name="logout" value="yes"/>'
            + '<noscript><button type="submit">Odhlásit</button></noscript></form>')
          + '</body></html>';
      },
    },
    userinfo: { enabled: true },
    dPoP: { enabled: false },
    pushedAuthorizationRequests: { enabled: false },
    resourceIndicators: { enabled: false },
  },
  enabledJWA: {
    idTokenSigningAlgValues: ['RS256'],
    userinfoSigningAlgValues: ['RS256'],
    idTokenEncryptionAlgValues: ['RSA-OAEP'],
    idTokenEncryptionEncValues: ['A256CBC-HS512'],
    userinfoEncryptionAlgValues: ['RSA-OAEP'],
    userinfoEncryptionEncValues: ['A256CBC-HS512'],
  },
  interactions: {
    policy,
    url: (ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  async findAccount(ctx, accountId) {
    const login = logins.get(accountId);
    const account = login && accounts.get(login);
    if (!account) return undefined;
    return {
      accountId,
      // NIA's userinfo endpoint answers `{}`; the attributes come only in the id_token.
      async claims(use) {
        if (use === 'userinfo') return { sub: accountId };
        return {
          sub: accountId,
          ...Object.fromEntries(NIA_CLAIMS.filter((c) => account[c] !== undefined).map((c) => [c, account[c]])),
        };
      },
    };
  },
  clientBasedCORS: () => false,
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    IdToken: 600,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
  async renderError(ctx, out, error) {
    console.log(`oidc-provider error: ${out.error}: ${out.error_description ?? ''}`, error?.message ?? '');
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Chyba</title></head><body>`
      + `<h1>${escapeHtml(out.error)}</h1><p>${escapeHtml(out.error_description ?? '')}</p></body></html>`;
  },
});

function errorPage(ctx, status, error, description) {
  console.log(`oidc-provider interaction error: ${error}: ${description}`);
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Chyba přihlášení</title></head><body>`
    + `<h1>${escapeHtml(error)}</h1><p>${escapeHtml(description)}</p></body></html>`;
}

// Builds the grant for what the authorization request asked: the openid scope
// and the claims named in the `claims` parameter. `sub` is rejected, which
// keeps it out of the id_token (and userinfo), as NIA does.
async function grantFor(accountId, params) {
  const grant = new provider.Grant({ accountId, clientId: params.client_id });
  const scopes = String(params.scope ?? '').split(' ').filter((s) => s === 'openid');
  if (scopes.length) grant.addOIDCScope(scopes.join(' '));
  let requested = {};
  if (params.claims) {
    try {
      requested = JSON.parse(params.claims);
    } catch {
      requested = {};
    }
  }
  const names = new Set([
    ...Object.keys(requested?.id_token ?? {}),
    ...Object.keys(requested?.userinfo ?? {}),
  ]);
  names.delete('sub');
  if (names.size) grant.addOIDCClaims([...names]);
  grant.rejectOIDCClaims(['sub']);
  return grant.save();
}

// Request log, first in the chain so it sees every response.
provider.use(async (ctx, next) => {
  try {
    await next();
  } finally {
    const location = ctx.response.get('location');
    console.log(`${ctx.method} ${ctx.path} -> ${ctx.status}${location ? ` ${location.split('?')[0]}` : ''}`);
  }
});

// NIA does not advertise PKCE, so neither does this provider's discovery document.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/.well-known/openid-configuration' && ctx.body && typeof ctx.body === 'object') {
    delete ctx.body.code_challenge_methods_supported;
    // and, like NIA, it does not offer `sub`.
    ctx.body.claims_supported = ctx.body.claims_supported?.filter((c) => c !== 'sub');
  }
});

// Non-interactive login for tests: GET /interaction/<uid> logs in the citizen
// named by login_hint at the LoA named by acr_values (first value; default
// substantial), consents to the requested scope and claims, and 303s back to
// /auth/<uid>, which 303s to the redirect_uri with code and state.
provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([^/]+)$/.exec(ctx.path);
  if (!match || ctx.method !== 'GET') return next();

  let details;
  try {
    details = await provider.interactionDetails(ctx.req, ctx.res);
  } catch (err) {
    return errorPage(ctx, 400, 'invalid_interaction', `${err.name}: ${err.error_description ?? err.message}`);
  }
  if (details.uid !== match[1]) {
    return errorPage(ctx, 400, 'invalid_interaction', 'interaction cookie does not match the URL');
  }
  const { prompt, params } = details;

  if (prompt.name === 'login') {
    const login = params.login_hint;
    if (!login) {
      return errorPage(ctx, 400, 'login_hint_missing', 'the authorization request needs login_hint=<login> (see accounts.json)');
    }
    if (!accounts.has(login)) {
      return errorPage(ctx, 404, 'unknown_login', `no test citizen with login "${login}"`);
    }
    const acr = String(params.acr_values ?? '').split(' ').find(Boolean) ?? LOA.substantial;
    if (!ACR_VALUES.includes(acr)) {
      return errorPage(ctx, 400, 'unsupported_acr', `acr_values must be one of ${ACR_VALUES.join(', ')}`);
    }
    // A cookie jar that still holds an earlier login's session would make
    // oidc-provider answer with a JavaScript "log out first" form. Drop that
    // session instead, so each login stands alone (no SSO between logins).
    if (details.session?.uid) {
      const previous = await provider.Session.findByUid(details.session.uid);
      if (previous) await previous.destroy();
      delete details.session;
      await details.save(Math.max(details.exp - Math.floor(Date.now() / 1000), 1));
    }
    const accountId = crypto.randomUUID();
    logins.set(accountId, login);
    const grantId = await grantFor(accountId, params);
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, {
      login: { accountId, acr, remember: false },
      consent: { grantId },
    }, { mergeWithLastSubmission: false });
    console.log(`oidc-provider login: ${login} at ${acr}`);
    ctx.status = 303;
    return ctx.redirect(returnTo);
  }

  if (prompt.name === 'consent') {
    const grantId = await grantFor(details.session.accountId, params);
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, {
      consent: { grantId },
    }, { mergeWithLastSubmission: true });
    ctx.status = 303;
    return ctx.redirect(returnTo);
  }

  return errorPage(ctx, 400, 'unsupported_prompt', `prompt ${prompt.name} is not handled`);
});

provider.on('server_error', (ctx, err) => console.log('oidc-provider server_error:', err));
for (const event of ['authorization.error', 'grant.error', 'end_session.error', 'userinfo.error']) {
  provider.on(event, (ctx, err) => console.log(`oidc-provider ${event}: ${err.error ?? err.name}: ${err.error_description ?? err.message}`));
}

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider ready on ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  });
}
