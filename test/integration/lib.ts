/**
 * Helpers shared by the integration tests: tools on PATH, free loopback ports, child processes
 * killed by PID, the turnkit server (in-process API and CLI), a coturn control server, and STUN
 * requests over UDP / TCP / TLS built with our own codec. Only loopback addresses are used.
 *
 * Local to test/integration until test/helpers/ provides the same; not a test file itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { randomBytes, randomInt } from 'node:crypto';
import { accessSync, constants as fsConstants, existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { decodeMessage, encodeMessage, getAttribute, type StunAttribute, type StunMessage } from '../../src/stun/message.js';
import { AttributeType, MAGIC_COOKIE, MessageClass, Method } from '../../src/stun/constants.js';
import { decodeAddress, decodeXorAddress } from '../../src/stun/attributes/address.js';
import type { TransportAddress } from '../../src/stun/ip.js';
import { systemPath } from '../helpers/tools.js';

// ---------------------------------------------------------------------------------------------
// Repository and tools

/** The repository root, found from this file's location (dist/test/integration or test/integration). */
export const repoRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'tsconfig.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the repository root from ' + import.meta.url);
})();

export const CLI_PATH = join(repoRoot, 'dist', 'bin', 'turnkit.js');
export const INDEX_PATH = join(repoRoot, 'dist', 'src', 'index.js');

/** Absolute path of an executable on PATH (or an absolute path that is executable), else undefined. */
export function whichTool(name: string): string | undefined {
  const candidates = name.includes('/') ? [name] : systemPath().split(delimiter).map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, fsConstants.X_OK);
      return c;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

export function hasTool(name: string): boolean {
  return whichTool(name) !== undefined;
}

/** Whether UDP can bind `host` (an IPv6 socket IPv6-only), closing the probe socket again. */
async function canBindUdp(host: string): Promise<boolean> {
  const s = host.includes(':') ? dgram.createSocket({ type: 'udp6', ipv6Only: true }) : dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, host, () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    try {
      s.close();
    } catch {
      // already closed
    }
  }
}

/** Whether 127.0.0.2 can be bound (Linux routes all of 127/8 to lo; some systems do not). */
export function canBindAltLoopback(): Promise<boolean> {
  return canBindUdp('127.0.0.2');
}

/** Whether UDP can bind the IPv6 loopback ::1 (containers and some CI hosts run without IPv6). */
export function canBindIpv6Loopback(): Promise<boolean> {
  return canBindUdp('::1');
}

/** A temp directory removed in teardown. */
export function tempDir(t: Teardown, prefix = 'turnkit-it-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The part of a tap Test this module needs (keeps the helpers independent of tap's types). */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Free ports

async function canBind(kind: 'udp' | 'tcp', host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (kind === 'udp') {
      const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
      s.once('error', () => resolve(false));
      s.bind(port, host, () => s.close(() => resolve(true)));
    } else {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, host, () => s.close(() => resolve(true)));
    }
  });
}

/**
 * A port P such that P..P+span-1 are free for UDP and TCP on every host, chosen at random from
 * the high range. Racy by nature (someone may take it before we bind), so callers retry.
 */
export async function freePortRange(hosts: string[], span = 2, kinds: Array<'udp' | 'tcp'> = ['udp', 'tcp']): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = randomInt(20000, 60000);
    let ok = true;
    for (let p = base; p < base + span && ok; p++) {
      for (const h of hosts) {
        for (const k of kinds) {
          if (!(await canBind(k, h, p))) {
            ok = false;
            break;
          }
        }
        if (!ok) break;
      }
    }
    if (ok) return base;
  }
  throw new Error('no free port range found');
}

