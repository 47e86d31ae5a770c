// Drives Crier's MCP endpoint through the official MCP TypeScript SDK v1 (@modelcontextprotocol/sdk)
// with the SDK's own OAuth client flow: protected-resource / authorization-server discovery,
// dynamic client registration, PKCE (S256), authorization code, token exchange, refresh.
//   node oauth_client.mjs MCP_URL EMAIL PASSWORD CHANNEL_ID
// Only the "human in a browser" step (the consent page) is automated here; every OAuth request
// is made by the SDK. Prints one line of JSON to stdout; diagnostics go to stderr.
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError, refreshAuthorization, selectResourceURL } from '@modelcontextprotocol/sdk/client/auth.js';

const [mcpUrlArg, email, password, channelId] = process.argv.slice(2);
const REDIRECT_URL = 'http://127.0.0.1:9/callback';
const log = (...args) => console.error('[oauth_client]', ...args);

const out = {};
let finished = false;
function finish(code, payload) {
  if (finished) return;
  finished = true;
  process.stdout.write(JSON.stringify(payload) + '\n', () => process.exit(code));
}
const timeoutMs = Number(process.env.OAUTH_CLIENT_TIMEOUT_MS ?? 60000);
setTimeout(() => finish(1, { error: `timed out after ${timeoutMs} ms`, ...out }), timeoutMs).unref();

// ---------------------------------------------------------------------------------------------
// A trace of every HTTP request the SDK makes (MCP and OAuth), for the report.
const trace = [];
out.trace = trace;
function tracingFetch(url, init = {}) {
  const entry = { method: init.method ?? 'GET', url: String(url) };
  const body = init.body;
  if (body instanceof URLSearchParams) {
    entry.grant_type = body.get('grant_type') ?? undefined;
    entry.form_keys = [...body.keys()];
  }
  const auth = new Headers(init.headers ?? {}).get('authorization');
  if (auth) entry.authorization = auth.split(' ')[0];
  trace.push(entry);
  return fetch(url, init).then(async res => {
    entry.status = res.status;
    const www = res.headers.get('www-authenticate');
    if (www) entry.www_authenticate = www;
    if (res.status >= 300 && res.status < 400) entry.location = res.headers.get('location') ?? undefined;
    if (res.status >= 400) {
      entry.body = (await res.clone().text().catch(e => `<unreadable: ${e}>`)).slice(0, 1000);
    }
    log(entry.method, entry.url, '->', res.status);
    return res;
  });
}

