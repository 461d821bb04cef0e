/**
 * A live turnkit daemon for fuzz, security and stress tests: `turnkit serve` as a child process on
 * 127.0.0.1 port 0 (every listener's port read from its ready line), its metrics scraped over HTTP,
 * its log lines kept, its memory and open descriptors read from /proc; and a TURN client over a real
 * UDP socket bound to a chosen loopback address (so that tests can be "another source").
 */
import dgram from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AttributeType, MessageClass } from '../../src/stun/constants.js';
import { decodeErrorCode } from '../../src/stun/attributes/error-code.js';
import { decodeXorAddress } from '../../src/stun/attributes/address.js';
import type { TransportAddress } from '../../src/stun/ip.js';
import { decodeMessage, getAttribute, type StunMessage } from '../../src/stun/message.js';
import { spawnTracked, type Teardownable, type TrackedProcess } from './process.js';
import { allocateRequest, type AllocateOptions, type Credentials } from './turn-client.js';

/** dist/bin/turnkit.js, found from this file (dist/test/helpers). */
export const TURNKIT_BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'turnkit.js');

/** One listener of the ready line. */
export interface ReadyListener {
  transport: 'udp' | 'tcp' | 'tls';
  role: string;
  address: string;
  port: number;
}

/** A running daemon. */
export interface Daemon {
  proc: TrackedProcess;
  pid: number;
  udp: number;
  tcp: number;
  tls?: number;
  /** Credential service / page port, when on. */
  http?: number;
  /** Metrics port. */
  metrics: number;
  /** Its state directory (a temp dir removed in teardown unless given). */
  stateDir: string;
  /** Parsed JSON log lines so far. */
  logs(): Array<Record<string, unknown>>;
  /** Sum of a metric's samples whose labels include `labels`. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

/** Options of {@link startDaemon}. */
export interface DaemonOptions {
  /** TLS certificate and key files: adds a TLS listener on 127.0.0.1:0. */
  tls?: { certFile: string; keyFile: string };
  /** Credential service / page on 127.0.0.1:0 (default true). */
  http?: boolean;
  /** Keep state here instead of a fresh temp dir (for restart tests). */
  stateDir?: string;
  /** Wrap the command, e.g. ['prlimit', '--nofile=64:64', '--'] (killed by PID like the rest). */
  wrapper?: string[];
  /** Options for node itself, before the script (e.g. ['--import', MEMORY_PROBE] for {@link probeMemory}). */
  nodeArgs?: string[];
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
}

/** Starts `turnkit serve` on loopback with `args` added; resolves once its ready line is out. */
export async function startDaemon(t: Teardownable, args: string[], o: DaemonOptions = {}): Promise<Daemon> {
  let stateDir = o.stateDir;
  if (!stateDir) {
    const dir = mkdtempSync(join(tmpdir(), 'turnkit-live-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    stateDir = join(dir, 'state');
  }
  const all = [
    TURNKIT_BIN, 'serve', '--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0', '--state-dir', stateDir, '--log-level', 'info',
    ...(o.http === false ? ['--no-http'] : ['--http-listen', '127.0.0.1:0']),
    ...(o.tls ? ['--tls-listen', '127.0.0.1:0', '--cert', o.tls.certFile, '--key', o.tls.keyFile] : []),
    ...args,
  ];
  const node = [process.execPath, ...(o.nodeArgs ?? [])];
  const [cmd, ...rest] = o.wrapper ? [...o.wrapper, ...node, ...all] : [...node, ...all];
  const proc = spawnTracked(cmd!, rest, { t, env: o.env ?? process.env });
  const line = await proc.waitForLine(/"msg":"ready"/, o.readyTimeoutMs ?? 15_000);
  const ready = JSON.parse(line) as { listeners: ReadyListener[]; credentials?: string; metrics?: string };
  const port = (transport: string): number | undefined => ready.listeners.find((l) => l.transport === transport && l.role === 'primary')?.port;
  const urlPort = (u: string | undefined): number | undefined => (u ? Number(new URL(u).port) : undefined);
  const metricsPort = urlPort(ready.metrics)!;
  const d: Daemon = {
    proc,
    pid: proc.pid,
    udp: port('udp')!,
    tcp: port('tcp')!,
    metrics: metricsPort,
    stateDir,
    logs: () =>
      proc.lines('stdout').flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
    metric: (name, labels = {}) => scrape(metricsPort, name, labels),
  };
  const tls = port('tls');
  if (tls !== undefined) d.tls = tls;
  const http = urlPort(ready.credentials);
  if (http !== undefined) d.http = http;
  return d;
}

/** Sum of the samples of metric `name` on a /metrics page whose labels include `labels`. */
export async function scrape(port: number, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.split(' ').pop());
  }
  return sum;
}

/** Resident memory (bytes) and open file descriptors of a process we started. */
export function processUsage(pid: number): { rss: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { rss: kb * 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
}

/** The preload that makes a daemon answer {@link probeMemory} (pass it with `nodeArgs: ['--import', MEMORY_PROBE]`). */
export const MEMORY_PROBE = join(dirname(fileURLToPath(import.meta.url)), 'memory-probe.js');

/** Memory of a daemon started with {@link MEMORY_PROBE} after a full GC, plus its rss and fds from /proc. */
export async function probeMemory(d: Daemon, timeoutMs = 10_000): Promise<NodeJS.MemoryUsage & { codeUsed: number; fds: number }> {
  const probes = (): string[] => d.proc.lines('stderr').filter((l) => l.startsWith('{"memoryProbe"'));
  const seen = probes().length;
  process.kill(d.pid, 'SIGUSR2');
  const deadline = Date.now() + timeoutMs;
  while (probes().length === seen) {
    if (Date.now() > deadline) throw new Error(`no memory probe answer from ${d.pid} (started with --import MEMORY_PROBE?)`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const usage = (JSON.parse(probes()[seen]!) as { memoryProbe: NodeJS.MemoryUsage & { codeUsed: number } }).memoryProbe;
  // rss from /proc now, after the collection (the probe's own figure is from just before it wrote).
  const now = processUsage(d.pid);
  return { ...usage, rss: now.rss, fds: now.fds };
}

/** 'success' or the ERROR-CODE number of a response. */
export function resultOf(m: StunMessage): 'success' | number | undefined {
  if (m.cls === MessageClass.SuccessResponse) return 'success';
  const a = getAttribute(m, AttributeType.ErrorCode);
  return a ? decodeErrorCode(a.value)?.code : undefined;
}

/** An XOR-* address attribute of a message, decoded. */
export function xorAddressOf(m: StunMessage, type: number): TransportAddress | undefined {
  const a = getAttribute(m, type);
  return a ? decodeXorAddress(a.value, m.transactionId) : undefined;
}

/** A TURN/STUN client on one UDP socket (one 5-tuple) talking to a live server. */
export class LiveUdpClient {
  /** Datagrams that answered no pending request (indications, ChannelData, stray answers). */
  readonly unsolicited: Buffer[] = [];
  private readonly pending = new Map<string, (m: StunMessage) => void>();

  private constructor(
    readonly socket: dgram.Socket,
    readonly serverPort: number,
    readonly serverHost: string,
  ) {
    socket.on('message', (msg) => {
      const d = decodeMessage(msg);
      const waiter = d.ok ? this.pending.get(d.message.transactionId.toString('hex')) : undefined;
      if (d.ok && waiter) waiter(d.message);
      else if (this.unsolicited.length < 10_000) this.unsolicited.push(msg);
    });
  }

  /** Opens a socket on `localIp` (any 127/8 address works on Linux) for the server at `serverPort`. */
  static async open(t: Teardownable, serverPort: number, localIp = '127.0.0.1', serverHost = '127.0.0.1'): Promise<LiveUdpClient> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, localIp, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const c = new LiveUdpClient(socket, serverPort, serverHost);
    t.teardown(() => c.close());
    return c;
  }

  /** The socket's own address. */
  get local(): TransportAddress {
    const a = this.socket.address();
    return { family: 'IPv4', address: a.address, port: a.port };
  }

  /** Sends raw bytes to the server. */
  send(data: Buffer): void {
    this.socket.send(data, this.serverPort, this.serverHost);
  }

  /**
   * Sends a request and resolves with its answer, or undefined after `timeoutMs`; retransmits twice
   * meanwhile (RFC 8489 style) unless `retransmit` is false (when each copy would count, as guesses do).
   */
  request(r: { data: Buffer; transactionId: Buffer }, timeoutMs = 1500, retransmit = true): Promise<StunMessage | undefined> {
    const id = r.transactionId.toString('hex');
    return new Promise((resolve) => {
      const timers: NodeJS.Timeout[] = [];
      const done = (m: StunMessage | undefined): void => {
        for (const x of timers) clearTimeout(x);
        this.pending.delete(id);
        resolve(m);
      };
      this.pending.set(id, done);
      this.send(r.data);
      if (retransmit) {
        timers.push(setTimeout(() => this.send(r.data), timeoutMs / 3));
        timers.push(setTimeout(() => this.send(r.data), (2 * timeoutMs) / 3));
      }
      timers.push(setTimeout(() => done(undefined), timeoutMs));
    });
  }

  /** The 401 dance, then a signed Allocate: its answer and the credentials (with the NONCE). */
  async allocate(username: string, password: string, realm: string, opts: AllocateOptions = {}): Promise<{ answer: StunMessage | undefined; creds: Credentials }> {
    const challenge = await this.request(allocateRequest(undefined, opts));
    const nonce = challenge ? getAttribute(challenge, AttributeType.Nonce)?.value.toString('utf8') : undefined;
    const creds: Credentials = { username, password, realm, nonce: nonce ?? '' };
    if (nonce === undefined) return { answer: challenge, creds };
    return { answer: await this.request(allocateRequest(creds, opts)), creds };
  }

  /** Closes the socket (idempotent). */
  close(): void {
    for (const w of this.pending.values()) w(undefined as unknown as StunMessage);
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}