// ---------------------------------------------------------------------------------------------
// Processes

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a command to completion (or kills it by PID after timeoutMs) and collects its output. */
export function run(cmd: string, args: string[], opts: { timeoutMs?: number; t?: Teardown } = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 20000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const killIt = () => {
      if (child.exitCode === null && child.signalCode === null && child.pid) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    };
    opts.t?.teardown(killIt);
    const timer = setTimeout(() => {
      timedOut = true;
      killIt();
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** Stops a child we started: SIGTERM to its PID, SIGKILL after graceMs. Resolves with its exit. */
export function stopChild(child: ChildProcess, graceMs = 3000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    const pid = child.pid;
    const timer = setTimeout(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }, graceMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      clearTimeout(timer);
      resolve({ code: child.exitCode, signal: child.signalCode });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// turnkit: the contract the lead implements

export interface ListenerInfo {
  transport: 'udp' | 'tcp' | 'tls';
  address: string;
  port: number;
}

export interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
}
export interface MetricJson {
  name: string;
  values: MetricValue[];
}
export interface MetricsRegistry {
  getMetricsAsJSON(): Promise<MetricJson[]> | MetricJson[];
}

/**
 * The registry behind `metrics`: the contract says `metrics` is the prom-client Registry; accept
 * an object holding it as `.registry` too, so the behaviour tests run either way (bad-input.test
 * asserts the contract shape separately).
 */
function registryOf(reg: MetricsRegistry | { registry: MetricsRegistry }): MetricsRegistry {
  if (typeof (reg as MetricsRegistry).getMetricsAsJSON === 'function') return reg as MetricsRegistry;
  const inner = (reg as { registry?: MetricsRegistry }).registry;
  if (inner && typeof inner.getMetricsAsJSON === 'function') return inner;
  throw new Error('metrics is neither a prom-client Registry nor an object with .registry');
}

export interface StartOptions {
  listen: Array<{ host: string; port: number }>;
  altAddress?: string;
  altPort?: number;
  tlsListen?: Array<{ host: string; port: number }>;
  cert?: string;
  key?: string;
  software?: string | null;
  logLevel?: 'silent' | 'debug' | 'info' | 'warn' | 'error';
  [extra: string]: unknown;
}

export interface RunningServer {
  listeners: ListenerInfo[];
  metrics: MetricsRegistry;
  close(): Promise<void>;
}

type StartServer = (opts: StartOptions) => Promise<RunningServer>;

/**
 * `startServer` from dist/src/index.js, loaded at run time so this file compiles before the
 * server exists. Throws a clear error if the build has no server yet.
 */
export async function loadStartServer(): Promise<StartServer> {
  if (!existsSync(INDEX_PATH)) throw new Error(`turnkit is not built: ${INDEX_PATH} is missing (run npx tsc -p .)`);
  const mod = (await import(pathToFileURL(INDEX_PATH).href)) as { startServer?: StartServer };
  if (typeof mod.startServer !== 'function') throw new Error(`${INDEX_PATH} does not export startServer`);
  return mod.startServer;
}

/**
 * The data plane servers started here use: `TEST_DATA_PLANE` (scripts/test.mjs sets it to js for
 * its second pass over these tests), else the server's default (native when built).
 */
export const TEST_DATA_PLANE = process.env.TEST_DATA_PLANE;

/** Starts turnkit in-process and closes it in teardown. */
export async function startTurnkit(t: Teardown, opts: StartOptions): Promise<RunningServer> {
  const startServer = await loadStartServer();
  const s = await startServer({ logLevel: 'silent', ...(TEST_DATA_PLANE ? { dataPlane: TEST_DATA_PLANE } : {}), ...opts });
  t.teardown(() => s.close());
  return s;
}

/**
 * Starts a TURN server for relay-only browser and werift tests on 127.0.0.1: a 40-port relay range,
 * the given static users and REST secret, loopback peers allowed only when asked. Returns its UDP
 * and TCP ports, and with `tls` (certificate and key files) a TLS listener's port too.
 */
export async function startRelayTurn(
  t: Teardown,
  opts: { realm: string; users: Record<string, string>; secret: string; allowLoopback: boolean; tls?: { certFile: string; keyFile: string } },
): Promise<{ server: RunningServer; port: number; tcpPort: number; tlsPort?: number }> {
  const relay = await freePortRange(['127.0.0.1'], 40, ['udp']);
  const server = await startTurnkit(t, {
    listen: [{ host: '127.0.0.1', port: 0 }],
    realm: opts.realm,
    users: opts.users,
    secrets: [opts.secret],
    relayPorts: `${relay}-${relay + 39}`,
    relayIp: '127.0.0.1',
    ...(opts.allowLoopback ? { allowPeers: ['127.0.0.0/8'] } : {}),
    ...(opts.tls ? { tlsListen: [{ host: '127.0.0.1', port: 0 }], cert: opts.tls.certFile, key: opts.tls.keyFile } : {}),
  });
  const udp = server.listeners.find((l) => l.transport === 'udp');
  if (!udp) throw new Error(`no UDP listener: ${JSON.stringify(server.listeners)}`);
  const tcp = server.listeners.find((l) => l.transport === 'tcp')!;
  const tls = server.listeners.find((l) => l.transport === 'tls');
  return { server, port: udp.port, tcpPort: tcp.port, ...(tls ? { tlsPort: tls.port } : {}) };
}

/**
 * Starts turnkit in-process with RFC 5780 on 127.0.0.1 + 127.0.0.2, ports P and P+1, retrying
 * when the chosen ports were taken in the meantime.
 */
export async function startTurnkitRfc5780(t: Teardown, extra: Partial<StartOptions> = {}): Promise<{ server: RunningServer; port: number }> {
  let lastError: unknown;
  for (let i = 0; i < 5; i++) {
    const port = await freePortRange(['127.0.0.1', '127.0.0.2'], 2);
    try {
      const server = await startTurnkit(t, {
        listen: [{ host: '127.0.0.1', port }],
        altAddress: '127.0.0.2',
        altPort: port + 1,
        ...extra,
      });
      return { server, port };
    } catch (e) {
      lastError = e;
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    }
  }
  throw lastError;
}

export interface CliServer {
  child: ChildProcess;
  listeners: ListenerInfo[];
  ready: Record<string, unknown>;
  stdout: () => string;
  stderr: () => string;
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Spawns `node dist/bin/turnkit.js serve ...args`, resolves on the JSON line with "msg":"ready"
 * (rejects if it exits first or after timeoutMs), and stops it by PID in teardown.
 */
export function startTurnkitCli(t: Teardown, args: string[], timeoutMs = 10000): Promise<CliServer> {
  return new Promise((resolve, reject) => {
    if (!existsSync(CLI_PATH)) {
      reject(new Error(`turnkit CLI is not built: ${CLI_PATH} is missing`));
      return;
    }
    const env = TEST_DATA_PLANE ? { ...process.env, TURNKIT_DATA_PLANE: TEST_DATA_PLANE } : process.env;
    const child = spawn(process.execPath, [CLI_PATH, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    let done = false;
    const server: Omit<CliServer, 'listeners' | 'ready'> = {
      child,
      stdout: () => out,
      stderr: () => err,
      stop: () => stopChild(child),
    };
    t.teardown(() => stopChild(child));
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      void stopChild(child);
      reject(new Error(`turnkit did not print a ready line within ${timeoutMs} ms\nstdout: ${out}\nstderr: ${err}`));
    }, timeoutMs);
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (done) return;
      for (const line of out.split('\n')) {
        if (!line.includes('"ready"')) continue;
        let obj: Record<string, unknown>;
        try {
          obj = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (obj.msg !== 'ready') continue;
        done = true;
        clearTimeout(timer);
        resolve({ ...server, listeners: (obj.listeners ?? []) as ListenerInfo[], ready: obj });
        return;
      }
    });
    child.once('exit', (code, signal) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`turnkit exited (code ${code}, signal ${signal}) before ready\nstdout: ${out}\nstderr: ${err}`));
    });
  });
}

