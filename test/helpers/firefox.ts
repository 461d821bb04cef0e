// Debian's Firefox ESR for WebRTC interop tests, driven over WebDriver BiDi (Firefox's built-in
// remote protocol; playwright-core drives only its own patched Firefox builds). Firefox runs in its
// own process group (it starts content processes), which the teardown kills by PGID; its throwaway
// profile turns off every service that would reach out, and DNS itself: the pages, the TURN
// servers and the peers are IP literals on loopback.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { Teardownable } from './process.js';
import { within } from './chromium.js';

/** Debian's Firefox ESR. */
export const FIREFOX = '/usr/bin/firefox-esr';

/**
 * Preferences of the test profile: no network service of Mozilla's (updates, telemetry, captive
 * portal and connectivity checks, remote settings, push, safe browsing, OpenH264 download), no
 * DNS at all, loopback allowed in ICE (Firefox leaves 127.0.0.1 out by default), and a fake camera
 * and microphone granted without asking, with video allowed to play.
 */
const PREFS: Record<string, string | number | boolean> = {
  'network.dns.disabled': true,
  'network.trr.mode': 5,
  'network.proxy.type': 0,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'network.prefetch-next': false,
  'network.http.speculative-parallel-limit': 0,
  'app.update.auto': false,
  'app.update.enabled': false,
  'app.normandy.enabled': false,
  'browser.shell.checkDefaultBrowser': false,
  'browser.startup.page': 0,
  'browser.startup.homepage_override.mstone': 'ignore',
  'browser.aboutwelcome.enabled': false,
  'browser.newtabpage.enabled': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'browser.safebrowsing.downloads.enabled': false,
  'browser.safebrowsing.blockedURIs.enabled': false,
  'browser.region.network.url': '',
  'datareporting.policy.dataSubmissionEnabled': false,
  'datareporting.healthreport.uploadEnabled': false,
  'toolkit.telemetry.enabled': false,
  'toolkit.telemetry.unified': false,
  'dom.push.enabled': false,
  'dom.push.connection.enabled': false,
  'extensions.update.enabled': false,
  'extensions.getAddons.cache.enabled': false,
  'extensions.systemAddon.update.enabled': false,
  'media.gmp-manager.updateEnabled': false,
  'services.settings.server': 'http://127.0.0.1:9/',
  'geo.provider.network.url': '',
  'media.peerconnection.ice.loopback': true,
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  'media.autoplay.default': 0,
};

/** Why a Firefox test cannot run here (its skip reason), or false when it can. */
export function firefoxMissing(): string | false {
  return existsSync(FIREFOX)
    ? false
    : `${FIREFOX} not installed (Debian package firefox-esr; scripts/install-test-deps.sh installs it when root)`;
}

/** A tab. */
export interface FirefoxPage {
  /** Evaluates `expression` in the page, awaits it, and returns its value through JSON. */
  evaluate<T>(expression: string, ms?: number): Promise<T>;
  /** Polls `expression` every 250 ms until it is truthy, for at most `ms`. */
  waitFor(expression: string, ms: number): Promise<void>;
  /** Closes the tab. */
  close(): Promise<void>;
}

/** A running Firefox. */
export interface Firefox {
  /** Browser name and version, from the BiDi session. */
  version: string;
  /** Firefox's PID (also its process group). */
  pid: number;
  /** Opens `url` in a new tab and waits for it to load. */
  newPage(url: string): Promise<FirefoxPage>;
}

type BidiReply = { id?: number; type: string; result?: Record<string, unknown>; error?: string; message?: string };

/** Starts a headless Firefox with a fresh profile and a BiDi session; all undone in `t`'s teardown. */
export async function launchFirefox(t: Teardownable): Promise<Firefox> {
  const profile = mkdtempSync(join(os.tmpdir(), 'turnkit-firefox-'));
  writeFileSync(join(profile, 'user.js'), Object.entries(PREFS).map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});\n`).join(''));
  const child = spawn(FIREFOX, ['--headless', '--no-remote', '--profile', profile, '--remote-debugging-port', '0', 'about:blank'], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const pid = child.pid ?? -1;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // the group is gone
    }
  };
  const lastResort = () => killGroup('SIGKILL');
  process.once('exit', lastResort);
  let ws: WebSocket | undefined;
  t.teardown(async () => {
    ws?.terminate();
    killGroup('SIGTERM');
    await within(exited, 5_000, 'Firefox exiting').catch(() => undefined);
    killGroup('SIGKILL'); // content processes that outlived the parent
    process.removeListener('exit', lastResort);
    rmSync(profile, { recursive: true, force: true });
  });

  let stderr = '';
  const endpoint = await within(
    new Promise<string>((resolve, reject) => {
      child.stderr?.setEncoding('utf8').on('data', (d: string) => {
        stderr = (stderr + d).slice(-4000);
        const m = /WebDriver BiDi listening on (ws:\/\/\S+)/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`Firefox exited (${code}) before BiDi was up: ${stderr}`)));
      child.once('error', reject);
    }),
    30_000,
    'Firefox starting its BiDi endpoint',
  );
  const socket = new WebSocket(`${endpoint}/session`);
  ws = socket;
  await within(new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject)), 10_000, 'connecting to BiDi');
  let nextId = 1;
  const pending = new Map<number, (r: BidiReply) => void>();
  socket.on('message', (data) => {
    const reply = JSON.parse(String(data)) as BidiReply;
    if (reply.id !== undefined) pending.get(reply.id)?.(reply);
  });
  const command = async (method: string, params: object, ms = 30_000): Promise<Record<string, unknown>> => {
    const id = nextId++;
    const reply = await within(new Promise<BidiReply>((resolve) => {
      pending.set(id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
    }), ms, `BiDi ${method}`).finally(() => pending.delete(id));
    if (reply.type !== 'success') throw new Error(`BiDi ${method}: ${reply.error}: ${reply.message}`);
    return reply.result ?? {};
  };

  const session = await command('session.new', { capabilities: {} });
  const caps = session.capabilities as { browserName: string; browserVersion: string };

  const pageOf = (context: string): FirefoxPage => {
    const evaluate = async <T>(expression: string, ms = 30_000): Promise<T> => {
      const r = await command('script.evaluate', {
        expression: `(async () => JSON.stringify(await (${expression})))()`,
        target: { context },
        awaitPromise: true,
        resultOwnership: 'none',
      }, ms);
      if (r.type === 'exception') {
        throw new Error(`in Firefox: ${(r.exceptionDetails as { text?: string } | undefined)?.text ?? JSON.stringify(r)}`);
      }
      const value = (r.result as { type: string; value?: string }).value;
      return (value === undefined ? undefined : JSON.parse(value)) as T;
    };
    return {
      evaluate,
      async waitFor(expression: string, ms: number): Promise<void> {
        const until = Date.now() + ms;
        while (!(await evaluate<boolean>(`Boolean(${expression})`))) {
          if (Date.now() > until) throw new Error(`Firefox: still not true after ${ms} ms: ${expression}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      },
      async close(): Promise<void> {
        await command('browsingContext.close', { context }, 10_000);
      },
    };
  };

  return {
    version: `${caps.browserName} ${caps.browserVersion}`,
    pid,
    async newPage(url: string): Promise<FirefoxPage> {
      const { context } = (await command('browsingContext.create', { type: 'tab' })) as { context: string };
      await command('browsingContext.navigate', { context, url, wait: 'complete' }, 20_000);
      return pageOf(context);
    },
  };
}
