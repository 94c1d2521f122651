// The one way to the API: operations by operationId (operations.js), the session's CSRF token on every write,
// problems (application/problem+json) as ApiError with the fields they name.
import { DELEGABLE, OPERATIONS } from './operations.js';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
  /** [{field, rule}] of a 422. */
  get fieldErrors() {
    return Array.isArray(this.problem.errors) ? this.problem.errors : [];
  }
  get type() {
    return this.problem.type || '';
  }
}

/** The signed-in session ({csrfToken, expiresAt, loa, provider}) or null. */
export const session = { current: null, listeners: new Set() };

/**
 * Whom the citizen acts for ({grant, name, kind, scopes}), chosen on the delegations screen; null = for themselves.
 * Kept for this tab only (sessionStorage) and forgotten when the session ends.
 */
export const acting = { current: readActing(), listeners: new Set() };

function readActing() {
  try {
    return JSON.parse(sessionStorage.getItem('portal.acting-for') || 'null');
  } catch {
    return null;
  }
}

/** Acts for the person of a grant from now on (null: for oneself again). */
export function actFor(grant) {
  acting.current = grant ? { grant: grant.grant, name: grant.name, kind: grant.kind, scopes: grant.scopes } : null;
  if (acting.current) sessionStorage.setItem('portal.acting-for', JSON.stringify(acting.current));
  else sessionStorage.removeItem('portal.acting-for');
  for (const listener of acting.listeners) listener(acting.current);
}

/** Whether `operationId` would be sent for another person now. */
export function actsFor(operationId) {
  return Boolean(acting.current && DELEGABLE[operationId]);
}

function onExpired() {
  const was = session.current;
  session.current = null;
  actFor(null);
  if (was) for (const listener of session.listeners) listener('expired');
}

/** The URL of an operation with its path and query parameters filled in. */
export function href(operationId, params = {}, query = {}) {
  const entry = OPERATIONS[operationId];
  if (!entry) throw new Error(`unknown operation ${operationId}`);
  const path = entry[1].replace(/\{(\w+)\}/g, (_, name) => {
    if (params[name] === undefined || params[name] === null) throw new Error(`${operationId}: missing ${name}`);
    return encodeURIComponent(String(params[name]));
  });
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const qs = search.toString();
  return qs ? `${path}?${qs}` : path;
}

/**
 * Calls an operation. `body`: a plain object (sent as JSON) or FormData (multipart). Answers the parsed JSON
 * (or null for 204); throws ApiError for any non-2xx. While the citizen acts for another person, an operation that
 * opted in is sent for that person (`X-Acting-For`) unless `self` is true.
 */
export async function call(operationId, { params = {}, query = {}, body, headers = {}, self = false } = {}) {
  const [method] = OPERATIONS[operationId];
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json', ...headers } };
  if (method !== 'GET' && session.current) init.headers['X-CSRF-Token'] = session.current.csrfToken;
  if (!self && actsFor(operationId)) init.headers['X-Acting-For'] = acting.current.grant;
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(href(operationId, params, query), init);
  } catch {
    throw new ApiError(0, { title: 'Portál je nedostupný. Zkontrolujte připojení a zkuste to znovu.' });
  }
  if (response.status === 204) return null;
  const type = response.headers.get('content-type') || '';
  const data = type.includes('json') ? await response.json().catch(() => null) : await response.text();
  if (!response.ok) {
    const error = new ApiError(response.status, typeof data === 'object' ? data : { title: String(data) });
    if (response.status === 401 && !error.type.endsWith('/reauthentication-required') && operationId !== 'CurrentSession') {
      onExpired();
    }
    throw error;
  }
  return data;
}

/**
 * Downloads what an operation answers as a file (a link cannot carry `X-Acting-For`): saves it under `fileName`.
 * Throws ApiError as `call` does.
 */
export async function download(operationId, { params = {}, query = {} } = {}, fileName = 'soubor') {
  const init = { credentials: 'same-origin', headers: {} };
  if (actsFor(operationId)) init.headers['X-Acting-For'] = acting.current.grant;
  let response;
  try {
    response = await fetch(href(operationId, params, query), init);
  } catch {
    throw new ApiError(0, { title: 'Portál je nedostupný. Zkontrolujte připojení a zkuste to znovu.' });
  }
  if (!response.ok) {
    const problem = await response.json().catch(() => null);
    throw new ApiError(response.status, problem);
  }
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Asks the portal whether this browser has a session (and takes its CSRF token). */
export async function loadSession() {
  try {
    session.current = await call('CurrentSession');
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
    session.current = null;
  }
  if (!session.current) actFor(null);
  return session.current;
}

/** Where the sign-in goes (the development identity provider locally, NIA in Azure). */
export function loginUrl(returnTo = '/', maxAge) {
  return href('Login', {}, { returnTo, maxAge });
}

/** Forgets the session on this side (after erasure, which ended it on the portal's side). */
export function endSession(reason = 'logout') {
  session.current = null;
  actFor(null);
  for (const listener of session.listeners) listener(reason);
}

export async function logout() {
  const answer = await call('Logout');
  session.current = null;
  actFor(null);
  for (const listener of session.listeners) listener('logout');
  return answer;
}
