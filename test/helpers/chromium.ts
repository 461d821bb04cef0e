import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, BrowserServer } from 'playwright-core';
import type { Teardownable } from './process.js';

/** Debian's Chromium, which playwright-core drives (it downloads no browser of its own). */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Flags from reference/webrtc.md: root needs --no-sandbox, the closed network wants no background
 * traffic, and loopback-only ICE needs --allow-loopback-in-peer-connection.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--allow-loopback-in-peer-connection',
];

/** Why a Chromium test cannot run here (its skip reason), or false when it can. */
export function chromiumMissing(): string | false {
  if (!existsSync(CHROMIUM)) {
    return `${CHROMIUM} not installed (Debian package chromium; scripts/install-test-deps.sh installs it when root)`;
  }
  try {
    createRequire(import.meta.url).resolve('playwright-core');
  } catch {
    return 'playwright-core not installed (npm devDependency)';
  }
  return false;
}

/** Resolves within ms or rejects; the promise itself keeps running. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    }),
  ]);
}

/** Launches Chromium with CHROMIUM_ARGS plus `extraArgs`; teardown closes it by the handle and, failing that, kills it by PID. */
export async function launchChromium(t: Teardownable, extraArgs: readonly string[] = []): Promise<{ browser: Browser; pid: number | undefined }> {
  const { chromium } = await import('playwright-core');
  const server: BrowserServer = await chromium.launchServer({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
    timeout: 30_000,
  });
  const pid = server.process().pid;
  t.teardown(async () => {
    try {
      await within(server.close(), 10_000, 'closing Chromium');
    } catch {
      await within(server.kill(), 10_000, 'killing Chromium').catch(() => undefined);
    }
    if (pid !== undefined) {
      try {
        process.kill(pid, 0);
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone, as it should be
      }
    }
  });
  const browser = await chromium.connect(server.wsEndpoint(), { timeout: 30_000 });
  t.teardown(() => within(browser.close(), 10_000, 'disconnecting from Chromium').catch(() => undefined));
  return { browser, pid };
}
