// The browser half of the OIDC end-to-end tests: headless Chromium (Debian's
// /usr/bin/chromium) driven by playwright-core signs in through a gateway at
// GATEWAY_URL against the real oidc-provider, then checks the session.
// Prints "ok ..." / "FAIL ..." per check and "done" at the end.
//
// Usage: node browser.mjs GATEWAY_URL
//   env OIDC_ISSUER, OIDC_COOKIE (session cookie name), OIDC_KEYS (dir with
//   current.key, old.key, foreign.key), OIDC_AFTER_LOGOUT, OIDC_REDIS=1 (the
//   gateway stores sessions in Redis: a logged-out cookie must stop working),
//   OIDC_USER (default alice), OIDC_SKIP_LOGOUT=1, OIDC_SAVE_COOKIE=FILE (write
//   the session cookie header for another test),
//   OIDC_REFRESH_WAIT=S (wait S seconds, then expect a token refresh), OIDC_CHUNKED=1
//   (the session is large: expect chunk cookies).
import { chromium, request } from 'playwright-core';
import { writeFileSync } from 'node:fs';
import { readKey, session } from './seal.mjs';

const gw = process.argv[2];
const issuer = process.env.OIDC_ISSUER;
const cookieName = process.env.OIDC_COOKIE;
const keys = process.env.OIDC_KEYS;
const user = process.env.OIDC_USER || 'alice';
const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];

const check = (cond, what, detail = '') => {
  console.log(cond ? `ok ${what}` : `FAIL ${what}${detail ? ` (${detail})` : ''}`);
};

/** GETs `url` with only the given headers (no browser cookies), no redirects followed. */
async function bare(url, headers) {
  const ctx = await request.newContext();
  const r = await ctx.get(url, { headers, maxRedirects: 0 });
  const out = { status: r.status(), headers: r.headers(), text: await r.text() };
  await ctx.dispose();
  return out;
}

