// Small DOM helpers: elements built from data (never innerHTML with data), form fields in the Gov Design System's
// HTML classes, problems shown next to the fields they name, Czech formats.
import { acting, actsFor, ApiError, download, href } from './api.js';

/** h('p', {class: 'x'}, 'text', child, [more]) */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') element.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(element.dataset, value);
    else if (value === true) element.setAttribute(key, '');
    else element.setAttribute(key, String(value));
  }
  append(element, children);
  return element;
}

/** Replaces an element's children (null, undefined and false are left out; arrays are flattened). */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

let ids = 0;
export const uid = (prefix) => `${prefix}-${++ids}`;

/** A labelled input, select or textarea in the design system's form control. */
export function field({ label, name, type = 'text', required = false, value, hint, options, rows, accept, multiple, min, max, autocomplete }) {
  const id = uid(`f-${String(name).replace(/[^\w-]/g, "-")}`);
  const hintId = hint ? `${id}-hint` : undefined;
  let control;
  const common = { id, name, required, 'aria-describedby': hintId, autocomplete };
  if (options) {
    control = h('select', common, options.map(([v, text]) => h('option', { value: v, selected: String(v) === String(value ?? '') }, text)));
  } else if (type === 'textarea') {
    control = h('textarea', { ...common, rows: rows || 4 }, value ?? '');
  } else {
    control = h('input', { ...common, type, value: type === 'file' ? undefined : value, accept, multiple, min, max });
  }
  const wrapperClass = options ? 'gov-form-select' : type === 'file' ? 'gov-form-file' : 'gov-form-input';
  return h('div', { class: 'gov-form-control form-field', dataset: { field: name } },
    h('label', { class: 'gov-form-label', for: id, 'data-size': 'm' },
      h('span', { class: 'gov-form-label__label' }, label, required ? h('span', { class: 'required', 'aria-hidden': 'true' }, ' *') : null)),
    hint ? h('p', { class: 'field-hint', id: hintId }, hint) : null,
    h('div', { class: wrapperClass, 'data-size': 'm' }, h('div', { class: 'element' }, control)));
}

export function checkbox({ label, name, checked = false, value }) {
  const id = uid(`f-${String(name).replace(/[^\w-]/g, "-")}`);
  return h('div', { class: 'gov-form-control form-field form-field--checkbox', dataset: { field: name } },
    h('input', { type: 'checkbox', id, name, checked, value }),
    h('label', { for: id }, label));
}

export function button(text, { type = 'submit', variant = 'solid', color = 'primary', onclick, ...rest } = {}) {
  // An action's failure is shown next to its button.
  const guarded = onclick && (async (event) => {
    const element = event.currentTarget;
    element.parentElement?.querySelector(':scope > .action-problem')?.remove();
    try {
      await onclick(event);
    } catch (error) {
      const shown = h('p', { class: 'gov-form-message action-problem', 'data-color': 'error', role: 'alert' }, problemTitle(error));
      if (element.isConnected) element.after(shown);
      else document.getElementById('obsah').prepend(shown);
    }
  });
  return h('button', { type, class: 'gov-button', 'data-type': variant, 'data-color': color, onclick: guarded, ...rest }, text);
}

/**
 * A link that downloads what an operation answers. While the citizen acts for another person it downloads through
 * api.js `download` instead, since a link cannot carry `X-Acting-For`.
 */
export function downloadLink(text, operationId, params, fileName, { button: styled = false } = {}) {
  const attrs = styled ? { class: 'gov-button', 'data-type': 'outlined', 'data-color': 'primary' } : {};
  const link = h('a', { ...attrs, href: href(operationId, params), download: fileName }, text);
  link.addEventListener('click', async (event) => {
    if (!actsFor(operationId)) return;
    event.preventDefault();
    link.parentElement?.querySelector(':scope > .action-problem')?.remove();
    try {
      await download(operationId, { params }, fileName);
    } catch (error) {
      link.after(h('p', { class: 'gov-form-message action-problem', 'data-color': 'error', role: 'alert' }, problemTitle(error)));
    }
  });
  return link;
}

