import { h, mount, field, fmtTime, relTime } from './h.js';
import { api, session, ApiError, dataPlane, withVersion, jwtPayload, policyFromDocument, policyHash } from './api.js';
import { policiesPage } from './policies.js';
import { playgroundPage } from './playground.js';
import { signersPage, keysPage, collateralPage, auditPage, activityPage } from './pages.js';
import { oidcStart, oidcFinish } from './oidc.js';

// The attestation types the server serves (config.json), in its order.
export let TYPES = ['SgxEnclave', 'OpenEnclave', 'TdxVm'];
const ROLES = { reader: 1, 'policy-admin': 2, owner: 3 };
export const can = (role) => session.who && ROLES[session.who.role] >= ROLES[role];
export let config = { dev: false };

// needs returns attributes that disable a control the caller's role may not use.
export function needs(role) {
  return can(role) ? {} : { disabled: true, title: `needs the ${role} role`, 'aria-disabled': 'true' };
}

export function status(msg, kind = 'info') {
  mount(document.getElementById('status'), msg ? h('span', { class: `msg ${kind}` }, msg) : null);
}

// errorBox renders an API error with its code and request id.
export function errorBox(e) {
  if (e instanceof ApiError) {
    return h('div', { class: 'error', role: 'alert' }, h('strong', {}, e.code), ': ', e.message,
      e.requestId ? h('span', { class: 'reqid' }, ' request id ', h('code', {}, e.requestId)) : null);
  }
  return h('div', { class: 'error', role: 'alert' }, String(e && e.message || e));
}

export function go(hash) { location.hash = hash; }

function nav() {
  const links = [['#/providers', 'Providers'], ['#/collateral', 'Collateral'], ['#/audit', 'Audit log'], ['#/activity', 'Activity']];
  const cur = location.hash || '#/providers';
  mount(document.getElementById('nav'), session.who ? links.map(([href, label]) =>
    h('a', { href, 'aria-current': cur.startsWith(href) ? 'page' : null }, label)) : null);
  mount(document.getElementById('who'), session.who ? [
    h('span', { class: 'role', id: 'role' }, `${session.who.role}`),
    h('span', { class: 'id' }, ` ${session.who.id}`),
    h('button', { type: 'button', class: 'link', onclick: signOut }, 'Sign out'),
  ] : null);
}

function signOut() {
  session.token = ''; session.who = null;
  // One render: the hash change renders, unless the hash does not change.
  if (location.hash === '#/signin') route(); else go('#/signin');
}

function signInPage(main) {
  const token = h('input', { type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, autofocus: true });
  const out = h('div');
  const form = h('form', {
    class: 'card narrow', 'aria-labelledby': 'signin-title', onsubmit: async (ev) => {
      ev.preventDefault();
      session.token = token.value.trim();
      try {
        session.who = await api('GET', '/management/whoami');
        // Back to the page that asked for sign-in, else the providers.
        const dest = location.hash && location.hash !== '#/signin' ? location.hash : '#/providers';
        if (location.hash === dest) route(); else go(dest);
      } catch (e) {
        session.token = '';
        mount(out, errorBox(e));
      }
    },
  },
  h('h1', { id: 'signin-title' }, 'Sign in'),
  h('p', {}, 'The token stays in this tab (sessionStorage) and is sent as a bearer header only.'),
  field('Admin token', token, 'The owner token avow serve printed, or a token from avow admin-token create.'),
  h('button', { type: 'submit' }, 'Sign in'),
  config.oidc ? [h('p', {}, 'or'), h('button', { type: 'button', onclick: () => oidcStart(config.oidc).catch((e) => mount(out, errorBox(e))) },
    `Sign in with ${new URL(config.oidc.issuer).host}`)] : null,
  out);
  mount(main, form);
}

