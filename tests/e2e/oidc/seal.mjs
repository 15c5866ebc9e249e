// Seals a value the way plugins/oidc/src/crypto.rs does (AES-256-GCM, random
// 96-bit nonce, the purpose as associated data, "v1." + base64url(nonce|ct|tag)),
// so a test can hand gatehouse sessions it made itself: expired ones, ones under
// a foreign or an old key.
import { createCipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** The 32-byte key in a hex key file. */
export function readKey(path) {
  return Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
}

/** `plain` (a string) sealed with `key` for `purpose`. */
export function seal(key, purpose, plain) {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(purpose));
  const body = Buffer.concat([cipher.update(Buffer.from(plain)), cipher.final(), cipher.getAuthTag()]);
  return 'v1.' + Buffer.concat([nonce, body]).toString('base64url');
}

/** A cookie-mode session cookie value for `sub`, ending at `expires` (Unix s). */
export function session(key, sub, expires) {
  const s = { claims: { sub, email: `${sub}@example.test` }, expires, access_expires: 0 };
  return seal(key, 'gatehouse-oidc-session', JSON.stringify(s));
}