/** CLI with RFC 5780 on 127.0.0.1/127.0.0.2, ports P and P+1 (retried on a port race). */
export async function startTurnkitCliRfc5780(t: Teardown, extra: string[] = []): Promise<{ server: CliServer; port: number }> {
  let lastError: unknown;
  for (let i = 0; i < 5; i++) {
    const port = await freePortRange(['127.0.0.1', '127.0.0.2'], 2);
    try {
      const server = await startTurnkitCli(t, [
        '--listen', `127.0.0.1:${port}`, '--alt-address', '127.0.0.2', '--alt-port', String(port + 1), '--log-level', 'info', ...extra,
      ]);
      return { server, port };
    } catch (e) {
      lastError = e;
      if (!String(e).includes('EADDRINUSE')) throw e;
    }
  }
  throw lastError;
}

/** Sum of a counter's values whose labels match `labels` (all given labels equal). */
export async function counterSum(reg: MetricsRegistry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const all = await registryOf(reg).getMetricsAsJSON();
  const m = all.find((x) => x.name === name);
  if (!m) return 0;
  let sum = 0;
  for (const v of m.values) {
    if (Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) sum += v.value;
  }
  return sum;
}

/** Whether a metric of this name is registered at all. */
export async function hasMetric(reg: MetricsRegistry, name: string): Promise<boolean> {
  return (await registryOf(reg).getMetricsAsJSON()).some((x) => x.name === name);
}

