import { h, mount, field, uid } from './h.js';
import { api, dataPlane, withVersion, jwtPayload, jwtHeader, policyFromDocument, unsignedPolicyDocument, UNSIGNED_RESET, b64urlDecode, sha256, hex } from './api.js';
import { tokenize, diffLines } from './policylang.js';
import { providerTabs, can, needs, errorBox, status, go, route, TYPES } from './app.js';

const draftKey = (p, t) => `avow.draft.${p}.${t}`;
export const getDraft = (p, t) => sessionStorage.getItem(draftKey(p, t));

// The active policy of a type: text, hashes and signer.
export async function activePolicy(provider, type) {
  const { token } = await api('GET', withVersion(dataPlane(provider, `policies/${type}`)));
  const doc = jwtPayload(token)['x-ms-policy'];
  const text = policyFromDocument(doc);
  let signer = null;
  const hdr = jwtHeader(doc);
  if (hdr.x5c && hdr.x5c.length) signer = 'SHA-256 ' + hex(await sha256(b64urlDecode(hdr.x5c[0].replace(/\+/g, '-').replace(/\//g, '_'))));
  const check = await api('POST', '/management/policy:check', { policy: text, type });
  return { doc, text, signer, hash: check.hash, check };
}

export async function policiesPage(main, provider, type) {
  type = type || 'SgxEnclave';
  const p = await api('GET', `/management/providers/${encodeURIComponent(provider)}`);
  const active = await activePolicy(provider, type);
  const typeNav = h('nav', { class: 'tabs small', 'aria-label': 'Attestation type' }, TYPES.map((t) =>
    h('a', { href: `#/providers/${encodeURIComponent(provider)}/policies/${t}`, 'aria-current': t === type ? 'page' : null }, t)));
  const { templates } = await api('GET', '/ui/templates.json');
  const editor = policyEditor(getDraft(provider, type) ?? active.text, (text) => sessionStorage.setItem(draftKey(provider, type), text), active.text);
  const out = h('div', { class: 'actions-out' });
  const isolated = p.trustModel === 'Isolated';
  const jws = h('textarea', { rows: 3, spellcheck: 'false', placeholder: 'eyJ…' });
  const put = async (body, what) => {
    try {
      const { token } = await api('PUT', withVersion(dataPlane(provider, `policies/${type}`)), body);
      const c = jwtPayload(token);
      sessionStorage.removeItem(draftKey(provider, type));
      await route();
      status(`Policy ${c['x-ms-policy-result'] || 'updated'} (${what})`);
    } catch (e) { mount(out, errorBox(e)); }
  };
  const tmplSel = h('select', {}, h('option', { value: '' }, 'Choose a template…'), templates.map((t, i) => h('option', { value: String(i) }, `${t.name} (${t.type})`)));
  mount(main, providerTabs(provider, '/policies'), typeNav,
    h('section', { class: 'card', 'aria-labelledby': 'active-title' }, h('h2', { id: 'active-title' }, `Active ${type} policy`),
      h('dl', { class: 'props' },
        h('dt', {}, 'x-ms-policy-hash'), h('dd', {}, h('code', { id: 'active-hash' }, active.hash || '—')),
        h('dt', {}, 'Signer'), h('dd', {}, active.signer || 'unsigned'),
        h('dt', {}, 'Rules'), h('dd', {}, active.check.rules ? `${active.check.rules.authorization} authorization, ${active.check.rules.issuance} issuance` : '—')),
      h('details', {}, h('summary', {}, 'Show the active policy'), h('pre', { class: 'code' }, active.text))),
    h('section', { class: 'card', 'aria-labelledby': 'editor-title' }, h('h2', { id: 'editor-title' }, 'Editor'),
      h('div', { class: 'row' }, field('Start from a template', tmplSel),
        h('button', { type: 'button', onclick: () => { const t = templates[Number(tmplSel.value)]; if (t) editor.set(t.text); } }, 'Load template'),
        h('button', { type: 'button', onclick: () => editor.set(active.text) }, 'Revert to active')),
      editor.el,
      h('div', { class: 'row' },
        h('button', { type: 'button', id: 'set-policy', ...needs('policy-admin'), disabled: !can('policy-admin') || isolated,
          title: isolated ? 'Isolated providers take signed policies only: upload a signed JWS below' : undefined,
          onclick: () => put(unsignedPolicyDocument(editor.value()), 'unsigned') }, 'Set policy'),
        h('button', { type: 'button', onclick: () => go(`#/providers/${encodeURIComponent(provider)}/playground?type=${type}&policy=draft`) }, 'Try in playground'),
        h('button', { type: 'button', class: 'danger', ...needs('policy-admin'), disabled: !can('policy-admin') || isolated, onclick: async () => {
          try { await api('POST', withVersion(dataPlane(provider, `policies/${type}:reset`)), UNSIGNED_RESET); sessionStorage.removeItem(draftKey(provider, type)); await route(); status('Policy reset to the default'); } catch (e) { mount(out, errorBox(e)); }
        } }, 'Reset to default')),
      out),
    h('section', { class: 'card', 'aria-labelledby': 'signed-title' }, h('h2', { id: 'signed-title' }, 'Upload a signed policy or reset document'),
      h('p', {}, isolated ? 'This provider is Isolated: policies and resets must be JWS signed by one of its policy signer certificates (avow policy sign).' : 'Optional for AAD providers.'),
      field('Signed JWS', jws),
      h('div', { class: 'row' },
        h('button', { type: 'button', ...needs('policy-admin'), onclick: () => put(jws.value.trim(), 'signed') }, 'Upload as policy'),
        h('button', { type: 'button', ...needs('policy-admin'), onclick: async () => {
          try { await api('POST', withVersion(dataPlane(provider, `policies/${type}:reset`)), jws.value.trim()); await route(); status('Policy reset'); } catch (e) { mount(out, errorBox(e)); }
        } }, 'Upload as reset'))));
  editor.check();
}

// policyEditor is a textarea under a highlighted <pre> with a live check,
// the canonical form and a diff against the active policy.
export function policyEditor(initial, onChange, activeText) {
  const id = uid('policy');
  const ta = h('textarea', { id, class: 'editor-input', spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off', wrap: 'off', rows: 14, 'aria-describedby': `${id}-problems` });
  ta.value = initial;
  const pre = h('pre', { class: 'editor-highlight', 'aria-hidden': 'true' });
  const problems = h('div', { id: `${id}-problems`, class: 'problems', 'aria-live': 'polite' });
  const canonical = h('pre', { class: 'code' });
  const diff = h('pre', { class: 'code diff' });
  const summary = h('div', { class: 'check-summary' });
  let errLine = 0, timer = 0, seq = 0;
  const paint = () => {
    const toks = tokenize(ta.value);
    const lines = [[]];
    for (const t of toks) {
      const parts = t.text.split('\n');
      parts.forEach((part, i) => { if (i > 0) lines.push([]); if (part) lines[lines.length - 1].push(t.cls ? h('span', { class: t.cls }, part) : part); });
    }
    mount(pre, lines.map((l, i) => h('span', { class: i + 1 === errLine ? 'line err-line' : 'line' }, l, '\n')));
    pre.scrollTop = ta.scrollTop; pre.scrollLeft = ta.scrollLeft;
  };
  const check = async () => {
    const mine = ++seq;
    let r;
    try { r = await api('POST', '/management/policy:check', { policy: ta.value }); } catch (e) { mount(problems, errorBox(e)); return; }
    if (mine !== seq) return;
    errLine = r.errors.length && r.errors[0].line ? r.errors[0].line : 0;
    paint();
    const item = (x, kind) => h('li', { class: kind }, x.line ? h('button', { type: 'button', class: 'link', onclick: () => goTo(x.line, x.column) }, `line ${x.line}, column ${x.column}`) : null,
      x.line ? ': ' : '', x.message, ' ', h('code', {}, x.code));
    mount(problems, r.errors.length || r.warnings.length ? h('ul', {}, r.errors.map((x) => item(x, 'error-item')), r.warnings.map((x) => item(x, 'warn-item'))) : null);
    mount(summary, r.valid ? h('span', { class: 'ok' }, `Valid · version ${r.version} · ${r.rules.authorization} authorization, ${r.rules.issuance} issuance rules · hash `, h('code', {}, r.hash))
      : h('span', { class: 'bad' }, 'Invalid'));
    mount(canonical, r.valid ? r.canonical : '');
    mount(diff, diffLines(activeText ?? '', ta.value).map((d) => h('span', { class: d.op === '+' ? 'add' : d.op === '-' ? 'del' : 'same' }, `${d.op} ${d.text}\n`)));
  };
  const goTo = (line, col) => {
    const lines = ta.value.split('\n');
    let off = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) off += lines[i].length + 1;
    off += Math.max(0, col - 1);
    ta.focus(); ta.setSelectionRange(off, off);
  };
  ta.addEventListener('input', () => { paint(); onChange(ta.value); clearTimeout(timer); timer = setTimeout(check, 250); });
  ta.addEventListener('scroll', () => { pre.scrollTop = ta.scrollTop; pre.scrollLeft = ta.scrollLeft; });
  ta.addEventListener('keydown', (ev) => {
    if (ev.key === 'Tab' && !ev.shiftKey && !ev.ctrlKey && ev.altKey) { ev.preventDefault(); ta.setRangeText('    ', ta.selectionStart, ta.selectionEnd, 'end'); ta.dispatchEvent(new Event('input')); }
  });
  paint();
  const el = h('div', { class: 'editor-wrap' },
    h('label', { for: id }, 'Policy text'),
    h('div', { class: 'editor' }, pre, ta),
    summary, problems,
    h('details', {}, h('summary', {}, 'Canonical form'), canonical),
    h('details', { open: true }, h('summary', {}, 'Changes against the active policy'), diff));
  return { el, value: () => ta.value, set: (t) => { ta.value = t; ta.dispatchEvent(new Event('input')); }, check, textarea: ta };
}
