// Headless Debian Chromium for the dashboard tests, driven by playwright-core
// (no browser download: the test setup installs the distribution's package).
// A fresh profile in a temp dir per browser; closed at teardown.
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { tempDir } from './env.js';

export const CHROMIUM = '/usr/bin/chromium';

interface T {
  teardown(fn: () => unknown): void;
}

/**
 * A browser with a fresh profile (--user-data-dir) in a temp dir.
 * `trustAnyCertificate`: for a gateway with a test certificate no CA signed.
 */
export async function launchBrowser(t: T, options: { trustAnyCertificate?: boolean } = {}): Promise<BrowserContext> {
  const profile = tempDir(t, 'wardgate-chromium-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    ignoreHTTPSErrors: options.trustAnyCertificate ?? false,
    headless: true,
    timeout: 30_000,
    viewport: { width: 1400, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
  t.teardown(() => context.close());
  return context;
}

/**
 * A page that records every request it makes and lets only the gateway's
 * origin through: anything else is aborted and listed in `foreign`.
 */
export async function gatewayPage(
  context: BrowserContext,
  origin: string,
): Promise<{ page: Page; requests: string[]; foreign: string[]; errors: string[] }> {
  const requests: string[] = [];
  const foreign: string[] = [];
  const errors: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    requests.push(url);
    if (new URL(url).origin === origin) return route.continue();
    foreign.push(url);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.on('pageerror', (err) => errors.push(String(err)));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/status of 40[13]/.test(msg.text())) errors.push(msg.text());
  });
  page.setDefaultTimeout(10_000);
  return { page, requests, foreign, errors };
}

export async function logIn(page: Page, origin: string, name: string, password: string): Promise<void> {
  await page.goto(`${origin}/`);
  await page.fill('#login-name', name);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
  await page.waitForSelector('#topbar:not([hidden])');
}