/** All metrics as JSON (see registryOf). */
export async function metricsJson(reg: MetricsRegistry): Promise<MetricJson[]> {
  return registryOf(reg).getMetricsAsJSON();
}

/** Polls until the counter reaches at least `atLeast` or timeoutMs passes; returns the last value. */
export async function waitForCounter(reg: MetricsRegistry, name: string, labels: Record<string, string>, atLeast: number, timeoutMs = 1000): Promise<number> {
  const end = Date.now() + timeoutMs;
  let v = await counterSum(reg, name, labels);
  while (v < atLeast && Date.now() < end) {
    await sleep(20);
    v = await counterSum(reg, name, labels);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// coturn as the control server

export interface Coturn {
  port: number;
  pid: number;
  stop(): Promise<unknown>;
}

/**
 * Starts coturn's turnserver on loopback (two IPs → RFC 5780 on, like turnkit --alt-address).
 * `-n`: ignore /etc/turnserver.conf (Debian's disables RFC 5780 and RFC 3489 answers).
 */
export async function startCoturn(t: Teardown, opts: { rfc5780: boolean }): Promise<Coturn> {
  const dir = tempDir(t, 'turnkit-coturn-');
  const hosts = opts.rfc5780 ? ['127.0.0.1', '127.0.0.2'] : ['127.0.0.1'];
  const port = await freePortRange(hosts, 2);
  const relay = await freePortRange(['127.0.0.1'], 20, ['udp']);
  const args = [
    '-n', '--no-cli', '--no-tls', '--no-dtls',
    ...hosts.flatMap((h) => ['--listening-ip', h]),
    '--listening-port', String(port), '--alt-listening-port', String(port + 1),
    '--relay-ip', '127.0.0.1', '--min-port', String(relay), '--max-port', String(relay + 19),
    '--pidfile', join(dir, 'turnserver.pid'), '--log-file', 'stdout', '--simple-log',
  ];
  const child = spawn(whichTool('turnserver')!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => stopChild(child));
  if (!child.pid) throw new Error('turnserver did not start');
  // Ready when it answers a Binding request.
  const end = Date.now() + 8000;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`turnserver exited with ${child.exitCode}`);
    const c = await UdpClient.open(t);
    const r = await c.request(bindingRequest(), port, '127.0.0.1', 200);
    c.close();
    if (r) return { port, pid: child.pid, stop: () => stopChild(child) };
  }
  throw new Error('turnserver did not answer within 8 s');
}

// ---------------------------------------------------------------------------------------------
// STUN messages (our codec)

export { AttributeType, MAGIC_COOKIE, MessageClass, Method };
export type { StunMessage, StunAttribute, TransportAddress };