async function providersPage(main) {
  const list = h('div', {}, h('p', {}, 'Loading…'));
  mount(main, h('h1', {}, 'Attestation providers'), list, can('owner') ? createProviderForm() : null);
  const { providers } = await api('GET', '/management/providers');
  let last = {};
  try {
    const { entries } = await api('GET', '/management/audit?kind=attestation&limit=1000');
    for (const e of entries) if (e.provider && !last[e.provider]) last[e.provider] = e;
  } catch { /* the audit log is optional here */ }
  let defaults = {};
  try {
    const { templates } = await api('GET', '/ui/templates.json');
    for (const t of templates) if (t.name === `${t.type} default`) defaults[t.type] = t.text;
  } catch { /* no default marks */ }
  const rows = await Promise.all(providers.map(async (p) => {
    const pol = {};
    for (const t of TYPES) {
      try {
        const { token } = await api('GET', withVersion(dataPlane(p.name, `policies/${t}`)));
        const text = policyFromDocument(jwtPayload(token)['x-ms-policy']);
        pol[t] = text === defaults[t] ? 'default' : (await policyHash(text)).slice(0, 10) + '…';
      } catch { pol[t] = '?'; }
    }
    const l = last[p.name];
    return h('tr', {},
      h('th', { scope: 'row' }, h('a', { href: `#/providers/${encodeURIComponent(p.name)}` }, p.name)),
      h('td', {}, p.trustModel), h('td', {}, h('code', {}, p.attestUri)),
      h('td', {}, h('ul', { class: 'plain' }, TYPES.map((t) => h('li', {}, `${t}: `, pol[t] === 'default' ? pol[t] : h('code', {}, pol[t]))))),
      h('td', {}, l ? [fmtTime(l.time), ' ', h('span', { class: l.outcome === 'success' ? 'ok' : 'bad' }, l.outcome)] : '—'),
      h('td', {}, can('owner') ? deleteControl(p.name) : null));
  }));
  mount(list, providers.length === 0 ? h('p', {}, 'No provider yet.') : h('table', { class: 'grid' },
    h('caption', {}, `${providers.length} provider${providers.length === 1 ? '' : 's'}`),
    h('thead', {}, h('tr', {}, ['Name', 'Trust model', 'Attest URI', 'Policy per type', 'Last attestation', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows)));
}

function deleteControl(name) {
  const box = h('span');
  const start = h('button', { type: 'button', class: 'danger', 'aria-label': `Delete provider ${name}`, onclick: () => {
    const input = h('input', { type: 'text', autocomplete: 'off', 'aria-label': `Type ${name} to confirm deletion` });
    mount(box, input, h('button', { type: 'button', class: 'danger', onclick: async () => {
      if (input.value !== name) { status(`Type ${name} to confirm`, 'warn'); return; }
      try { await api('DELETE', `/management/providers/${encodeURIComponent(name)}`); status(`Deleted ${name}`); route(); } catch (e) { mount(box, errorBox(e)); }
    } }, 'Confirm delete'), h('button', { type: 'button', onclick: () => mount(box, start) }, 'Cancel'));
    input.focus();
  } }, 'Delete…');
  return mount(box, start);
}

function createProviderForm() {
  const name = h('input', { type: 'text', required: true, pattern: '[a-z][a-z0-9\\-]{2,23}', autocomplete: 'off' });
  const model = h('select', {}, h('option', { value: 'AAD' }, 'AAD (any policy administrator may set policies)'), h('option', { value: 'Isolated' }, 'Isolated (signed policies only)'));
  const alg = h('select', {}, h('option', { value: 'RS256' }, 'RS256 (MAA default)'), h('option', { value: 'ES256' }, 'ES256'));
  const pems = h('textarea', { rows: 4, spellcheck: 'false', placeholder: '-----BEGIN CERTIFICATE-----' });
  const out = h('div');
  return h('form', { class: 'card', 'aria-labelledby': 'create-title', onsubmit: async (ev) => {
    ev.preventDefault();
    const certs = pems.value.trim() ? pems.value.split(/(?=-----BEGIN CERTIFICATE-----)/).map((s) => s.trim()).filter(Boolean) : [];
    try {
      const p = await api('POST', '/management/providers', { name: name.value.trim(), trustModel: model.value, policySigningCertificates: certs, settings: { tokenAlgorithm: alg.value } });
      status(`Created provider ${p.name}`);
      go(`#/providers/${encodeURIComponent(p.name)}`);
    } catch (e) { mount(out, errorBox(e)); }
  } },
  h('h2', { id: 'create-title' }, 'Create a provider'),
  field('Name', name, '3–24 lowercase letters, digits and -, starting with a letter.'),
  field('Trust model', model), field('Token algorithm', alg),
  field('Policy signer certificates (PEM)', pems, 'Required for Isolated: policies must then be JWS signed by one of them.'),
  h('button', { type: 'submit' }, 'Create'), out);
}

export function providerTabs(name, current) {
  const base = `#/providers/${encodeURIComponent(name)}`;
  const tabs = [['', 'Overview'], ['/policies', 'Policies'], ['/playground', 'Playground'], ['/signers', 'Signers'], ['/keys', 'Keys']];
  return [h('p', { class: 'crumbs' }, h('a', { href: '#/providers' }, 'Providers'), ' › ', name),
    h('h1', {}, `${name} — ${tabs.find((t) => t[0] === current)[1]}`),
    h('nav', { class: 'tabs', 'aria-label': 'Provider' }, tabs.map(([sfx, label]) =>
      h('a', { href: base + sfx, 'aria-current': sfx === current ? 'page' : null }, label)))];
}

function copyButton(text, label) {
  return h('button', { type: 'button', 'aria-label': label, onclick: async (ev) => {
    try { await navigator.clipboard.writeText(text); status('Copied'); } catch { status('Copy failed: select the text and copy it', 'warn'); }
    ev.target.focus();
  } }, 'Copy');
}

async function overviewPage(main, name) {
  const p = await api('GET', `/management/providers/${encodeURIComponent(name)}`);
  let keys = [];
  try { ({ keys } = await api('GET', `/management/providers/${encodeURIComponent(name)}/keys`)); } catch { /* shown as none */ }
  const path = dataPlane(name, '');
  const dl = (pairs) => h('dl', { class: 'props' }, pairs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  const hostNamed = config.providerDomain && !p.attestUri.includes('/providers/');
  mount(main, providerTabs(name, ''),
    h('section', { class: 'card', 'aria-labelledby': 'essentials' }, h('h2', { id: 'essentials' }, 'Essentials'),
      dl([
        ['Attest URI', [h('code', { id: 'attest-uri' }, p.attestUri), ' ', copyButton(p.attestUri, 'Copy the attest URI')]],
        ['Trust model', p.trustModel],
        ['Token algorithm', p.settings.tokenAlgorithm || 'RS256'],
        ['Signing key ids', keys.length ? h('ul', { class: 'plain' }, keys.map((k) => h('li', {}, h('code', {}, k.kid), k.active ? ' (active)' : ` (retired ${fmtTime(k.retiredAt)})`))) : '—'],
        ['Accepted TCB statuses', (p.settings.acceptedTcbStatuses || []).join(', ')],
        ['Collateral grace period', p.settings.collateralGracePeriod],
        ['Collateral sources', (p.settings.collateralSources || []).join(', ') || 'the deployment\'s'],
        ['Policy signer certificates', String(p.policySigningCertificates)],
        ['Created', fmtTime(p.createdAt)],
        ['OpenID metadata', h('a', { href: path + '.well-known/openid-configuration' }, path + '.well-known/openid-configuration')],
        ['JSON Web Key Set', h('a', { href: path + 'certs' }, path + 'certs')],
      ])),
    hostNamed ? h('section', { class: 'card hint-card', 'aria-labelledby': 'dns' }, h('h2', { id: 'dns' }, 'DNS and certificate'),
      h('p', {}, `This provider is host-named: clients reach it at ${new URL(p.attestUri).host}. Point that name (or *.${config.providerDomain}) at this server, `,
        `and serve a TLS certificate that covers it (avow serve --tls-cert, or the generated one for *.${config.providerDomain}). `,
        'Always Encrypted drivers use only the URL\'s authority, so the host form is the one to hand on.')) : null,
    h('section', { class: 'card', 'aria-labelledby': 'use' }, h('h2', { id: 'use' }, 'Use it'),
      h('p', {}, 'Give the attest URI to application administrators. Always Encrypted connection string:'),
      h('pre', { class: 'code' }, `Attestation Protocol=AAS; Enclave Attestation Url=${p.attestUri}/attest/SgxEnclave`)));
}

const routes = [
  [/^#\/signin$/, signInPage],
  [/^#\/providers$/, providersPage],
  [/^#\/providers\/([^/]+)$/, overviewPage],
  [/^#\/providers\/([^/]+)\/policies(?:\/([A-Za-z]+))?$/, policiesPage],
  [/^#\/providers\/([^/]+)\/playground(?:\?(.*))?$/, playgroundPage],
  [/^#\/providers\/([^/]+)\/signers$/, signersPage],
  [/^#\/providers\/([^/]+)\/keys$/, keysPage],
  [/^#\/collateral$/, collateralPage],
  [/^#\/audit(?:\?(.*))?$/, auditPage],
  [/^#\/activity$/, activityPage],
];

// route renders the page of the current hash into a new element and puts
// it in <main> only if no later navigation started meanwhile: renders never
// overlap or land out of order.
let seq = 0;
export async function route() {
  const mine = ++seq;
  const main = document.getElementById('main');
  let hash = location.hash || '#/providers';
  if (!session.token && hash !== '#/signin') hash = '#/signin';
  if (session.token && !session.who) {
    try { session.who = await api('GET', '/management/whoami'); } catch { session.token = ''; hash = '#/signin'; }
    if (mine !== seq) return;
  }
  nav();
  status('');
  const box = h('div', { class: 'page' });
  let found = false;
  for (const [re, page] of routes) {
    const m = hash.match(re);
    if (!m) continue;
    found = true;
    try {
      await page(box, ...m.slice(1).map((s) => s === undefined ? s : decodeURIComponent(s)));
    } catch (e) {
      mount(box, h('h1', {}, 'Something went wrong'), errorBox(e));
    }
    break;
  }
  if (!found) mount(box, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/providers' }, 'Providers')));
  if (mine !== seq) return;
  mount(main, box);
  const auto = box.querySelector('[autofocus]');
  if (auto) auto.focus();
  document.title = `${(box.querySelector('h1') || {}).textContent || 'avow'} · avow console`;
  main.dataset.ready = hash;
}

async function start() {
  try { config = await api('GET', '/ui/config.json'); } catch { /* defaults */ }
  if (config.types && config.types.length) TYPES = config.types.map((t) => t.name);
  try { if (await oidcFinish(config.oidc)) session.who = null; } catch (e) { status(`OpenID sign-in failed: ${e.message}`, 'error'); }
  window.addEventListener('hashchange', () => {
    route().then(() => { const m = document.getElementById('main'); if (!m.contains(document.activeElement)) m.focus({ preventScroll: true }); });
  });
  route();
}

export { relTime };
start();