/** In place of an action that is only for the citizen's own data, while they act for another person. */
export function onlyForOneself(action) {
  return message(`${action} můžete jen sami za sebe, ne za osobu ${acting.current?.name}. Jednat za sebe přepnete v liště nahoře.`, 'warning');
}

/** A link styled as a button (downloads, navigation). */
export function linkButton(text, hrefValue, { variant = 'outlined', download, ...rest } = {}) {
  return h('a', { class: 'gov-button', 'data-type': variant, 'data-color': 'primary', href: hrefValue, download, ...rest }, text);
}

export function message(text, color = 'primary', role) {
  return h('div', { class: 'gov-message notice', 'data-color': color, 'data-type': 'subtle', role }, text);
}

/** The simulator's label, wherever simulated data is shown. */
export function simulatedNotice(answer) {
  if (!answer || !answer.simulated) return null;
  // Some capabilities word their notice in Czech, others in English (for developers): the citizen reads Czech.
  const czech = /^(SIMULÁTOR|SIMULACE)/.test(answer.notice || '');
  return h('p', { class: 'simulated' }, czech ? answer.notice
    : [h('strong', {}, 'SIMULÁTOR: '), 'tato data pocházejí ze simulátoru, ne ze skutečného systému.']);
}

const RULES = [
  [/required|missing|must be given|is empty|must not be empty/i, 'Tato položka je povinná.'],
  [/at most (\d+)/i, (m) => `Zadejte nejvýše ${m[1]} znaků.`],
  [/date|YYYY-MM-DD/i, 'Zadejte platné datum.'],
  [/e-?mail/i, 'Zadejte platnou e-mailovou adresu.'],
  [/phone|number/i, 'Zadejte platné číslo.'],
];

/** A Czech sentence for an API rule; the API's own words follow in brackets. */
export function ruleText(rule) {
  for (const [pattern, text] of RULES) {
    const match = pattern.exec(rule);
    if (match) return `${typeof text === 'function' ? text(match) : text} (${rule})`;
  }
  return `Hodnota není v pořádku: ${rule}`;
}

/** Removes the problems a form shows. */
export function clearProblems(form) {
  for (const node of form.querySelectorAll('.field-error, .form-problem')) node.remove();
  for (const node of form.querySelectorAll('[aria-invalid]')) {
    node.removeAttribute('aria-invalid');
    const described = (node.getAttribute('aria-describedby') || '').split(' ').filter((id) => id && !id.endsWith('-error'));
    if (described.length) node.setAttribute('aria-describedby', described.join(' '));
    else node.removeAttribute('aria-describedby');
  }
  for (const node of form.querySelectorAll('[data-invalid]')) node.removeAttribute('data-invalid');
}

/**
 * Shows an API problem in a form: each field error next to the field it names (aria-invalid, aria-describedby),
 * the rest as a summary at the top; focuses the first invalid field.
 */