export function bindingRequest(attributes: StunAttribute[] = [], opts: { fingerprint?: boolean; transactionId?: Buffer } = {}): Buffer {
  return encodeMessage(
    {
      method: Method.Binding,
      cls: MessageClass.Request,
      transactionId: opts.transactionId ?? randomBytes(12),
      cookie: MAGIC_COOKIE,
      attributes,
    },
    { fingerprint: opts.fingerprint ?? false },
  );
}

/** An RFC 3489 Binding request: no magic cookie, a 16-byte transaction ID (bytes 4..20). */
export function rfc3489BindingRequest(attributes: StunAttribute[] = [], txid16: Buffer = randomBytes(16)): Buffer {
  let len = 0;
  for (const a of attributes) len += 4 + ((a.value.length + 3) & ~3);
  const out = Buffer.alloc(20 + len);
  out.writeUInt16BE(0x0001, 0);
  out.writeUInt16BE(len, 2);
  // Make sure it does not accidentally carry the magic cookie.
  if (txid16.readUInt32BE(0) === MAGIC_COOKIE) txid16[0] ^= 0xff;
  txid16.copy(out, 4);
  let off = 20;
  for (const a of attributes) {
    out.writeUInt16BE(a.type, off);
    out.writeUInt16BE(a.value.length, off + 2);
    a.value.copy(out, off + 4);
    off += 4 + ((a.value.length + 3) & ~3);
  }
  return out;
}

/** Decodes a response or throws with the reason (for assertions that need a message). */
export function mustDecode(buf: Buffer): StunMessage {
  const d = decodeMessage(buf);
  if (!d.ok) throw new Error(`response does not decode: ${d.reason} (${buf.toString('hex')})`);
  return d.message;
}

export function xorMapped(m: StunMessage): TransportAddress | undefined {
  const a = getAttribute(m, AttributeType.XorMappedAddress);
  return a ? decodeXorAddress(a.value, m.transactionId) : undefined;
}

export function plainAddress(m: StunMessage, type: number): TransportAddress | undefined {
  const a = getAttribute(m, type);
  return a ? decodeAddress(a.value) : undefined;
}

export function attrTypes(m: StunMessage): number[] {
  return m.attributes.map((a) => a.type);
}

export const hostPort = (a: { address: string; port: number } | undefined): string => (a ? `${a.address}:${a.port}` : 'none');

// ---------------------------------------------------------------------------------------------
// UDP client

export interface Datagram {
  msg: Buffer;
  from: { address: string; port: number };
}

/** A UDP socket on 127.0.0.1 that queues what it receives. */
export class UdpClient {
  readonly socket: dgram.Socket;
  private queue: Datagram[] = [];
  private waiters: Array<(d: Datagram) => void> = [];
  private closed = false;

  private constructor(socket: dgram.Socket) {
    this.socket = socket;
    socket.on('message', (msg, rinfo) => {
      const d = { msg, from: { address: rinfo.address, port: rinfo.port } };
      const w = this.waiters.shift();
      if (w) w(d);
      else this.queue.push(d);
    });
  }

  static async open(t: Teardown, host = '127.0.0.1', port = 0): Promise<UdpClient> {
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, host, () => {
        s.off('error', reject);
        resolve();
      });
    });
    const c = new UdpClient(s);
    t.teardown(() => c.close());
    return c;
  }

  get address(): { address: string; port: number } {
    const a = this.socket.address();
    return { address: a.address, port: a.port };
  }

  send(buf: Buffer, port: number, host = '127.0.0.1'): void {
    this.socket.send(buf, port, host);
  }

  /** The next datagram, or undefined after timeoutMs. */
  next(timeoutMs = 1000): Promise<Datagram | undefined> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    return new Promise((resolve) => {
      const w = (d: Datagram) => {
        clearTimeout(timer);
        resolve(d);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        resolve(undefined);
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Sends and waits for one datagram. */
  async request(buf: Buffer, port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<Datagram | undefined> {
    this.send(buf, port, host);
    return this.next(timeoutMs);
  }

  /** Everything received within ms. */
  async drain(ms: number): Promise<Datagram[]> {
    await sleep(ms);
    const out = this.queue;
    this.queue = [];
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}
