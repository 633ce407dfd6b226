// A small tokenizer of the claim-rule grammar for highlighting (the server
// is the judge of validity: the editor calls POST /management/policy:check),
// and a line diff.
const KEYWORDS = new Set(['version', 'authorizationrules', 'issuancerules', 'configurationrules',
  'permit', 'deny', 'issue', 'issueproperty', 'add', 'claim', 'type', 'value', 'issuer', 'valuetype']);
const FUNCS = new Set(['jmespath', 'jmespathex']);

export function tokenize(src) {
  const out = [];
  let i = 0;
  const push = (cls, end) => { out.push({ cls, text: src.slice(i, end) }); i = end; };
  while (i < src.length) {
    const c = src[i];
    if (c === '/' && src[i + 1] === '/') {
      let e = src.indexOf('\n', i); if (e < 0) e = src.length; push('tok-comment', e);
    } else if (c === '"') {
      let e = i + 1;
      while (e < src.length && src[e] !== '"' && src[e] !== '\n') e += src[e] === '\\' ? 2 : 1;
      push(src[e] === '"' ? 'tok-string' : 'tok-error', Math.min(src[e] === '"' ? e + 1 : e, src.length));
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(src[i + 1] || ''))) {
      let e = i + 1; while (e < src.length && /[0-9.]/.test(src[e])) e++; push('tok-number', e);
    } else if (/[A-Za-z_$]/.test(c)) {
      let e = i + 1; while (e < src.length && /[A-Za-z0-9_\-$]/.test(src[e])) e++;
      const w = src.slice(i, e).toLowerCase();
      push(KEYWORDS.has(w) ? 'tok-keyword' : w === 'true' || w === 'false' ? 'tok-bool' : FUNCS.has(w) ? 'tok-func' : 'tok-ident', e);
    } else if (src.startsWith('=>', i) || src.startsWith('&&', i) || src.startsWith('||', i)) {
      push('tok-arrow', i + 2);
    } else if (/[=!<>]/.test(c)) {
      push('tok-op', src[i + 1] === '=' || src[i + 1] === '~' ? i + 2 : i + 1);
    } else if (/[\[\]{}();:,.]/.test(c)) {
      push('tok-punct', i + 1);
    } else if (/\s/.test(c)) {
      let e = i + 1; while (e < src.length && /\s/.test(src[e])) e++; push('', e);
    } else {
      push('tok-other', i + 1);
    }
  }
  return out;
}

// diffLines is a longest-common-subsequence line diff:
// [{op: ' '|'-'|'+', text}].
export function diffLines(a, b) {
  const x = a.replace(/\r\n/g, '\n').split('\n');
  const y = b.replace(/\r\n/g, '\n').split('\n');
  if (x.length * y.length > 4e6) return [{ op: '!', text: 'too large to compare' }];
  const n = x.length, m = y.length;
  const L = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--)
    L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  const out = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) { out.push({ op: ' ', text: x[i] }); i++; j++; }
    else if (L[i + 1][j] >= L[i][j + 1]) out.push({ op: '-', text: x[i++] });
    else out.push({ op: '+', text: y[j++] });
  }
  while (i < n) out.push({ op: '-', text: x[i++] });
  while (j < m) out.push({ op: '+', text: y[j++] });
  return out;
}
