// The one way to the API: operations by operationId (operations.js), the session's CSRF token on every write,
// problems (application/problem+json) as ApiError with the fields they name.
import { OPERATIONS } from './operations.js';

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

function onExpired() {
  const was = session.current;
  session.current = null;
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
 * (or null for 204); throws ApiError for any non-2xx.
 */
export async function call(operationId, { params = {}, query = {}, body, headers = {} } = {}) {
  const [method] = OPERATIONS[operationId];
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json', ...headers } };
  if (method !== 'GET' && session.current) init.headers['X-CSRF-Token'] = session.current.csrfToken;
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

/** Asks the portal whether this browser has a session (and takes its CSRF token). */
export async function loadSession() {
  try {
    session.current = await call('CurrentSession');
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
    session.current = null;
  }
  return session.current;
}

/** Where the sign-in goes (the development identity provider locally, NIA in Azure). */
export function loginUrl(returnTo = '/', maxAge) {
  return href('Login', {}, { returnTo, maxAge });
}

/** Forgets the session on this side (after erasure, which ended it on the portal's side). */
export function endSession(reason = 'logout') {
  session.current = null;
  for (const listener of session.listeners) listener(reason);
}

export async function logout() {
  const answer = await call('Logout');
  session.current = null;
  for (const listener of session.listeners) listener('logout');
  return answer;
}