const upstream = (text) => {
  try { return JSON.parse(text).headers || {}; } catch { return {}; }
};

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: flags });
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const seen = [];
  page.on('request', (r) => seen.push(r.url()));
  const target = `${gw}/app/hello?x=1&y=two`;

  // 1. Sign in: protected URL -> provider login -> consent -> back where we started.
  await page.goto(target);
  check(page.url().startsWith(issuer), 'a protected URL sends the browser to the provider', page.url());
  const authorize = seen.find((u) => u.startsWith(`${issuer}/auth?`)) || '';
  const params = new URL(authorize || 'http://x/').searchParams;
  check(params.get('code_challenge_method') === 'S256' && (params.get('code_challenge') || '').length === 43,
    'the authorization request uses PKCE S256');
  check((params.get('state') || '').length >= 43 && (params.get('nonce') || '').length >= 43,
    'the authorization request carries a state and a nonce');
  await page.fill('input[name=login]', user);
  await page.fill('input[name=password]', 'any-password');
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  if (page.url().startsWith(issuer)) {
    check(/consent|authorize/i.test(await page.content()), 'the provider asks for consent');
    await Promise.all([page.waitForURL((u) => u.href.startsWith(gw)), page.click('button[type=submit]')]);
  }
  check(page.url() === target, 'signed in, the browser lands on the original URL', page.url());
  let h = upstream(await page.innerText('body'));
  check(h['x-auth-sub'] === user, 'the upstream sees x-auth-sub', h['x-auth-sub']);
  check(h['x-auth-email'] === `${user}@example.test`, 'the upstream sees x-auth-email', h['x-auth-email']);
  check(h['x-auth-groups'] === `staff,team-${user}`, 'the upstream sees x-auth-groups', h['x-auth-groups']);
  check((h.authorization || '').startsWith('Bearer '), 'the upstream gets the access token as Bearer');
  const callback = seen.find((u) => u.startsWith(`${gw}/oauth2/callback?`));
  check(Boolean(callback), 'the provider sent the browser to /oauth2/callback');

  const cookies = await context.cookies(gw);
  const sessionCookie = cookies.find((c) => c.name === cookieName || c.name === `${cookieName}_0`);
  check(Boolean(sessionCookie), 'a session cookie is set', cookies.map((c) => c.name).join(','));
  check(sessionCookie && sessionCookie.httpOnly && sessionCookie.secure && sessionCookie.sameSite === 'Lax',
    'the session cookie is HttpOnly, Secure, SameSite=Lax', JSON.stringify(sessionCookie));
  check(!cookies.some((c) => c.name === `${cookieName}_login`), 'the login state cookie is gone');
  if (process.env.OIDC_CHUNKED) {
    const chunks = cookies.filter((c) => /_[0-9]+$/.test(c.name) && c.name.startsWith(cookieName));
    check(chunks.length >= 2 && !cookies.some((c) => c.name === cookieName),
      'a session over 4 KB is split into chunk cookies', chunks.map((c) => c.name).join(','));
    check(chunks.every((c) => c.name.length + c.value.length < 4000), 'every chunk fits a 4 KB cookie');
  }
  const cookieHeader = cookies.filter((c) => c.name.startsWith(cookieName))
    .map((c) => `${c.name}=${c.value}`).join('; ');
  if (process.env.OIDC_SAVE_COOKIE) writeFileSync(process.env.OIDC_SAVE_COOKIE, cookieHeader);

  // 2. A second request rides the cookie without visiting the provider.
  seen.length = 0;
  await page.goto(`${gw}/app/second`);
  check(page.url() === `${gw}/app/second`, 'a second request is allowed', page.url());
  check(!seen.some((u) => u.startsWith(issuer)), 'the second request never visits the provider');
  const spoof = await page.request.get(`${gw}/app/spoof`, { headers: { 'x-auth-email': 'mallory@evil.test' } });
  h = upstream(await spoof.text());
  check(h['x-auth-email'] === `${user}@example.test`, "a client's own x-auth-email is replaced", h['x-auth-email']);

  // 2b. Refresh (env OIDC_REFRESH_WAIT=S, with a provider access-token TTL just above
  // refreshBeforeSeconds): after S seconds the next request refreshes the tokens.
  if (process.env.OIDC_REFRESH_WAIT) {
    const count = async () => (await (await fetch(`${issuer}/_test/token-requests`)).json()).tokenRequests;
    const bearer = (await page.request.get(`${gw}/app/before-refresh`).then((x) => x.text()).then(upstream)).authorization;
    const before = await count();
    await new Promise((done) => setTimeout(done, Number(process.env.OIDC_REFRESH_WAIT) * 1000));
    const resp = await page.request.get(`${gw}/app/refresh`);
    const setCookies = resp.headersArray().filter((x) => x.name.toLowerCase() === 'set-cookie').map((x) => x.value);
    check(resp.status() === 200, 'a request near the access token expiry is allowed', resp.status());
    check(await count() === before + 1, 'it refreshed the tokens at the provider (one token request)');
    if (!process.env.OIDC_REDIS) {
      check(setCookies.some((v) => v.startsWith(cookieName) && v.includes('HttpOnly')),
        'the refreshed session cookie rides on the allowed response', setCookies.join(' | '));
    }
    const after = await page.request.get(`${gw}/app/after-refresh`);
    h = upstream(await after.text());
    check(after.status() === 200 && h['x-auth-sub'] === user, 'the refreshed session works');
    check(h.authorization && h.authorization !== bearer, 'the upstream gets the new access token');
  }

  // 3. Replayed and forged states.
  let r = await page.goto(callback);
  check(r.status() === 400, 'a replayed callback (same code and state) is refused', r.status());
  r = await page.goto(`${gw}/oauth2/callback?code=forged&state=forged`);
  check(r.status() === 400, 'a forged state is refused', r.status());

  // 4. Cookies: none, tampered, expired, foreign key -> no session; old key still opens.
  const api = { accept: 'application/json' };
  const html = { accept: 'text/html' };
  let b = await bare(target, api);
  check(b.status === 401, 'an API client without a session gets 401', b.status);
  b = await bare(target, { ...html, 'x-requested-with': 'fetch' });
  check(b.status === 401, 'a configured API-client header gets 401, not a redirect', b.status);
  b = await bare(target, { ...api, cookie: cookieHeader });
  check(b.status === 200, "the browser's cookie works from another client", b.status);
  const flip = (v) => v.slice(0, 20) + (v[20] === 'A' ? 'B' : 'A') + v.slice(21);
  const [name, value] = cookieHeader.split('; ')[0].split(/=(.*)/s);
  b = await bare(target, { ...api, cookie: `${name}=${flip(value)}` });
  check(b.status === 401, 'a tampered cookie is rejected', b.status);
  b = await bare(target, { ...html, cookie: `${name}=${flip(value)}` });
  check(b.status === 302 && (b.headers.location || '').startsWith(issuer),
    'a tampered cookie sends a browser to sign in again', `${b.status} ${b.headers.location}`);
  if (!process.env.OIDC_REDIS) {
    const now = Math.floor(Date.now() / 1000);
    const mine = readKey(`${keys}/current.key`);
    b = await bare(target, { ...api, cookie: `${cookieName}=${session(mine, 'carol', now + 600)}` });
    check(b.status === 200 && upstream(b.text)['x-auth-sub'] === 'carol',
      'a session sealed with the current key is accepted (the format the checks below break)', b.status);
    b = await bare(target, { ...api, cookie: `${cookieName}=${session(mine, 'carol', now - 5)}` });
    check(b.status === 401, 'an expired session is rejected', b.status);
    b = await bare(target, { ...api, cookie: `${cookieName}=${session(readKey(`${keys}/foreign.key`), 'carol', now + 600)}` });
    check(b.status === 401, 'a session sealed with a foreign key is rejected', b.status);
    b = await bare(target, { ...api, cookie: `${cookieName}=${session(readKey(`${keys}/old.key`), 'carol', now + 600)}` });
    check(b.status === 200, 'a session sealed with an old (rotated) key is accepted', b.status);
  }

  // 5. Logout: session cleared, provider session ended, back to afterLogoutUrl.
  if (!process.env.OIDC_SKIP_LOGOUT) {
    await page.goto(`${gw}/logout`);
    if (page.url().startsWith(issuer)) {
      await Promise.all([page.waitForURL((u) => !u.href.startsWith(issuer)),
        page.click('button[autofocus], button[name=logout], button[type=submit]')]);
    }
    check(page.url().startsWith(process.env.OIDC_AFTER_LOGOUT), 'logout ends at afterLogoutUrl', page.url());
    const left = (await context.cookies(gw)).filter((c) => c.name.startsWith(cookieName));
    check(left.length === 0, 'logout clears the session cookie', left.map((c) => c.name).join(','));
    await page.goto(target);
    check(page.url().startsWith(issuer) && (await page.$('input[name=login]')) !== null,
      'after logout the browser must sign in again', page.url());
    if (process.env.OIDC_REDIS) {
      b = await bare(target, { ...api, cookie: cookieHeader });
      check(b.status === 401, 'Redis mode: the logged-out cookie is revoked', b.status);
    }
  }
} catch (e) {
  console.log(`FAIL the browser flow threw: ${e.message.split('\n')[0]}`);
} finally {
  await browser.close();
}
console.log('done');