export function showProblem(form, error) {
  clearProblems(form);
  const problem = error instanceof ApiError ? error.problem : { title: String(error?.message || error) };
  const unplaced = [];
  let first = null;
  for (const { field: name, rule } of error instanceof ApiError ? error.fieldErrors : []) {
    const base = String(name).split(/[.[]/)[0];
    const control = form.elements.namedItem(name) || form.elements.namedItem(base);
    const input = control instanceof RadioNodeList ? control[0] : control;
    if (!input) {
      unplaced.push(`${name}: ${ruleText(rule)}`);
      continue;
    }
    const errorId = `${input.id}-error`;
    const wrapper = input.closest('.form-field') || input.parentElement;
    if (!wrapper.querySelector(`#${CSS.escape(errorId)}`)) {
      wrapper.append(h('p', { class: 'gov-form-message field-error', 'data-color': 'error', id: errorId },
        h('span', { class: 'gov-form-message__content' }, ruleText(rule))));
    }
    wrapper.dataset.invalid = 'true';
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', [input.getAttribute('aria-describedby'), errorId].filter(Boolean).join(' '));
    first ||= input;
  }
  const summary = h('div', { class: 'gov-message notice form-problem', 'data-color': 'error', 'data-type': 'subtle', role: 'alert' },
    h('strong', {}, problemTitle(error)), problem.detail ? h('p', {}, problem.detail) : null,
    unplaced.length ? h('ul', {}, unplaced.map((text) => h('li', {}, text))) : null);
  form.prepend(summary);
  (first || summary).focus?.();
  if (!first) {
    summary.setAttribute('tabindex', '-1');
    summary.focus();
  }
}

export function problemTitle(error) {
  if (!(error instanceof ApiError)) return 'Něco se nepovedlo.';
  switch (error.status) {
    case 0: return error.problem.title;
    case 401: return 'Nejste přihlášeni nebo vaše přihlášení vypršelo.';
    case 403:
      if (error.type.endsWith('/delegation-refused')) {
        return `Za osobu ${acting.current?.name || ''} teď jednat nemůžete: zmocnění bylo zrušeno nebo skončilo, nebo tuto akci nepokrývá.`.replace('  ', ' ');
      }
      if (error.type.endsWith('/not-delegable')) return 'Tuto akci můžete udělat jen sami za sebe.';
      return 'K této akci nemáte oprávnění.';
    case 404: return 'Nenalezeno.';
    case 409: return 'Záznam se mezitím změnil nebo už existuje.';
    case 413: return 'Soubor je příliš velký.';
    case 415: return 'Tento typ souboru portál nepřijímá.';
    case 422: return 'Formulář obsahuje chyby. Opravte prosím označené položky.';
    case 429: return 'Příliš mnoho požadavků. Zkuste to prosím za chvíli.';
    default: return error.status >= 500 ? 'Portál teď nemůže odpovědět. Zkuste to prosím za chvíli.' : `Požadavek se nepovedl (${error.problem.title || error.status}).`;
  }
}

/** Shows a screen-level failure instead of content. */
export function failure(error) {
  return h('div', { class: 'gov-message notice', 'data-color': 'error', 'data-type': 'subtle', role: 'alert' },
    h('strong', {}, problemTitle(error)), error?.problem?.detail ? h('p', { class: 'meta' }, `Podrobnosti: ${error.problem.detail}`) : null);
}

const dateFormat = new Intl.DateTimeFormat('cs-CZ', { day: 'numeric', month: 'numeric', year: 'numeric' });
const timeFormat = new Intl.DateTimeFormat('cs-CZ', { day: 'numeric', month: 'numeric', year: 'numeric', hour: '2-digit', minute: '2-digit' });
export const formatDate = (value) => (value ? dateFormat.format(new Date(value.length === 10 ? `${value}T12:00:00` : value)) : '—');
export const formatTime = (value) => (value ? timeFormat.format(new Date(value)) : '—');
export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toLocaleString('cs-CZ', { maximumFractionDigits: 1 })} kB`;
  return `${(bytes / 1024 / 1024).toLocaleString('cs-CZ', { maximumFractionDigits: 1 })} MB`;
}
export const formatCzk = (hellers) => `${(hellers / 100).toLocaleString('cs-CZ', { minimumFractionDigits: 2 })} Kč`;

/** Announces a status to screen readers (and shows it when a container is given). */
export function announce(text) {
  const live = document.getElementById('stav');
  if (live) {
    live.textContent = '';
    setTimeout(() => { live.textContent = text; }, 50);
  }
}

/** A form whose submit runs `action(form)`; problems appear in the form; the button is busy meanwhile. */
export function form(attrs, children, action) {
  const element = h('form', { novalidate: true, ...attrs }, children);
  element.addEventListener('submit', async (event) => {
    event.preventDefault();
    const submit = element.querySelector('[type=submit]');
    clearProblems(element);
    if (submit) submit.disabled = true;
    element.setAttribute('aria-busy', 'true');
    try {
      await action(element);
    } catch (error) {
      showProblem(element, error);
    } finally {
      element.removeAttribute('aria-busy');
      if (submit) submit.disabled = false;
    }
  });
  return element;
}

export function table(caption, headers, rows) {
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption },
    h('table', { class: 'data-table' },
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, headers.map((text) => h('th', { scope: 'col' }, text)))),
      h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((cell, i) => h('td', { 'data-label': headers[i] }, cell)))))));
}

export function section(title, ...children) {
  const id = uid('sekce');
  return h('section', { class: 'screen-section', 'aria-labelledby': id }, h('h2', { id }, title), children);
}

export function empty(text) {
  return h('p', { class: 'empty' }, text);
}
