// A real OpenID Connect issuer for Crier's dashboard SSO tests: oidc-provider (npm) on an
// ephemeral port of 127.0.0.1, with its development login form (any password is accepted).
//
//   node issuer.mjs <client_id> <client_secret> <redirect_uri> [<redirect_uri>...]
//   (or CLIENT_ID, CLIENT_SECRET and REDIRECT_URIS, space-separated, in the environment)
//
// The account signed in as login `alice@x.test` has `sub` "alice@x.test" and the verified
// e-mail `alice@x.test`; a login `unverified-bob@x.test` has the e-mail `bob@x.test` with
// `email_verified: false`. Consent is granted without asking, so a sign-in is the login form
// only. Prints the issuer URL on stdout once it accepts connections; logs go to stderr.
//
// Configuration reference: https://github.com/panva/node-oidc-provider/blob/main/docs/README.md
import http from 'node:http';
import Provider from 'oidc-provider';

const [argId, argSecret, ...argRedirects] = process.argv.slice(2);
const clientId = argId || process.env.CLIENT_ID;
const clientSecret = argSecret || process.env.CLIENT_SECRET;
const redirectUris = argRedirects.length ? argRedirects : (process.env.REDIRECT_URIS || '').split(' ').filter(Boolean);
if (!clientId || !clientSecret || redirectUris.length === 0) {
  console.error('usage: node issuer.mjs <client_id> <client_secret> <redirect_uri>...');
  process.exit(2);
}

// stdout carries only the issuer URL: oidc-provider's notices go to stderr.
console.info = console.error;
console.log = console.error;

const UNVERIFIED = 'unverified-';

function account(login) {
  const verified = !login.startsWith(UNVERIFIED);
  const email = verified ? login : login.slice(UNVERIFIED.length);
  return {
    accountId: login,
    async claims() {
      return { sub: login, email, email_verified: verified };
    },
  };
}

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
    }],
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    // The e-mail claims in the ID token itself (Google does the same).
    conformIdTokenClaims: false,
    cookies: { keys: ['crier-oidc-test-peer'] },
    findAccount: async (ctx, sub) => account(sub),
    // Consent is implied: grant the client what it asks for, so tests see the login form only.
    async loadExistingGrant(ctx) {
      const existing = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (existing) {
        return ctx.oidc.provider.Grant.find(existing);
      }
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid email');
      grant.addOIDCClaims(['email', 'email_verified']);
      await grant.save();
      return grant;
    },
  });
  server.on('request', provider.callback());
  process.stdout.write(`${issuer}\n`);
});
process.on('SIGTERM', () => process.exit(0));
