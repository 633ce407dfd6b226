// The console's only way to the server: the public API, same origin, with
// the signed-in bearer token from sessionStorage (this tab only).
export const API_VERSION = '2022-08-01';
const KEY = 'avow.token';

export class ApiError extends Error {
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status; this.code = code; this.requestId = requestId;
  }
}

export const session = {
  get token() { return sessionStorage.getItem(KEY) || ''; },
  set token(v) { if (v) sessionStorage.setItem(KEY, v); else sessionStorage.removeItem(KEY); },
  who: null,
};

export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (session.token) headers.Authorization = 'Bearer ' + session.token;
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers, body: payload, credentials: 'omit', cache: 'no-store' });
  const requestId = res.headers.get('x-ms-request-id') || '';
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = opts.text ? text : null; }
  if (!res.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(res.status, e.code || String(res.status), e.message || res.statusText, e.requestId || requestId);
  }
  return data;
}

export function b64urlEncode(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function b64urlDecode(s) {
  s = s.replace(/-/g, '+').replace(/_/g, '/');
  while (s.length % 4) s += '=';
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export const utf8 = (s) => new TextEncoder().encode(s);
export const fromUtf8 = (b) => new TextDecoder().decode(b);

// jwtPayload decodes (does not verify) a compact JWS's payload as JSON.
export function jwtPayload(jws) {
  const parts = String(jws).split('.');
  if (parts.length !== 3) throw new Error('not a compact JWS');
  return parts[1] ? JSON.parse(fromUtf8(b64urlDecode(parts[1]))) : null;
}

export function jwtHeader(jws) {
  return JSON.parse(fromUtf8(b64urlDecode(String(jws).split('.')[0])));
}

// unsignedPolicyDocument is MAA's unsigned JWS {"AttestationPolicy": base64url(text)}.
export function unsignedPolicyDocument(text) {
  const header = b64urlEncode(utf8(JSON.stringify({ alg: 'none' })));
  const payload = b64urlEncode(utf8(JSON.stringify({ AttestationPolicy: b64urlEncode(utf8(text)) })));
  return `${header}.${payload}.`;
}

export const UNSIGNED_RESET = 'eyJhbGciOiJub25lIn0..';

// policyFromDocument returns the text of a policy JWS (x-ms-policy).
export function policyFromDocument(jws) {
  const p = jwtPayload(jws);
  if (!p || typeof p.AttestationPolicy !== 'string') return '';
  try { return fromUtf8(b64urlDecode(p.AttestationPolicy)); } catch { return p.AttestationPolicy; }
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

// policyHash is x-ms-policy-hash: base64url(SHA-256(base64url(text))).
export async function policyHash(text) {
  return b64urlEncode(await sha256(utf8(b64urlEncode(utf8(text)))));
}

export const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

export const dataPlane = (provider, rest) => `/providers/${encodeURIComponent(provider)}/${rest}`;
export const withVersion = (path) => `${path}${path.includes('?') ? '&' : '?'}api-version=${API_VERSION}`;
