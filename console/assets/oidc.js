// OpenID Connect sign-in: authorization code with PKCE (S256), a public
// client. The verifier and state live in sessionStorage for the round trip;
// the token the API needs ends in sessionStorage like an admin token.
import { session, b64urlEncode, sha256, utf8 } from './api.js';

const PENDING = 'avow.oidc';

async function discover(issuer) {
  const res = await fetch(issuer.replace(/\/$/, '') + '/.well-known/openid-configuration', { credentials: 'omit' });
  if (!res.ok) throw new Error(`discovery answered ${res.status}`);
  return res.json();
}

const redirectURI = () => `${location.origin}/ui/`;

export async function oidcStart(cfg) {
  const meta = await discover(cfg.issuer);
  const rnd = (n) => b64urlEncode(crypto.getRandomValues(new Uint8Array(n)));
  const verifier = rnd(32), state = rnd(16);
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, tokenEndpoint: meta.token_endpoint }));
  const u = new URL(meta.authorization_endpoint);
  u.search = new URLSearchParams({ response_type: 'code', client_id: cfg.clientId, redirect_uri: redirectURI(), scope: cfg.scope,
    state, code_challenge: b64urlEncode(await sha256(utf8(verifier))), code_challenge_method: 'S256' }).toString();
  location.assign(u.toString());
}

// oidcFinish completes a sign-in when the page is the redirect target.
export async function oidcFinish(cfg) {
  const q = new URLSearchParams(location.search);
  if (!cfg || !q.has('state')) return false;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null');
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, '', '/ui/#/providers'); // the code leaves the address bar
  if (q.has('error')) throw new Error(q.get('error_description') || q.get('error'));
  if (!pending || pending.state !== q.get('state')) throw new Error('the state does not match this tab\'s sign-in');
  const res = await fetch(pending.tokenEndpoint, { method: 'POST', credentials: 'omit',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: q.get('code'), redirect_uri: redirectURI(), client_id: cfg.clientId, code_verifier: pending.verifier }) });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error_description || body.error || `token endpoint answered ${res.status}`);
  const tok = body[cfg.tokenType || 'id_token'] || body.id_token;
  if (!tok) throw new Error(`the token endpoint returned no ${cfg.tokenType}`);
  session.token = tok;
  return true;
}
