// A small OpenID provider that misbehaves on request, for the negative cases of
// tests/e2e/oidc-negative.sh: discovery, JWKS, an authorization endpoint that
// signs anyone in at once (remembering state, nonce and PKCE challenge) and a
// token endpoint whose ID token is broken as the current mode says:
//   good | wrong-iss | wrong-aud | bad-sig | expired | wrong-nonce | future-iat |
//   bad-at-hash | alg-none | slow (answers after 3 s) | no-id-token |
//   huge (a valid answer over 300 KB)
// Set the mode with GET /_mode?m=NAME. The token endpoint checks client_secret_basic
// and the PKCE verifier (S256) itself and answers 400 when they are wrong.
//
// Usage: node bad-provider.mjs PORT   (env OIDC_CLIENT_SECRET)
import { createServer } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { generateKeyPair, exportJWK, SignJWT } from 'jose';

const port = Number(process.argv[2]);
const issuer = `http://localhost:${port}`;
const secret = process.env.OIDC_CLIENT_SECRET;
const { publicKey, privateKey } = await generateKeyPair('RS256');
const other = await generateKeyPair('RS256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
const codes = new Map();
let mode = 'good';
const b64u = (b) => Buffer.from(b).toString('base64url');

async function idToken(login, accessToken) {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    sub: 'mallory', email: 'mallory@example.test', nonce: login.nonce,
    at_hash: b64u(createHash('sha256').update(accessToken).digest().subarray(0, 16)),
  };
  let iss = issuer, aud = 'gatehouse', iat = now, exp = now + 300, key = privateKey;
  if (mode === 'wrong-iss') iss = 'http://evil.test';
  if (mode === 'wrong-aud') aud = 'someone-else';
  if (mode === 'bad-sig') key = other.privateKey;
  if (mode === 'expired') { iat = now - 7200; exp = now - 3600; }
  if (mode === 'wrong-nonce') claims.nonce = 'not-the-login-nonce';
  if (mode === 'future-iat') iat = now + 3600;
  if (mode === 'bad-at-hash') claims.at_hash = b64u(randomBytes(16));
  if (mode === 'alg-none') {
    const head = b64u(JSON.stringify({ alg: 'none', kid: 'k1' }));
    const body = b64u(JSON.stringify({ ...claims, iss, aud, iat, exp }));
    return `${head}.${body}.`;
  }
  return new SignJWT({ ...claims, iat, exp }).setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer(iss).setAudience(aud).sign(key);
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

async function token(req, res, form) {
  const basic = `Basic ${Buffer.from(`gatehouse:${secret}`).toString('base64')}`;
  if (req.headers.authorization !== basic) return send(res, 401, { error: 'invalid_client' });
  const login = codes.get(form.get('code'));
  codes.delete(form.get('code'));
  if (!login || form.get('grant_type') !== 'authorization_code') return send(res, 400, { error: 'invalid_grant' });
  const challenge = b64u(createHash('sha256').update(form.get('code_verifier') || '').digest());
  if (challenge !== login.challenge || form.get('redirect_uri') !== login.redirect) {
    return send(res, 400, { error: 'invalid_grant', error_description: 'PKCE or redirect_uri mismatch' });
  }
  if (mode === 'slow') await new Promise((r) => setTimeout(r, 3000));
  const access = b64u(randomBytes(24));
  const answer = { access_token: access, token_type: 'Bearer', expires_in: 300 };
  if (mode !== 'no-id-token') answer.id_token = await idToken(login, access);
  if (mode === 'huge') answer.padding = 'x'.repeat(300 * 1024); // over the plugin's 256 KB cap
  send(res, 200, answer);
}

createServer((req, res) => {
  const url = new URL(req.url, issuer);
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    if (url.pathname === '/.well-known/openid-configuration') {
      return send(res, 200, {
        issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`, response_types_supported: ['code'],
        subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'],
      });
    }
    if (url.pathname === '/jwks') return send(res, 200, { keys: [jwk] });
    if (url.pathname === '/_mode') { mode = url.searchParams.get('m'); return send(res, 200, { mode }); }
    if (url.pathname === '/auth') {
      const p = url.searchParams;
      const code = b64u(randomBytes(16));
      codes.set(code, { nonce: p.get('nonce'), challenge: p.get('code_challenge'), redirect: p.get('redirect_uri') });
      const back = new URL(p.get('redirect_uri'));
      back.searchParams.set('code', code);
      back.searchParams.set('state', p.get('state'));
      return send(res, 302, '', { location: back.href });
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      return token(req, res, new URLSearchParams(body)).catch((e) => send(res, 500, { error: String(e) }));
    }
    send(res, 404, { error: 'not found' });
  });
}).listen(port, '127.0.0.1', () => console.log(`bad provider ${issuer} ready`));
