// A real OpenID provider for the OIDC end-to-end tests: panva's oidc-provider
// (OpenID Certified) with one confidential test client and any user name
// signing in (its dev login and consent pages, which the browser clicks
// through). PKCE is required; refresh tokens are issued.
//
// Usage: node provider.mjs PORT REDIRECT_URIS POST_LOGOUT_URIS
//   REDIRECT_URIS / POST_LOGOUT_URIS: comma-separated absolute URLs
//   env OIDC_CLIENT_SECRET (the client's secret), OIDC_ACCESS_TTL (seconds, 600)
import Provider from 'oidc-provider';

const [port, redirects, postLogout] = process.argv.slice(2);
const issuer = `http://localhost:${port}`;

// The test user: whatever login is typed becomes the sub; e-mail and groups follow.
const findAccount = async (ctx, sub) => ({
  accountId: sub,
  async claims() {
    return {
      sub,
      email: `${sub}@example.test`,
      email_verified: true,
      name: `Test user ${sub}`,
      groups: ['staff', `team-${sub}`],
      // Scope `big`: a claim large enough that the session cookie must be chunked.
      blob: 'x'.repeat(6000),
    };
  },
});

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'gatehouse',
      client_secret: process.env.OIDC_CLIENT_SECRET,
      redirect_uris: redirects.split(','),
      post_logout_redirect_uris: postLogout.split(','),
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  pkce: { required: () => true },
  findAccount,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
    big: ['blob'],
  },
  scopes: ['openid', 'email', 'profile', 'groups', 'big', 'offline_access'],
  // Claims in the ID token itself, not only at userinfo.
  conformIdTokenClaims: false,
  issueRefreshToken: async () => true,
  ttl: {
    AccessToken: Number(process.env.OIDC_ACCESS_TTL || 600),
    IdToken: 600,
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  cookies: { keys: ['gatehouse-e2e-provider-cookie-key'] },
});
provider.proxy = false;

// Count token requests, so a test can tell a refresh happened.
let tokenRequests = 0;
provider.use(async (ctx, next) => {
  if (ctx.path === '/token') tokenRequests += 1;
  if (ctx.path === '/_test/token-requests') {
    ctx.body = { tokenRequests };
    return;
  }
  await next();
});

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`oidc-provider ${issuer} ready`);
});
