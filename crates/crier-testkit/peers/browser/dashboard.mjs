// Drives Crier's dashboard in headless Chromium as a person would, for
// crates/crier/tests/dashboard_browser.rs. Input (environment): CRIER_URL, CRIER_EMAIL,
// CRIER_PASSWORD, ARTIFACTS (a folder for screenshots), CHROMIUM (the browser binary).
// CRIER_URL must name `localhost` (WebAuthn takes it as a secure origin; an IP address cannot be
// a relying party id): passkeys are registered and used with Chromium's virtual authenticator.
// Exits non-zero with a message on the first thing that is not as it should be; on success
// prints one JSON line of what it saw.
import { createHmac } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const base = process.env.CRIER_URL;
const email = process.env.CRIER_EMAIL;
const password = process.env.CRIER_PASSWORD;
const artifacts = process.env.ARTIFACTS;
mkdirSync(artifacts, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

function fail(message) {
  throw new Error(message);
}

// RFC 6238 TOTP (SHA-1, 6 digits, 30 s) from a base32 secret, written out so the test does not
// trust the code it is testing.
function totp(secret, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, '0');
}

const problems = [];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: { width: 390, height: 844 } }); // a phone
const page = await context.newPage();
page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
await page.addInitScript(() => {
  document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
});
const shot = (name) => page.screenshot({ path: `${artifacts}/${name}.png`, fullPage: true });
const accessibility = {};
async function checkAccessibility(name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  accessibility[name] = serious.length;
  for (const v of serious) problems.push(`axe on ${name}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

async function signIn(code) {
  await page.goto(`${base}/login`);
  await page.getByLabel('E-mail address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  if (code) {
    await page.waitForURL(`${base}/login/second-factor`);
    await page.getByLabel(/6-digit code/).fill(code);
    await page.getByRole('button', { name: 'Continue' }).click();
  }
  await page.waitForURL(`${base}/`);
}

try {
  await page.goto(`${base}/login`);
  await checkAccessibility('login');
  await shot('01-login');
  await signIn(null);

  // Turn on two-factor sign-in with the app's code, then sign in again with password + TOTP.
  await page.goto(`${base}/security/totp`);
  const secret = await page.getByLabel('Key', { exact: true }).inputValue();
  const enrolledAt = Date.now();
  await page.getByLabel('Code from the app').fill(totp(secret, enrolledAt));
  await page.getByRole('button', { name: 'Turn on' }).click();
  const codes = await page.locator('#recovery-codes li').count();
  if (codes !== 10) fail(`expected 10 recovery codes, saw ${codes}`);
  await shot('02-recovery-codes');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${base}/login`);
  // The code that turned TOTP on is spent: wait for the next 30-second step.
  const nextStep = (Math.floor(enrolledAt / 30000) + 1) * 30000;
  await page.waitForTimeout(Math.max(0, nextStep - Date.now() + 200));
  await signIn(totp(secret));
  await checkAccessibility('posts');
  await shot('03-signed-in');

  // Connect a sandbox channel.
  await page.goto(`${base}/channels`);
  await page.getByLabel('Name', { exact: true }).fill('Browser sandbox');
  await page.getByRole('button', { name: 'Add' }).click();
  await page.getByRole('cell', { name: 'Browser sandbox', exact: true }).waitFor();
  await checkAccessibility('channels');
  await shot('04-channels');

  // Compose and schedule a post a few seconds ahead, in the browser's time zone.
  await page.goto(`${base}/posts/new`);
  await page.getByLabel('Text', { exact: true }).fill('Hello from the dashboard');
  await page.getByRole('checkbox', { name: /Browser sandbox/ }).check();
  await page.locator('output.counter').filter({ hasText: /fits|\/ / }).first().waitFor();
  const at = new Date(Date.now() + 5000);
  const local = new Date(at.getTime() - at.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
  await page.getByLabel(/Publish at/).fill(local);
  // Attach a picture (a screenshot of this very page): uploaded in parts, then listed and previewed.
  const picture = await page.screenshot();
  await page.getByLabel('File (image or video)').setInputFiles({ name: 'compose.png', mimeType: 'image/png', buffer: picture });
  await page.getByLabel(/alt text/).fill('The compose page');
  await page.getByRole('button', { name: 'Attach' }).click();
  await page.locator('#media-status', { hasText: 'compose.png is attached.' }).waitFor();
  if ((await page.locator('#attached input[name=media]').count()) !== 1) fail('the attached file is not in the form');
  if (!(await page.locator('#media-progress').isHidden())) fail('the progress bar stayed after the upload');
  const preview = await page.locator('.preview-card').first().innerText();
  if (!preview.includes('Hello from the dashboard') || !preview.includes('1 file attached')) fail(`the preview shows: ${preview}`);
  await checkAccessibility('compose');
  await shot('05-compose');
  await page.getByRole('button', { name: 'Publish' }).click();
  await page.waitForURL(/\/posts\/post_[^?]+\?notice=accepted/);
  const scheduled = await page.locator('#post-status').innerText();
  if (scheduled !== 'scheduled') fail(`a post 5 s ahead should be scheduled, was ${scheduled}`);
  // The page reloads itself until the post settles.
  await page.locator('#post-status', { hasText: /^published$/ }).waitFor({ timeout: 30000 });
  await checkAccessibility('post');
  await shot('06-published');

  // The calendar shows the post on its day, in the browser's time zone.
  await page.goto(`${base}/calendar`);
  await page.getByRole('link', { name: /Hello from the dashboard/ }).waitFor();
  await checkAccessibility('calendar-week');
  await shot('06b-calendar-week');
  await page.getByRole('link', { name: 'Month view' }).click();
  await page.getByRole('link', { name: /Hello from the dashboard/ }).waitFor();
  await checkAccessibility('calendar-month');

  // Create an API key: its secret is shown once.
  await page.goto(`${base}/keys`);
  await page.getByLabel('Name', { exact: true }).fill('from the browser');
  await page.getByLabel('posts:read').check();
  await page.getByRole('button', { name: 'Create key' }).click();
  const key = await page.getByLabel('New API key').inputValue();
  if (!key.startsWith('crier_live_')) fail(`the new key looks wrong: ${key.slice(0, 11)}`);
  await checkAccessibility('keys');
  await shot('07-key-once');
  await page.goto(`${base}/keys`);
  if ((await page.content()).includes(key)) fail('the key secret was shown a second time');
  if ((await page.getByLabel('New API key').count()) !== 0) fail('the key field came back');
  await page.goto(`${base}/security`);
  await checkAccessibility('security');
  await page.goto(`${base}/members`);
  await checkAccessibility('members');
  await page.goto(`${base}/webhooks`);
  await checkAccessibility('webhooks');

  // Passkeys, with Chromium's virtual authenticator (DevTools protocol, WebAuthn domain): one
  // that keeps discoverable credentials and verifies its user, as a phone or laptop does.
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  });
  await page.goto(`${base}/security`);
  await page.getByLabel(/Name of the new passkey/).fill('Test laptop');
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.getByRole('cell', { name: 'Test laptop', exact: true }).waitFor();
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  if (credentials.length !== 1 || !credentials[0].isResidentCredential) fail(`expected one discoverable credential, saw ${JSON.stringify(credentials)}`);
  await checkAccessibility('security-passkeys');
  await shot('09-passkey-added');

  // Passwordless: the passkey alone signs in (both factors).
  await page.getByRole('button', { name: 'Sign out' }).first().click();
  await page.waitForURL(`${base}/login`);
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await page.waitForURL(`${base}/`);
  await shot('10-passkey-sign-in');

  // Second factor: the password, then the passkey instead of the app's code.
  await page.getByRole('button', { name: 'Sign out' }).first().click();
  await page.waitForURL(`${base}/login`);
  await page.getByLabel('E-mail address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL(`${base}/login/second-factor`);
  await checkAccessibility('second-factor');
  await shot('11-second-factor');
  await page.getByRole('button', { name: 'Use a passkey' }).click();
  await page.waitForURL(`${base}/`);
  const after = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  if (after.credentials[0].signCount < 2) fail(`the passkey signed ${after.credentials[0].signCount} times, expected 2`);
  await page.goto(`${base}/security`);
  if (await page.getByRole('row', { name: /Test laptop/ }).getByText('never').count()) fail('the passkey\'s last use was not recorded');

  await page.goto(`${base}/audit`);
  for (const action of ['user.totp_enabled', 'passkey.added', 'user.login_passkey']) {
    if (!(await page.getByRole('cell', { name: action, exact: true }).count())) fail(`the audit log lacks ${action}`);
  }
  await checkAccessibility('audit');
  await shot('08-audit');

  // Removing the passkey.
  await page.goto(`${base}/security`);
  await page.getByRole('button', { name: 'Remove passkey Test laptop' }).click();
  await page.getByText('You have no passkey.').waitFor();

  if (problems.length) fail(problems.join('\n'));
  console.log(JSON.stringify({ ok: true, key, accessibility }));
} catch (err) {
  await shot('zz-failure').catch(() => {});
  console.error(`${err.stack || err}\nproblems so far:\n${problems.join('\n')}\nat ${page.url()}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
