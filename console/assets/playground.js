import { h, mount, field } from './h.js';
import { api } from './api.js';
import { providerTabs, can, errorBox, config, TYPES } from './app.js';
import { getDraft } from './policies.js';

const SQL_MRSIGNER = 'e31c9e505f37a58de09335075fc8591254313eb20bb1a27e5443cc450b6e33e5';

export async function playgroundPage(main, provider, query) {
  const q = new URLSearchParams(query || '');
  const type = h('select', {}, TYPES.map((t) => h('option', { value: t }, t)));
  type.value = q.get('type') || 'SgxEnclave';
  const simOK = config.dev && can('policy-admin');
  const src = h('select', {},
    h('option', { value: 'sim', disabled: !simOK }, `Simulated enclave${config.dev ? (simOK ? '' : ' (needs policy-admin)') : ' (avow serve --dev only)'}`),
    h('option', { value: 'upload' }, 'Uploaded quote or request body'));
  src.value = simOK ? 'sim' : 'upload';
  const mrsigner = h('input', { type: 'text', value: SQL_MRSIGNER, spellcheck: 'false', size: 66 });
  const mrenclave = h('input', { type: 'text', value: '', spellcheck: 'false', size: 66, placeholder: 'default: the simulator\'s' });
  const prodId = h('input', { type: 'number', min: 0, max: 65535, value: '4639' });
  const svn = h('input', { type: 'number', min: 0, max: 65535, value: '2' });
  const debug = h('input', { type: 'checkbox' });
  const simBox = h('fieldset', { class: 'sim' }, h('legend', {}, 'Simulated enclave'),
    field('MRSIGNER (hex)', mrsigner), field('MRENCLAVE (hex)', mrenclave), field('Product id', prodId), field('SVN', svn),
    h('div', { class: 'field check' }, debug, h('label', { for: debug.id || (debug.id = 'sim-debug') }, 'Debuggable enclave')));
  const upload = h('textarea', { rows: 4, spellcheck: 'false', placeholder: '{"quote": "…", "runtimeData": {"data": "…", "dataType": "Binary"}} or a base64url quote' });
  const file = h('input', { type: 'file' });
  file.addEventListener('change', async () => {
    const f = file.files[0]; if (!f) return;
    const b = new Uint8Array(await f.arrayBuffer());
    const txt = new TextDecoder().decode(b);
    upload.value = /^\s*[{"]/.test(txt) || /^[A-Za-z0-9_\-+/=\s]+$/.test(txt) ? txt : (await import('./api.js')).b64urlEncode(b);
  });
  const upBox = h('fieldset', { class: 'upload' }, h('legend', {}, 'Uploaded evidence'), field('Quote or request body', upload), field('Or a file (binary quote or JSON body)', file));
  const pol = h('select', {}, h('option', { value: 'active' }, 'The active policy'), h('option', { value: 'draft' }, 'The editor\'s draft'), h('option', { value: 'text' }, 'This text'));
  pol.value = q.get('policy') === 'draft' ? 'draft' : 'active';
  const polText = h('textarea', { rows: 6, spellcheck: 'false' });
  const out = h('div', { id: 'pg-result', 'aria-live': 'polite' });
  const show = () => { simBox.hidden = src.value !== 'sim'; upBox.hidden = src.value !== 'upload'; polText.parentElement.hidden = pol.value !== 'text'; };
  src.addEventListener('change', show); pol.addEventListener('change', show);
  const fromAudit = q.get('from') ? h('div', { class: 'card hint-card' }, h('p', {}, `From audit record ${q.get('from')}: `, q.get('message') || '',
    ' — the audit log keeps no evidence (see docs/console.md), so supply the quote again: the type is preset.')) : null;

  const run = async (ev) => {
    ev.preventDefault();
    mount(out, h('p', {}, 'Running…'));
    try {
      const body = { type: type.value };
      if (src.value === 'sim') {
        const r = await api('POST', '/management/sim/quote', { tee: type.value === 'TdxVm' ? 'tdx' : 'sgx', mrsigner: mrsigner.value.trim(), mrenclave: mrenclave.value.trim(),
          productId: Number(prodId.value), svn: Number(svn.value), debug: debug.checked });
        body.quote = r.quote;
      } else {
        const t = upload.value.trim();
        if (t.startsWith('{')) {
          const j = JSON.parse(t);
          body.quote = j.quote || j.Quote; body.report = j.report;
          if (j.runtimeData) body.runtimeData = j.runtimeData;
          if (j.initTimeData) body.initTimeData = j.initTimeData;
          if (j.draftPolicyForAttestation && pol.value === 'active') body.policy = j.draftPolicyForAttestation;
        } else if (type.value === 'OpenEnclave') body.report = t; else body.quote = t;
      }
      if (pol.value === 'draft') {
        const d = getDraft(provider, type.value);
        if (d == null) throw new Error(`no draft for ${type.value}: edit one on the Policies page`);
        body.policy = d;
      } else if (pol.value === 'text') body.policy = polText.value;
      renderResult(out, await api('POST', `/management/providers/${encodeURIComponent(provider)}/playground`, body));
    } catch (e) { mount(out, errorBox(e)); }
  };
  mount(main, providerTabs(provider, '/playground'),
    h('p', {}, 'Runs evidence through the real pipeline with a draft policy (MAA\'s draftPolicyForAttestation): nothing is stored or signed; the run is one draft attestation in the audit log.'),
    fromAudit,
    h('form', { class: 'card', 'aria-label': 'Playground case', onsubmit: run },
      field('Attestation type', type), field('Evidence', src), simBox, upBox,
      field('Policy', pol), field('Policy text', polText),
      h('button', { type: 'submit', id: 'pg-run' }, 'Run')),
    out);
  show();
}

function claimValue(v) { return typeof v === 'string' ? v : JSON.stringify(v); }

function renderResult(out, r) {
  const verdict = r.permitted
    ? h('p', { class: 'verdict ok', id: 'pg-verdict' }, 'Permitted')
    : h('p', { class: 'verdict bad', id: 'pg-verdict' }, `Refused: ${r.code}`, h('br'), r.message);
  const trace = r.trace.length ? h('ol', { class: 'trace' }, r.trace.map((rule) => h('li', { class: rule.evaluated ? (rule.fired ? 'matched' : 'unmatched') : 'skipped' },
    h('div', {}, h('strong', {}, `${rule.section} rule ${rule.index}`), ` (line ${rule.line}) `, rule.evaluated ? (rule.fired ? '✓ fired' : '✗ did not fire') : 'not evaluated',
      rule.note ? ` — ${rule.note}` : '', rule.action ? [' → ', h('code', {}, rule.action)] : ''),
    h('code', { class: 'rule-text' }, rule.text),
    rule.conditions && rule.conditions.length ? h('ul', {}, rule.conditions.map((c) => h('li', { class: c.satisfied ? 'matched' : 'unmatched' },
      !c.evaluated ? '· ' : c.satisfied ? '✓ ' : '✗ ', h('code', {}, c.text), ` (line ${c.line}, column ${c.column})`,
      c.reason ? ` — ${c.reason}` : '',
      c.matched && c.matched.length ? h('ul', { class: 'claims', 'aria-label': 'matched claims' }, c.matched.map((m) => h('li', {}, h('code', {}, `${m.type} = ${claimValue(m.value)}`))), c.more_matched ? h('li', {}, `and ${c.more_matched} more`) : null) : null))) : null,
    rule.added && rule.added.length ? h('div', {}, 'added: ', rule.added.map((a) => h('code', {}, `${a.type} = ${claimValue(a.value)} `))) : null))) : h('p', {}, r.stage === 'evidence' ? 'The evidence was refused before the policy: no trace.' : 'No trace.');
  const table = (caption, rows) => h('table', { class: 'grid claims-table' }, h('caption', {}, caption),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Claim type'), h('th', { scope: 'col' }, 'Value'))),
    h('tbody', {}, rows.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, h('code', {}, claimValue(v)))))));
  mount(out, h('section', { class: 'card', 'aria-labelledby': 'pg-out' }, h('h2', { id: 'pg-out' }, 'Result'), verdict,
    r.reason ? h('p', {}, 'Reason: ', r.reason) : null,
    r.note ? h('p', { class: 'warn' }, r.note) : null,
    h('p', {}, 'Policy hash ', h('code', {}, r.policyHash)),
    h('h3', {}, 'Trace'), trace,
    r.incomingClaims.length ? table('Incoming claims', r.incomingClaims.map((c) => [c.type, c.value])) : null,
    r.issuedClaims ? table('Issued claims (x-ms-policy)', Object.entries(r.issuedClaims)) : null,
    r.tokenClaims ? table('Token claims (unsigned draft token)', Object.entries(r.tokenClaims).sort()) : null));
}
