/**
 * The real-socket half of the churn test, as functions (churn.test.ts) and as a program for the long
 * run: `node dist/test/stress/churn-socket.js [--plane native|js] [--batch N] [--batches N] [--idle S]`
 * starts a daemon with the memory probe preloaded, runs a warm-up batch and then equal batches of
 * allocate / refresh / permission / channel / data / delete cycles over UDP (every 40th cycle also
 * an allocation over TCP that ends with its connection), and prints one JSON line per measurement:
 * rss, heap and array buffers after a full GC, and open descriptors.
 */
import net from 'node:net';
import { AttributeType } from '../../src/stun/constants.js';
import { LiveUdpClient, MEMORY_PROBE, probeMemory, resultOf, startDaemon, type Daemon } from '../helpers/live-turn.js';
import type { Teardownable } from '../helpers/process.js';
import { TRANSACTION_WINDOW_MS } from '../../src/turn/transactions.js';
import { allocateRequest, channelBindRequest, channelData, createPermissionRequest, refreshRequest, type Credentials } from '../helpers/turn-client.js';

/** The realm, user and password of the churn daemon. */
export const CHURN_REALM = 'churn.example';
const USER = 'churn';
const PASSWORD = 'churn-pw';

/**
 * A daemon for churn: no quotas in the way, the loopback peer allowed, the memory probe preloaded,
 * and without NODE_OPTIONS, where `tap` puts its process-info hooks (they would be measured too). It
 * adds them back to any spawn's environment, hence `env -u`, which execs node under the same PID.
 * Bytecode flushing is off: it drops and recompiles functions by how recently they ran, which moved
 * the heap after a full GC by ±200 KiB between equal batches (±50 KiB without it).
 */
export async function startChurnDaemon(t: Teardownable, plane?: 'native' | 'js'): Promise<Daemon> {
  return startDaemon(
    t,
    ['--realm', CHURN_REALM, '--user', `${USER}:${PASSWORD}`, '--allow-peer', '127.0.0.1/32', '--max-allocations-per-user', '0', '--max-allocations-per-ip', '0',
      ...(plane ? ['--data-plane', plane] : [])],
    { http: false, wrapper: ['env', '-u', 'NODE_OPTIONS'], nodeArgs: ['--no-flush-bytecode', '--import', MEMORY_PROBE] },
  );
}

/** UDP clients on their own loopback addresses, each with a learned NONCE. */
export interface ChurnClients {
  clients: LiveUdpClient[];
  creds: Credentials[];
  /** The NONCE TCP allocations use. */
  tcpNonce: { value?: string };
}

/** Opens `n` UDP clients on 127.0.3.x and teaches each a NONCE (one allocation, deleted at once). */
export async function openChurnClients(t: Teardownable, d: Daemon, n: number): Promise<ChurnClients> {
  const clients = await Promise.all(Array.from({ length: n }, (_, i) => LiveUdpClient.open(t, d.udp, `127.0.3.${i + 1}`)));
  const creds = await Promise.all(clients.map(async (c) => (await c.allocate(USER, PASSWORD, CHURN_REALM)).creds));
  for (let i = 0; i < clients.length; i++) await clients[i]!.request(refreshRequest(creds[i]!, 0));
  return { clients, creds, tcpNonce: {} };
}

const PEER = { family: 'IPv4' as const, address: '127.0.0.1', port: 9 };

/** One UDP cycle on client `k`: Allocate, Refresh, CreatePermission, ChannelBind, ChannelData, delete. */
async function udpCycle(c: LiveUdpClient, cr: Credentials, i: number): Promise<string | undefined> {
  const ask = async (r: { data: Buffer; transactionId: Buffer }): Promise<string | number | undefined> => {
    const a = await c.request(r, 3000);
    return a ? resultOf(a) : 'none';
  };
  const channel = 0x4000 + (i % 0x3fff);
  const codes = [
    await ask(allocateRequest(cr)),
    await ask(refreshRequest(cr, 600)),
    await ask(createPermissionRequest(cr, [PEER])),
    await ask(channelBindRequest(cr, channel, PEER)),
  ];
  // Nothing listens on 127.0.0.1:9; the datagram is sent and lost, as intended.
  c.send(channelData(channel, Buffer.from('x')));
  codes.push(await ask(refreshRequest(cr, 0)));
  return codes.every((x) => x === 'success') ? undefined : `cycle ${i}: ${codes.join(',')}`;
}

/**
 * An allocation over TCP that ends with its connection (RFC 8656 §7), never deleted explicitly. The
 * NONCE is learned once and reused (it is valid for any connection from the same IP), so that the
 * server's limit on unauthenticated requests per source does not throttle the churn.
 */
