// The agent's dashboard in a real browser (Debian's chromium, driven by
// playwright-core), for the tests that watch it through faults: where chromium
// is, how it is launched, and how the page's clock words a time.
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Screenshots for people to look at (gitignored). */
export const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));

/** Debian's chromium, where .ci/run installs it; WARDLINE_CHROMIUM overrides. */
export function findChromium(): string | undefined {
  return [process.env.WARDLINE_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path): path is string => !!path && existsSync(path));
}

export async function launchChromium(executablePath: string): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A page on a wall screen's width, in English, that reports its script errors. */
export async function openPage(browser: Browser, url: string, viewport = { width: 1600, height: 1000 }): Promise<Page> {
  const page = await browser.newPage({ viewport, locale: 'en-GB' });
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  await page.goto(url);
  return page;
}

/** A time of today as the English dashboard shows it (format.js clock): 14:03:07. */
export function shownClock(ms: number): string {
  return new Date(ms).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

export function screenshot(page: Page, name: string): Promise<Buffer> {
  return page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });
}
