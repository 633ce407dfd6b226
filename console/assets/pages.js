import { h, mount, field, fmtTime, relTime } from './h.js';
import { api, dataPlane, withVersion, jwtPayload, b64urlDecode, sha256, hex } from './api.js';
import { providerTabs, needs, errorBox, status, route, go } from './app.js';

// Signers: the policy signer certificates of a provider (MAA's GET
// /certificates), added and removed with documents signed by a current signer.
export async function signersPage(main, provider) {
  const { token } = await api('GET', withVersion(dataPlane(provider, 'certificates')));
  const keys = (jwtPayload(token)['x-ms-policy-certificates'] || {}).keys || [];
  const rows = await Promise.all(keys.map(async (k) => {
    const der = b64urlDecode((k.x5c[0] || '').replace(/\+/g, '-').replace(/\//g, '_'));
    return h('tr', {}, h('td', {}, k.kty), h('td', {}, h('code', {}, hex(await sha256(der)))), h('td', {}, `${der.length} bytes`));
  }));
  const jws = h('textarea', { rows: 3, spellcheck: 'false', placeholder: 'eyJ… (avow signer add --sign-with …)' });
  const out = h('div');
  const send = (op) => async () => {
    try { await api('POST', withVersion(dataPlane(provider, `certificates:${op}`)), jws.value.trim()); await route(); status(`Signer ${op === 'add' ? 'added' : 'removed'}`); } catch (e) { mount(out, errorBox(e)); }
  };
  mount(main, providerTabs(provider, '/signers'),
    h('section', { class: 'card', 'aria-labelledby': 'signers-title' }, h('h2', { id: 'signers-title' }, 'Policy signer certificates'),
      keys.length ? h('table', { class: 'grid' }, h('caption', {}, `${keys.length} certificate(s)`),
        h('thead', {}, h('tr', {}, ['Key type', 'SHA-256 thumbprint', 'Size'].map((c) => h('th', { scope: 'col' }, c)))), h('tbody', {}, rows))
        : h('p', {}, 'None: this provider takes unsigned policies (AAD trust model).')),
    h('section', { class: 'card', 'aria-labelledby': 'signer-change' }, h('h2', { id: 'signer-change' }, 'Add or remove a signer'),
      h('p', {}, 'Paste a JWS signed by one of the current signers whose payload names the certificate ({"policyCertificate": {"kty", "x5c"}}).'),
      field('Signed document', jws),
      h('div', { class: 'row' }, h('button', { type: 'button', ...needs('policy-admin'), onclick: send('add') }, 'Add signer'),
        h('button', { type: 'button', class: 'danger', ...needs('policy-admin'), onclick: send('remove') }, 'Remove signer')), out));
}

export async function keysPage(main, provider) {
  const { keys } = await api('GET', `/management/providers/${encodeURIComponent(provider)}/keys`);
  const out = h('div');
  const confirmBox = h('span');
  const rotate = h('button', { type: 'button', ...needs('owner'), onclick: () => mount(confirmBox,
    h('span', {}, 'New tokens will be signed by a new key; the old one stays in /certs until its last token expires. '),
    h('button', { type: 'button', class: 'danger', onclick: async () => {
      try { const k = await api('POST', `/management/providers/${encodeURIComponent(provider)}/keys:rotate`); await route(); status(`Rotated: new key ${k.kid}`); } catch (e) { mount(out, errorBox(e)); }
    } }, 'Confirm rotation'), h('button', { type: 'button', onclick: () => mount(confirmBox) }, 'Cancel')) }, 'Rotate signing key…');
  mount(main, providerTabs(provider, '/keys'),
    h('section', { class: 'card', 'aria-labelledby': 'keys-title' }, h('h2', { id: 'keys-title' }, 'Token signing keys'),
      h('table', { class: 'grid' }, h('caption', {}, `${keys.length} key(s)`),
        h('thead', {}, h('tr', {}, ['Key id', 'State', 'Created', 'Retired'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, keys.map((k) => h('tr', {}, h('td', {}, h('code', {}, k.kid)), h('td', {}, k.active ? 'active' : 'retired'), h('td', {}, fmtTime(k.createdAt)), h('td', {}, fmtTime(k.retiredAt)))))),
      h('div', { class: 'row' }, rotate, confirmBox), out));
}

export async function collateralPage(main) {
  const { collateral } = await api('GET', '/management/collateral');
  const latest = {};
  for (const c of collateral) { const k = `${c.tee}/${c.fmspc}/${c.pceId}`; if (!latest[k] || latest[k].issueDate < c.issueDate) latest[k] = c; }
  const fams = await Promise.all(Object.keys(latest).map(async (k) => { try { return await api('GET', `/management/collateral/${k}`); } catch { return { ...latest[k], history: [] }; } }));
  const now = Date.now();
  const out = h('div');
  const refresh = h('button', { type: 'button', ...needs('owner'), onclick: async () => {
    try { const r = await api('POST', '/management/collateral:refresh', {}); await route(); status(r.results.map((x) => `${x.key}: ${x.outcome}`).join('; ') || 'nothing to refresh'); } catch (e) { mount(out, errorBox(e)); }
  } }, 'Refresh now');
  mount(main, h('h1', {}, 'Collateral'),
    h('section', { class: 'card', 'aria-labelledby': 'tl-title' }, h('h2', { id: 'tl-title' }, 'Expiry timeline'), timeline(fams, now)),
    h('section', { class: 'card', 'aria-labelledby': 'fam-title' }, h('h2', { id: 'fam-title' }, 'Platform families'),
      h('table', { class: 'grid' }, h('caption', {}, `${fams.length} platform famil${fams.length === 1 ? 'y' : 'ies'}`),
        h('thead', {}, h('tr', {}, ['TEE', 'FMSPC', 'PCE id', 'Issued', 'Next update', 'Source', 'Refresh'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, fams.map((f) => h('tr', {}, h('td', {}, f.tee), h('td', {}, h('code', {}, f.fmspc)), h('td', {}, h('code', {}, f.pceId)), h('td', {}, fmtTime(f.issueDate)),
          h('td', { class: f.expired ? 'bad' : '' }, f.nextUpdate ? `${fmtTime(f.nextUpdate)} (${relTime(f.nextUpdate, now)})` : '—'), h('td', {}, f.source),
          h('td', {}, f.refresh ? `${f.refresh.lastOutcome} ${relTime(f.refresh.lastAttempt, now)}${f.refresh.consecutiveFailures ? `, ${f.refresh.consecutiveFailures} failures` : ''}` : 'not fetched by this node'))))),
      h('div', { class: 'row' }, refresh), out));
}

// timeline draws each family's validity (issue date to next update) on one
// time axis with a line at now.
function timeline(fams, now) {
  if (!fams.length) return h('p', {}, 'No collateral stored.');
  const W = 720, row = 28, left = 190, H = fams.length * row + 40;
  const ts = fams.flatMap((f) => [new Date(f.issueDate).getTime(), new Date(f.nextUpdate || f.issueDate).getTime()]).concat([now]);
  const t0 = Math.min(...ts), t1 = Math.max(...ts) + 1;
  const x = (t) => left + (W - left - 10) * (t - t0) / (t1 - t0);
  const svg = h('svg:svg', { viewBox: `0 0 ${W} ${H}`, width: '100%', role: 'img', 'aria-label': `Collateral validity of ${fams.length} platform families; the line marks now` },
    fams.map((f, i) => {
      const a = new Date(f.issueDate).getTime(), b = new Date(f.nextUpdate || f.issueDate).getTime();
      const y = 10 + i * row;
      return h('svg:g', {}, h('svg:text', { x: 4, y: y + 15, class: 'axis' }, `${f.tee} ${f.fmspc}`),
        h('svg:rect', { x: x(a), y, width: Math.max(2, x(b) - x(a)), height: 18, class: f.expired ? 'bar-bad' : 'bar-ok' }),
        h('svg:title', {}, `${f.tee}/${f.fmspc}: ${fmtTime(f.issueDate)} → ${fmtTime(f.nextUpdate)}`));
    }),
    h('svg:line', { x1: x(now), x2: x(now), y1: 0, y2: H - 25, class: 'now' }),
    h('svg:text', { x: x(now) + 3, y: H - 28, class: 'axis' }, 'now'),
    h('svg:text', { x: left, y: H - 5, class: 'axis' }, fmtTime(t0)),
    h('svg:text', { x: W - 10, y: H - 5, class: 'axis', 'text-anchor': 'end' }, fmtTime(t1)));
  return h('figure', {}, svg);
}

export async function auditPage(main, query) {
  const q = new URLSearchParams(query || '');
  const { providers } = await api('GET', '/management/providers');
  const prov = h('select', {}, h('option', { value: '' }, 'All'), providers.map((p) => h('option', { value: p.name }, p.name)));
  const kind = h('select', {}, h('option', { value: '' }, 'All'), h('option', { value: 'attestation' }, 'attestation'), h('option', { value: 'management' }, 'management'));
  const outcome = h('select', {}, h('option', { value: '' }, 'All'), h('option', { value: 'success' }, 'success'), h('option', { value: 'refused' }, 'refused or failed'));
  const since = h('select', {}, ['1h', '24h', '7d', '30d'].map((v) => h('option', { value: v }, `last ${v}`)));
  prov.value = q.get('provider') || ''; kind.value = q.get('kind') || ''; outcome.value = q.get('outcome') || ''; since.value = q.get('since') || '24h';
  const op = h('input', { type: 'text', value: q.get('operation') || '', placeholder: 'attest. or policy.' });
  const list = h('div');
  const detail = h('div', { id: 'audit-detail', 'aria-live': 'polite' });
  const load = async () => {
    const p = new URLSearchParams({ limit: '500', since: since.value });
    if (prov.value) p.set('provider', prov.value);
    if (kind.value) p.set('kind', kind.value);
    if (op.value.trim()) p.set('operation', op.value.trim());
    const { entries } = await api('GET', `/management/audit?${p}`);
    const shown = entries.filter((e) => !outcome.value || (outcome.value === 'success' ? e.outcome === 'success' : e.outcome !== 'success'));
    mount(list, h('table', { class: 'grid', id: 'audit-table' }, h('caption', {}, `${shown.length} entr${shown.length === 1 ? 'y' : 'ies'} (newest first)`),
      h('thead', {}, h('tr', {}, ['Time', 'Kind', 'Provider', 'Operation', 'Outcome', 'Actor', 'Request id', ''].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, shown.map((e) => h('tr', {}, h('td', {}, fmtTime(e.time)), h('td', {}, e.kind), h('td', {}, e.provider || ''), h('td', {}, e.operation,
        e.details && e.details.draft ? h('span', { class: 'tag' }, ' draft') : null),
      h('td', { class: e.outcome === 'success' ? 'ok' : 'bad' }, e.outcome), h('td', {}, e.actor || ''), h('td', {}, e.requestId ? h('code', {}, e.requestId) : ''),
      h('td', {}, h('button', { type: 'button', 'aria-label': `Details of entry ${e.id}`, onclick: () => showDetail(detail, e) }, 'Details')))))));
  };
  const form = h('form', { class: 'card filters', 'aria-label': 'Audit filters', onsubmit: (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams({ provider: prov.value, kind: kind.value, outcome: outcome.value, since: since.value, operation: op.value.trim() });
    history.replaceState(null, '', `#/audit?${p}`);
    load().catch((e) => mount(list, errorBox(e)));
  } }, field('Provider', prov), field('Kind', kind), field('Outcome', outcome), field('Time', since), field('Operation prefix', op), h('button', { type: 'submit' }, 'Filter'));
  mount(main, h('h1', {}, 'Audit log'), form, detail, list);
  await load();
}

function showDetail(box, e) {
  const pairs = [['Id', String(e.id)], ['Time', fmtTime(e.time)], ['Kind', e.kind], ['Provider', e.provider || ''], ['Operation', e.operation], ['Outcome', e.outcome],
    ['Actor', e.actor || ''], ['Request id', e.requestId || '']].concat(Object.entries(e.details || {}).sort());
  const refusedAttestation = e.kind === 'attestation' && e.outcome !== 'success' && e.provider && e.operation.startsWith('attest.') && e.operation !== 'attest.refused';
  mount(box, h('section', { class: 'card', 'aria-labelledby': 'detail-title' }, h('h2', { id: 'detail-title', tabindex: '-1' }, `Entry ${e.id}`),
    h('dl', { class: 'props' }, pairs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, k === 'Request id' ? h('code', {}, v) : v)])),
    e.requestId ? h('p', { class: 'hint' }, `The server's log lines of this request carry request_id=${e.requestId}.`) : null,
    refusedAttestation ? h('button', { type: 'button', onclick: () => go(`#/providers/${encodeURIComponent(e.provider)}/playground?${new URLSearchParams({ type: (e.details || {}).type || e.operation.slice(7), from: String(e.id), message: (e.details || {}).message || e.outcome })}`) },
      'Open as a playground case') : null));
  box.querySelector('h2').focus();
}

// activityPage charts the last hour's attestations per minute by outcome
// and the top refusal reasons, from the audit log (attest.* records and the
// per-minute counts of attestations refused before a policy).
export async function activityPage(main) {
  const LIMIT = 10000;
  const { entries } = await api('GET', `/management/audit?kind=attestation&since=1h&limit=${LIMIT}`);
  const now = Date.now();
  const start = Math.floor(now / 60000) * 60000 - 59 * 60000;
  const bins = Array.from({ length: 60 }, () => ({ ok: 0, bad: 0 }));
  const reasons = {};
  for (const e of entries) {
    const n = e.operation === 'attest.refused' ? Number((e.details || {}).count || 1) : 1;
    const i = Math.floor((new Date(e.time).getTime() - start) / 60000);
    if (i < 0 || i >= 60) continue;
    if (e.outcome === 'success') bins[i].ok += n;
    else {
      bins[i].bad += n;
      const msg = (e.details || {}).message;
      const key = e.outcome + (msg ? `: ${msg}` : '');
      reasons[key] = (reasons[key] || 0) + n;
    }
  }
  const total = bins.reduce((a, b) => a + b.ok + b.bad, 0), refused = bins.reduce((a, b) => a + b.bad, 0);
  const W = 720, H = 220, L = 40, B = 24, max = Math.max(1, ...bins.map((b) => b.ok + b.bad));
  const bw = (W - L - 10) / 60;
  const y = (v) => (H - B) - (H - B - 10) * v / max;
  const svg = h('svg:svg', { viewBox: `0 0 ${W} ${H}`, width: '100%', role: 'img', 'aria-label': `Attestations per minute over the last hour: ${total} in all, ${refused} refused` },
    [0, max].map((v) => h('svg:text', { x: L - 4, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, String(v))),
    h('svg:line', { x1: L, x2: W - 10, y1: H - B, y2: H - B, class: 'axis-line' }),
    bins.map((b, i) => h('svg:g', {},
      b.ok ? h('svg:rect', { x: L + i * bw + 1, y: y(b.ok), width: bw - 2, height: (H - B) - y(b.ok), class: 'bar-ok' }) : null,
      b.bad ? h('svg:rect', { x: L + i * bw + 1, y: y(b.ok + b.bad), width: bw - 2, height: y(b.ok) - y(b.ok + b.bad), class: 'bar-bad' }) : null,
      b.ok + b.bad ? h('svg:title', {}, `${fmtTime(start + i * 60000).slice(11, 16)}: ${b.ok} permitted, ${b.bad} refused`) : null)),
    h('svg:text', { x: L, y: H - 6, class: 'axis' }, fmtTime(start).slice(11, 16)),
    h('svg:text', { x: W - 10, y: H - 6, 'text-anchor': 'end', class: 'axis' }, 'now'));
  const top = Object.entries(reasons).sort((a, b) => b[1] - a[1]).slice(0, 10);
  mount(main, h('h1', {}, 'Activity'),
    h('section', { class: 'card', 'aria-labelledby': 'rate-title' }, h('h2', { id: 'rate-title' }, 'Attestations per minute, last hour'),
      h('p', {}, `${total} attestations, ${refused} refused. `, h('span', { class: 'legend ok' }, '■ permitted'), ' ', h('span', { class: 'legend bad' }, '■ refused')),
      entries.length === LIMIT ? h('p', { class: 'warn' }, `More than ${LIMIT} audit records in the hour: the chart shows the latest ${LIMIT}; /metrics has the full counts.`) : null,
      h('figure', {}, svg)),
    h('section', { class: 'card', 'aria-labelledby': 'reasons-title' }, h('h2', { id: 'reasons-title' }, 'Top refusal reasons'),
      top.length ? h('table', { class: 'grid' }, h('caption', {}, 'Refusals in the last hour by code and message'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Reason'), h('th', { scope: 'col' }, 'Count'))),
        h('tbody', {}, top.map(([k, n]) => h('tr', {}, h('td', {}, k), h('td', {}, String(n)))))) : h('p', {}, 'No refusals in the last hour.')),
    h('p', { class: 'hint' }, 'From the audit log: attestations that reached a policy are recorded one by one; those refused earlier are counted per minute (attest.refused).'));
}
