// End-to-end run of the demo page in Debian's Chromium (headless, driven by playwright-core; no browser
// download). Started by web/browser_test.go against a real node:
//   node e2e/demo.mjs BASE_URL SCREENSHOT_DIR
// Register, sign in, verify the MPIN, type the payee field enough times to enroll it, see `allow` decisions with
// the same rhythm, then type it with very different timing and see a challenge. Exits non-zero with the reason on
// the first failed expectation.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [base, shots = '.'] = process.argv.slice(2);
const ENROLL = Number(process.env.ENROLL || 6);
mkdirSync(shots, { recursive: true });

// A seeded generator, so that a failure can be replayed.
let seed = 7;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
const jitter = (ms) => Math.max(5, ms * (1 + 0.06 * gauss()));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const logs = [];
page.on('console', (m) => logs.push(`[${m.type()}] ${m.text()}`));
page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));

async function fail(msg) {
  await page.screenshot({ path: join(shots, 'browser-demo-failed.png'), fullPage: true }).catch(() => {});
  console.error(`FAIL: ${msg}\n--- page console ---\n${logs.slice(-40).join('\n')}`);
  await browser.close();
  process.exit(1);
}
const count = (sel) => page.locator(sel).count();
async function waitCount(sel, atLeast, what, timeout = 20000) {
  const end = Date.now() + timeout;
  while ((await count(sel)) < atLeast) {
    if (Date.now() > end) await fail(`timed out waiting for ${what}: ${sel} ${await count(sel)} < ${atLeast}`);
    await page.waitForTimeout(100);
  }
}

// A person's rhythm differs from key to key (some keys are held longer, some transitions are slower) and
// repeats from one entry to the next with a little noise: that is what the engine learns. Uniform timing would
// rightly be refused as machine-made.
const TEXT = 'ravi kumar';
const rhythm = (holdMean, flightMean) => [...TEXT].map(() => ({
  hold: holdMean * (0.7 + 0.6 * rand()),
  flight: flightMean * (0.6 + 0.8 * rand()),
}));
const owner = rhythm(85, 140);
const stranger = rhythm(240, 520);

// typeEntry types the payee key by key with the given rhythm, then presses Enter, which commits the entry.
async function typeEntry(r) {
  await page.focus('#payee');
  const keys = [...TEXT];
  for (let i = 0; i < keys.length; i++) {
    await page.keyboard.down(keys[i]);
    await page.waitForTimeout(jitter(r[i].hold));
    await page.keyboard.up(keys[i]);
    await page.waitForTimeout(jitter(r[i].flight));
  }
  await page.keyboard.press('Enter');
  await page.waitForTimeout(150);
}

try {
  await page.goto(`${base}/`);
  await page.fill('#phone', '+919876501234');
  await page.fill('#password', 'a demo password 42');
  await page.fill('#name', 'Asha Rao');
  await page.fill('#mpin', '480917');
  await page.click('#register');
  await page.waitForSelector('#verify:not([disabled])', { timeout: 20000 });
  await page.click('#verify');
  await page.waitForSelector('#status[data-state="live"]', { timeout: 20000 });

  for (let i = 0; i < ENROLL; i++) await typeEntry(owner);
  await waitCount('#decisions li[data-field="payee"][data-mode="enrolling"]', ENROLL, 'enrollment decisions');
  for (let i = 0; i < 3; i++) await typeEntry(owner);
  await waitCount('#decisions li[data-field="payee"][data-mode="scoring"]', 3, 'scored decisions');
  const allowed = await count('#decisions li[data-field="payee"][data-mode="scoring"][data-action="allow"]');
  if (allowed < 2) await fail(`the owner's own rhythm was allowed ${allowed} times out of 3`);
  await page.screenshot({ path: join(shots, 'browser-demo-allow.png'), fullPage: true });

  // The same text with very different timing: long holds, slow flights.
  const challenged = async () =>
    (await count('#decisions li[data-action="challenge"]')) + (await count('#decisions li[data-action="block"]')) > 0;
  for (let i = 0; i < 4 && !(await challenged()); i++) {
    await typeEntry(stranger);
    await page.waitForTimeout(300);
  }
  if (!(await challenged())) await fail('typing with very different timing was never challenged');
  await page.waitForSelector('#challenge-dialog[open]', { timeout: 10000 });
  await page.screenshot({ path: join(shots, 'browser-demo-challenge.png'), fullPage: true });
  console.log(`ok: enrolled ${ENROLL}, allowed ${allowed}/3, challenged`);
} catch (e) {
  await fail(e.stack || String(e));
}
await browser.close();