async function tcpCycle(port: number, nonce: { value?: string }): Promise<string | undefined> {
  const s = net.connect({ host: '127.0.0.1', port });
  try {
    await new Promise<void>((resolve, reject) => s.once('connect', () => resolve()).once('error', reject));
    const read = (): Promise<Buffer> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no answer over TCP in 3 s')), 3000);
        s.once('data', (b: Buffer) => {
          clearTimeout(timer);
          resolve(b);
        });
      });
    let answer: Buffer | undefined;
    for (let attempt = 0; attempt < 2 && answer?.readUInt16BE(0) !== 0x0103; attempt++) {
      if (nonce.value === undefined || answer !== undefined) {
        s.write(allocateRequest(undefined).data);
        nonce.value = readNonce(await read());
      }
      s.write(allocateRequest({ username: USER, password: PASSWORD, realm: CHURN_REALM, nonce: nonce.value }).data);
      answer = await read();
    }
    return answer!.readUInt16BE(0) === 0x0103 ? undefined : `TCP allocate answered type 0x${answer!.readUInt16BE(0).toString(16)}`;
  } catch (err) {
    return `TCP allocate: ${(err as Error).message}`;
  } finally {
    s.destroy();
  }
}

/** Runs `n` UDP cycles spread over the clients (and n/40 TCP allocations); the problems seen (at most a few). */
export async function runChurn(d: Daemon, c: ChurnClients, n: number, first = 0): Promise<string[]> {
  const problems: string[] = [];
  for (let i = 0; i < n; i += c.clients.length) {
    const results = await Promise.all(c.clients.map((cl, k) => udpCycle(cl, c.creds[k]!, first + i + k)));
    if (i % 40 < c.clients.length) results.push(await tcpCycle(d.tcp, c.tcpNonce));
    problems.push(...results.filter((x): x is string => x !== undefined));
    if (problems.length > 5) break;
  }
  return problems;
}

/** The NONCE of a 401, read from raw bytes (TLV walk). */
function readNonce(msg: Buffer): string {
  let off = 20;
  while (off + 4 <= msg.length) {
    const type = msg.readUInt16BE(off);
    const len = msg.readUInt16BE(off + 2);
    if (type === AttributeType.Nonce) return msg.subarray(off + 4, off + 4 + len).toString('utf8');
    off += 4 + ((len + 3) & ~3);
  }
  throw new Error('no NONCE in the answer');
}

/** Long enough for every remembered answer of a batch to be forgotten (TransactionCache) and swept (each second). */
export const WINDOW_WAIT_MS = TRANSACTION_WINDOW_MS + 1_500;

async function main(argv: string[]): Promise<void> {
  const opt = (name: string, fallback: string): string => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
  };
  const plane = opt('plane', 'native') as 'native' | 'js';
  const batch = Number(opt('batch', '10000'));
  const warmup = Number(opt('warmup', String(batch)));
  const batches = Number(opt('batches', '3'));
  const nClients = Number(opt('clients', '16'));
  const teardowns: Array<() => unknown> = [];
  const t: Teardownable = { teardown: (fn) => teardowns.push(fn) };
  const mib = (n: number): number => Math.round((n / 2 ** 20) * 10) / 10;
  try {
    const d = await startChurnDaemon(t, plane);
    const report = async (label: string, fields: Record<string, unknown> = {}): Promise<void> => {
      const m = await probeMemory(d);
      const line = { label, rss: mib(m.rss), heapUsed: mib(m.heapUsed), dataHeap: mib(m.heapUsed - m.codeUsed), heapTotal: mib(m.heapTotal), arrayBuffers: mib(m.arrayBuffers), fds: m.fds, ...fields };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    };
    await report('start', { plane });
    const c = await openChurnClients(t, d, nClients);
    let done = 0;
    for (let b = 0; b <= batches; b++) {
      const n = b === 0 ? warmup : batch;
      const label = b === 0 ? 'warm-up' : `batch ${b}`;
      const started = Date.now();
      const problems = await runChurn(d, c, n, done);
      done += n;
      const ms = Date.now() - started;
      await report(`${label}, just after`, { cycles: done, ms, requestsPerSecond: Math.round((n * 5) / (ms / 1000)), problems });
      await new Promise((r) => setTimeout(r, WINDOW_WAIT_MS));
      await report(`${label}, after the window`, { cycles: done });
    }
  } finally {
    for (const fn of teardowns.reverse()) await fn();
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exitCode = 1;
  });
}
