// A real OpenID Connect provider (the npm package oidc-provider) for onloop's sign-in tests.
// Listens on 127.0.0.1 only. Its login form takes any password: the tests sign in as the people
// below by login name. Usage: node provider.mjs PORT DASHBOARD_REDIRECT_URI CLIENT_SECRET
import Provider from 'oidc-provider';

const [port, redirectUri, clientSecret] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

// The login name is the account id and the ID token's `sub`.
const PEOPLE = {
  april: { email: 'april@example.test', name: 'April Approver' },
  vic: { email: 'vic@example.test', name: 'Vic Viewer' },
  otto: { email: 'otto@ops.test', name: 'Otto Operator', groups: ['onloop-ops'] },
  nobody: { email: 'nobody@elsewhere.test', name: 'No Role' },
  // Claims onloop must not trust: an admin's address, not verified or malformed.
  mallory: { email: 'ada@admin.test', name: 'Mallory', email_verified: 'false' },
  zero: { email: 'ada@admin.test', name: 'Zero', email_verified: 0 },
  unset: { email: 'ada@admin.test', name: 'Unset', email_verified: undefined },
  spaced: { email: ' ada@admin.test', name: 'Spaced' },
  twice: { email: 'eve@evil.test@example.test', name: 'Twice' },
  kelvin: { email: '\u212Aate@admin.test', name: 'Kelvin' },
};

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'onloop-dashboard',
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      post_logout_redirect_uris: [redirectUri],
      response_types: ['code'],
      grant_types: ['authorization_code'],
    },
  ],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'groups'],
  },
  // Authlib reads who signed in from the ID token: put the scopes' claims there.
  conformIdTokenClaims: false,
  pkce: { required: () => false },
  cookies: { keys: ['onloop-test-provider-cookie-key'] },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  async findAccount(ctx, id) {
    const person = PEOPLE[id];
    if (!person) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email_verified: true, ...person };
      },
    };
  },
});

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`oidc-provider ready at ${issuer}`);
});
