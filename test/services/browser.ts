/**
 * A real browser for the web page suites: Debian's `chromium` (package chromium), headless, driven
 * by puppeteer-core over the DevTools protocol, with a fresh profile each launch. Installs nothing:
 * CI runs `bash test/services/install.sh ... chromium` first.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { missingServer } from './availability.js';

/** Where Debian's chromium package puts the browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Why no browser can run here (the package is missing), or undefined. */
export function browserMissingReason(): string | undefined {
  return existsSync(CHROMIUM_PATH) ? undefined : `${CHROMIUM_PATH} is not installed (Debian package chromium)`;
}

/**
 * Whether the browser suites should be skipped: outside CI, when chromium is missing (the reason is
 * printed). Under CI a missing browser throws: the suite fails.
 */
export function skipBrowserSuite(): boolean {
  const reason = browserMissingReason();
  if (reason === undefined) return false;
  missingServer('browser', reason, 'bash test/services/install.sh chromium');
  return true;
}

/** A headless chromium with a profile of its own; `close()` ends it and removes the profile. */
export interface TestBrowser {
  readonly browser: Browser;
  close(): Promise<void>;
}

/** Launches headless chromium (no sandbox: the tests run as root) with a fresh `--user-data-dir`. */
export async function launchBrowser(): Promise<TestBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'tagstream-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--no-sandbox',
      '--headless=new',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
    ],
  });
  return {
    browser,
    close: async () => {
      await browser.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}