// ---------------------------------------------------------------------------------------------
// The "browser": a tiny HTML form reader and a cookie jar, nothing Crier-specific.
function unescapeHtml(s) {
  return String(s).replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos|#39);/g, (m, e) => {
    switch (e) {
      case 'amp': return '&';
      case 'lt': return '<';
      case 'gt': return '>';
      case 'quot': return '"';
      case 'apos': case '#39': return "'";
      default:
        return e[1] === 'x' ? String.fromCodePoint(parseInt(e.slice(2), 16)) : String.fromCodePoint(parseInt(e.slice(1), 10));
    }
  });
}
function parseAttrs(tag) {
  const attrs = {};
  const re = /([^\s"'<>\/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  const inner = tag.replace(/^<\s*[a-zA-Z0-9]+/, '').replace(/\/?>$/, '');
  let m;
  while ((m = re.exec(inner))) {
    attrs[m[1].toLowerCase()] = unescapeHtml(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}
function pageText(html) {
  return unescapeHtml(
    html
      .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ')
      .replace(/<!--[\s\S]*?-->/g, ' ')
      .replace(/<[^>]*>/g, ' '),
  )
    .replace(/\s+/g, ' ')
    .trim();
}
const cookies = new Map();
function absorbCookies(res) {
  for (const c of res.headers.getSetCookie?.() ?? []) {
    const [pair] = c.split(';');
    const i = pair.indexOf('=');
    if (i > 0) cookies.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
  }
}
const cookieHeader = () => (cookies.size ? [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') : undefined);

// Acts as the user: opens the authorization URL, fills in the consent form, approves.
async function browserAuthorize(authorizationUrl) {
  const consent = {};
  out.consent = consent;
  const getRes = await fetch(authorizationUrl, { redirect: 'manual', headers: { Accept: 'text/html' } });
  absorbCookies(getRes);
  const html = await getRes.text();
  consent.getStatus = getRes.status;
  out.consentPageText = pageText(html);
  if (getRes.status !== 200) {
    consent.getLocation = getRes.headers.get('location') ?? undefined;
    consent.getBody = html.slice(0, 2000);
    throw new Error(`consent page: expected 200, got ${getRes.status}`);
  }
  const forms = [...html.matchAll(/<form\b[^>]*>([\s\S]*?)<\/form\s*>/gi)];
  consent.formCount = forms.length;
  const postForms = forms.filter(f => (parseAttrs(f[0].match(/^<form\b[^>]*>/i)[0]).method ?? '').toLowerCase() === 'post');
  if (forms.length !== 1 || postForms.length !== 1) {
    consent.getBody = html.slice(0, 2000);
    throw new Error(`consent page: expected exactly one <form method="post">, found ${forms.length} form(s)`);
  }
  const formTag = parseAttrs(forms[0][0].match(/^<form\b[^>]*>/i)[0]);
  const formHtml = forms[0][1];
  const action = new URL(formTag.action ?? '', getRes.url || authorizationUrl);
  consent.action = action.href;
  const fields = new URLSearchParams();
  const hidden = [];
  const visible = [];
  for (const m of formHtml.matchAll(/<input\b[^>]*>/gi)) {
    const a = parseAttrs(m[0]);
    if (!a.name) continue;
    if ((a.type ?? 'text').toLowerCase() === 'hidden') {
      fields.append(a.name, a.value ?? '');
      hidden.push(a.name);
    } else {
      visible.push(a.name);
    }
  }
  const approve = [...formHtml.matchAll(/<button\b[^>]*>/gi)]
    .map(m => parseAttrs(m[0]))
    .find(a => a.name === 'decision' && (a.value === 'sign_in' || a.value === 'approve'));
  Object.assign(consent, { hiddenFields: hidden, visibleFields: visible, hasApproveButton: !!approve });
  if (!visible.includes('email') || !visible.includes('password') || !approve) {
    consent.getBody = html.slice(0, 2000);
    throw new Error('consent page: missing email/password inputs or the sign-in button');
  }
  fields.set('email', email);
  fields.set('password', password);
  fields.set('decision', approve.value);
  const headers = { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'text/html' };
  const cookie = cookieHeader();
  if (cookie) headers.Cookie = cookie;
  consent.sentCookies = !!cookie;
  let postRes = await fetch(action, { method: 'POST', redirect: 'manual', headers, body: fields });
  absorbCookies(postRes);
  // A sign-in step first: the next page shows the client, the workspace and the scopes; approve it.
  if (postRes.status === 200) {
    const consentHtml = await postRes.text();
    out.consentPageText = pageText(consentHtml);
    const form = consentHtml.match(/<form\b[^>]*>([\s\S]*?)<\/form\s*>/i);
    if (!form) throw new Error('consent page after sign-in: no form');
    const next = new URLSearchParams();
    for (const m of form[1].matchAll(/<input\b[^>]*>/gi)) {
      const a = parseAttrs(m[0]);
      if (a.name && (a.type ?? 'text').toLowerCase() === 'hidden') next.append(a.name, a.value ?? '');
    }
    next.set('decision', 'approve');
    const again = { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'text/html' };
    const jar = cookieHeader();
    if (jar) again.Cookie = jar;
    postRes = await fetch(action, { method: 'POST', redirect: 'manual', headers: again, body: next });
    absorbCookies(postRes);
  }
  consent.postStatus = postRes.status;
  const location = postRes.headers.get('location');
  const postBody = await postRes.text();
  if (![302, 303].includes(postRes.status) || !location) {
    consent.postBody = postBody.slice(0, 2000);
    consent.postText = pageText(postBody).slice(0, 1000);
    throw new Error(`consent POST: expected 303/302 with Location, got ${postRes.status}`);
  }
  const loc = new URL(location, action);
  const redirect = { location: loc.href };
  for (const k of ['code', 'state', 'iss', 'error', 'error_description']) {
    if (loc.searchParams.has(k)) redirect[k] = loc.searchParams.get(k);
  }
  out.redirect = redirect;
  if (`${loc.origin}${loc.pathname}` !== REDIRECT_URL) {
    throw new Error(`consent POST redirected to ${loc.href}, not to the redirect_uri ${REDIRECT_URL}`);
  }
  return redirect;
}

// ---------------------------------------------------------------------------------------------
// The in-memory OAuthClientProvider (client/auth.d.ts `interface OAuthClientProvider`).
let clientInformation;
let tokens;
let codeVerifier;
let discovery;
let expectedState;
let phase = 'authorize';
let pendingAuthorization;
const provider = {
  get redirectUrl() {
    return REDIRECT_URL;
  },
  get clientMetadata() {
    return {
      client_name: 'Crier test agent',
      redirect_uris: [REDIRECT_URL],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  },
  state() {
    expectedState = randomBytes(16).toString('base64url');
    return expectedState;
  },
  clientInformation: () => clientInformation,
  saveClientInformation(info) {
    log('saveClientInformation', info.client_id);
    clientInformation = info;
  },
  tokens: () => tokens,
  saveTokens(t) {
    log('saveTokens', phase);
    tokens = t;
  },
  saveCodeVerifier(v) {
    codeVerifier = v;
  },
  codeVerifier() {
    if (!codeVerifier) throw new Error('no code verifier saved');
    return codeVerifier;
  },
  // Only recorded (discoveryState() is not implemented, so the SDK rediscovers on every auth()).
  saveDiscoveryState(state) {
    discovery = state;
  },
  async redirectToAuthorization(authorizationUrl) {
    log('redirectToAuthorization', phase);
    if (phase !== 'authorize') {
      (out.unexpectedAuthorizations ??= []).push({ phase, url: authorizationUrl.href });
      return;
    }
    out.authorizationUrl = authorizationUrl.href;
    out.authorizationParams = Object.fromEntries(authorizationUrl.searchParams);
    pendingAuthorization = browserAuthorize(authorizationUrl.href);
    // Like a real redirect, this does not report back to the SDK; main() awaits the outcome.
    await pendingAuthorization.catch(() => {});
  },
};

const pickTokens = t =>
  t && {
    access_token: t.access_token,
    refresh_token: t.refresh_token,
    token_type: t.token_type,
    expires_in: t.expires_in,
    scope: t.scope,
  };

async function newClient() {
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrlArg), { authProvider: provider, fetch: tracingFetch });
  const client = new Client({ name: 'crier-oauth-agent', version: '1.0.0' });
  return { transport, client };
}

async function main() {
  if (!mcpUrlArg || !email || !password || !channelId) {
    throw new Error('usage: node oauth_client.mjs MCP_URL EMAIL PASSWORD CHANNEL_ID');
  }

  // 1. First connection: 401 -> discovery -> registration -> authorization (browser) -> UnauthorizedError.
  const first = await newClient();
  try {
    await first.client.connect(first.transport);
    throw new Error('the first connect succeeded without authorization');
  } catch (err) {
    out.firstConnectError = { name: err?.constructor?.name, message: String(err?.message ?? err), unauthorized: err instanceof UnauthorizedError };
    if (!pendingAuthorization) throw err;
  }
  const redirect = await pendingAuthorization; // rethrows the consent failure, if any
  out.redirect.stateMatches = redirect.state === expectedState;
  if (discovery?.authorizationServerMetadata?.issuer !== undefined) {
    out.redirect.issMatches = redirect.iss === discovery.authorizationServerMetadata.issuer;
  }
  if (!redirect.code) throw new Error(`no code in the redirect: ${redirect.location}`);
  if (redirect.state !== expectedState) throw new Error('state mismatch in the redirect');

  // 2. The redirect "arrives": the SDK exchanges the code (with the PKCE verifier) for tokens.
  phase = 'token';
  await first.transport.finishAuth(redirect.code);
  out.clientInformation = clientInformation;
  out.tokens = pickTokens(tokens);
  out.discovery = discovery && {
    authorizationServerUrl: discovery.authorizationServerUrl,
    resourceMetadata: discovery.resourceMetadata,
    authorizationServerMetadata: discovery.authorizationServerMetadata,
  };

  // 3. A new transport and client with the same provider, now holding tokens.
  phase = 'use';
  const second = await newClient();
  await second.client.connect(second.transport);
  const tools = await second.client.listTools();
  out.tools = tools.tools.map(t => t.name);
  out.created = await second.client.callTool({
    name: 'create_post',
    arguments: { text: 'posted with OAuth', targets: [{ channel_id: channelId }], idempotency_key: 'oauth-1' },
  });
  await second.client.close();

  // 4. Refresh through the SDK: a 401 on a garbage access token makes the transport call auth(),
  // which refreshes with the stored refresh token (client/auth.js authInternal).
  phase = 'refresh';
  const oldTokens = tokens;
  const oldRefresh = oldTokens.refresh_token;
  tokens = { ...oldTokens, access_token: 'garbage-access-token' };
  const traceStart = trace.length;
  const refreshed = { ok: false, oldRefresh, newRefresh: undefined, newAccess: undefined };
  out.refreshed = refreshed;
  const third = await newClient();
  try {
    await third.client.connect(third.transport);
    const again = await third.client.listTools();
    refreshed.tools = again.tools.map(t => t.name);
  } catch (err) {
    refreshed.error = String(err?.message ?? err);
  }
  await third.client.close().catch(() => {});
  refreshed.newRefresh = tokens.refresh_token;
  refreshed.newAccess = tokens.access_token;
  refreshed.tokens = pickTokens(tokens);
  refreshed.refreshGrantSeen = trace.slice(traceStart).some(e => e.grant_type === 'refresh_token');
  refreshed.rotated = !!oldRefresh && refreshed.newRefresh !== oldRefresh;
  refreshed.reauthorized = !!out.unexpectedAuthorizations?.length;
  refreshed.ok =
    !refreshed.error && refreshed.refreshGrantSeen && !refreshed.reauthorized && refreshed.newAccess !== 'garbage-access-token';

  // 5. Reuse the OLD refresh token once more, with the SDK's refreshAuthorization and the
  // discovery it did itself; the server should refuse it.
  phase = 'reuse';
  const reuse = { status: undefined, body: undefined };
  out.reuse = reuse;
  const resourceMetadata = discovery?.resourceMetadata;
  const selected = await selectResourceURL(new URL(mcpUrlArg), provider, resourceMetadata);
  const resource = selected && resourceMetadata ? resourceMetadata.resource : selected;
  const recordingFetch = async (url, init) => {
    const res = await tracingFetch(url, init);
    reuse.status = res.status;
    const text = await res.clone().text();
    try {
      reuse.body = JSON.parse(text);
    } catch {
      reuse.body = text.slice(0, 2000);
    }
    return res;
  };
  try {
    const t = await refreshAuthorization(discovery.authorizationServerUrl, {
      metadata: discovery.authorizationServerMetadata,
      clientInformation,
      refreshToken: oldRefresh,
      resource,
      fetchFn: recordingFetch,
    });
    reuse.accepted = true;
    reuse.sdkResult = pickTokens(t);
  } catch (err) {
    reuse.accepted = false;
    reuse.sdkError = { name: err?.constructor?.name, code: err?.errorCode, message: String(err?.message ?? err) };
  }
}

try {
  await main();
  finish(0, out);
} catch (err) {
  log('error', err);
  finish(1, { error: String(err), stack: err?.stack, ...out });
}
