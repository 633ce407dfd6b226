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
  if (res.status === 401 && session.token && !path.startsWith('/ui/')) {
    // The token was revoked or expired: back to sign-in.
    session.token = ''; session.who = null;
    location.hash = '#/signin';
  }
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

// sha256 uses WebCrypto where the page is a secure context, and a small
// implementation elsewhere (crypto.subtle is absent on plain HTTP to a
// non-loopback host).
export async function sha256(bytes) {
  if (globalThis.crypto && crypto.subtle) return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return sha256js(bytes);
}

const K = new Uint32Array([0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
  0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb,
  0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f,
  0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);

export function sha256js(msg) {
  const len = msg.length, padded = new Uint8Array(((len + 9 + 63) >> 6) << 6);
  padded.set(msg); padded[len] = 0x80;
  const dv = new DataView(padded.buffer);
  dv.setUint32(padded.length - 4, len * 8); dv.setUint32(padded.length - 8, Math.floor(len / 0x20000000));
  const H = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const W = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) W[i] = dv.getUint32(off + 4 * i);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(W[i - 15], 7) ^ rotr(W[i - 15], 18) ^ (W[i - 15] >>> 3);
      const s1 = rotr(W[i - 2], 17) ^ rotr(W[i - 2], 19) ^ (W[i - 2] >>> 10);
      W[i] = (W[i - 16] + s0 + W[i - 7] + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, h] = H;
    for (let i = 0; i < 64; i++) {
      const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + W[i]) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      h = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    H[0] += a; H[1] += b; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += h;
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  H.forEach((v, i) => ov.setUint32(4 * i, v));
  return out;
}

// policyHash is x-ms-policy-hash: base64url(SHA-256(base64url(text))).
export async function policyHash(text) {
  return b64urlEncode(await sha256(utf8(b64urlEncode(utf8(text)))));
}

export const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

export const dataPlane = (provider, rest) => `/providers/${encodeURIComponent(provider)}/${rest}`;
export const withVersion = (path) => `${path}${path.includes('?') ? '&' : '?'}api-version=${API_VERSION}`;
