/**
 * Fuzzing a live turnkit through every entry point: UDP datagrams (STUN, TURN, ChannelData, from
 * many sources, some of them holding an allocation), TCP and TLS streams (frames cut at random
 * places), requests re-signed with a valid key after their attributes were mutated (so the handlers
 * behind authentication are reached), the HTTP credential endpoint and the WebSocket signaling.
 * After every batch it checks that the server still answers a correct Binding and a correct
 * authenticated Allocate (from a source the fuzzing never uses, so rate limits do not interfere).
 *
 * Network safety: the daemon runs with the default peer policy (loopback and private ranges denied)
 * and re-signed requests never change XOR-PEER-ADDRESS, so no fuzz input can make it relay anywhere;
 * RESPONSE-PORT is rewritten to the sending socket's own port, so every answer comes back to us.
 */
import net from 'node:net';
import tls from 'node:tls';
import WebSocket from 'ws';
import { AttributeType } from '../../src/stun/constants.js';
import { decodeMessage, type StunAttribute } from '../../src/stun/message.js';
import type { Teardownable } from '../helpers/process.js';
import { LiveUdpClient, resultOf, xorAddressOf, type Daemon } from '../helpers/live-turn.js';
import {
  bindingRequest,
  channelBindRequest,
  createPermissionRequest,
  refreshRequest,
  sendIndication,
  turnRequest,
  allocateRequest,
  type Credentials,
} from '../helpers/turn-client.js';
import { MUTATIONS, Rng, corpusSeeds, mutate, mutateOnce, type Mutation } from './mutate.js';

/** The realm and users of a fuzz target daemon. */
export const FUZZ_REALM = 'fuzz.example';
export const FUZZ_USER = { name: 'fuzz', password: 'fuzz-pw' };
export const HEALTH_USER = { name: 'health', password: 'health-pw' };
/** Daemon arguments for a fuzz target (default peer policy: nothing on loopback is a permitted peer). */
export const FUZZ_DAEMON_ARGS = [
  '--realm', FUZZ_REALM,
  '--user', `${FUZZ_USER.name}:${FUZZ_USER.password}`,
  '--user', `${HEALTH_USER.name}:${HEALTH_USER.password}`,
  '--max-allocations-per-user', '50',
  '--max-allocations-per-ip', '200',
  '--stream-idle-timeout', '5',
];

/** Where fuzz inputs enter the server. */
export const ENTRY_POINTS = ['udp', 'udp-session', 'udp-signed', 'tcp', 'tls', 'http', 'websocket'] as const;
/** One entry point. */
export type EntryPoint = (typeof ENTRY_POINTS)[number];

/** A problem found by a batch's checks. */
export interface FuzzFailure {
  batch: number;
  kind: 'crash' | 'hang' | 'wrong-answer' | 'internal-error';
  detail: string;
  /** The batch's last inputs, hex, to replay. */
  lastInputs: string[];
}

/** What a run did. */
export interface FuzzReport {
  inputs: number;
  batches: number;
  durationMs: number;
  byEntry: Record<EntryPoint, number>;
  byMutation: Record<Mutation, number>;
  failures: FuzzFailure[];
}

/** Options of {@link runLiveFuzz}. */
export interface FuzzOptions {
  count: number;
  seed: number;
  /** Inputs between health checks (default 2000). */
  batchSize?: number;
  /** Called after each batch (progress output). */
  onBatch?: (report: FuzzReport) => void;
}

const SHARE: Array<[EntryPoint, number]> = [
  ['udp', 640],
  ['udp-session', 120],
  ['udp-signed', 120],
  ['tcp', 60],
  ['tls', 30],
  ['http', 15],
  ['websocket', 15],
];

/** Byte-level mutations that make sense for text protocols (HTTP, JSON). */
const TEXT_MUTATIONS: Mutation[] = ['bit-flip', 'byte-set', 'truncate', 'extend', 'splice', 'random'];

const HTTP_SEEDS = [
  'GET /turn-credentials?service=turn&username=alice&ttl=3600 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
  'GET /ice-servers?username=bob HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://127.0.0.1\r\n\r\n',
  'GET /turn-credentials?service=turn&username=%ff%00&ttl=-1&ttl=99999999999 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer x\r\n\r\n',
  'POST /turn-credentials?service=turn HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello',
  'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
  'GET /readyz HTTP/1.0\r\n\r\n',
  'GET /?room=demo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
  'OPTIONS /ice-servers HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\nAccess-Control-Request-Method: GET\r\n\r\n',
  'GET /signal HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  'GET /turn-credentials?service=turn&username=a HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
].map((s) => Buffer.from(s, 'latin1'));

const WS_SEEDS = [
  '{"type":"join","room":"fuzz"}',
  '{"type":"leave"}',
  '{"type":"renew"}',
  '{"type":"offer","to":"0123456789abcdef","sdp":"v=0\\r\\no=- 1 1 IN IP4 0.0.0.0\\r\\n"}',
  '{"type":"answer","to":"ab","sdp":""}',
  '{"type":"candidate","to":"ab","candidate":{"candidate":"candidate:1 1 udp 1 198.18.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}}',
  '{"type":"candidate","to":"ab","candidate":null}',
  '{"type":"join","room":"fuzz","__proto__":{"x":1},"constructor":{"prototype":{"y":2}}}',
  '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
].map((s) => Buffer.from(s, 'utf8'));

/** Writes `data` to a stream in 1 to 4 pieces cut at random places (frames split across segments). */
function writeChunked(rng: Rng, s: net.Socket, data: Buffer): void {
  if (s.destroyed) return;
  let off = 0;
  for (let pieces = 1 + rng.int(4); pieces > 1 && off < data.length; pieces--) {
    const cut = off + rng.int(data.length - off + 1);
    s.write(data.subarray(off, cut));
    off = cut;
  }
  s.write(data.subarray(off));
}

/** Rewrites RESPONSE-PORT (RFC 5780) to `port`, so that an answer can only come back to the sender. */
function pinResponsePort(data: Buffer, port: number): Buffer {
  let off = 20;
  let out = data;
  while (off + 4 <= data.length) {
    const len = data.readUInt16BE(off + 2);
    if (data.readUInt16BE(off) === AttributeType.ResponsePort && len >= 2 && off + 6 <= data.length) {
      if (out === data) out = Buffer.from(data);
      out.writeUInt16BE(port, off + 4);
    }
    off += 4 + ((len + 3) & ~3);
  }
  return out;
}

/** A stream connection reopened whenever the server closes it (which bad input is allowed to cause). */
class Stream {
  private socket: net.Socket | undefined;
  reconnects = 0;

  constructor(private readonly open: () => net.Socket) {}

  get(): net.Socket {
    if (!this.socket || this.socket.destroyed) {
      if (this.socket) this.reconnects++;
      const s = this.open();
      s.on('error', () => s.destroy());
      s.on('data', () => undefined);
      this.socket = s;
    }
    return this.socket;
  }

  close(): void {
    this.socket?.destroy();
  }
}

/** Re-signs a mutated attribute list: the request passes authentication and reaches its handler. */
function resign(rng: Rng, template: { method: number; attributes: StunAttribute[] }, creds: Credentials): { data: Buffer; kinds: Mutation[] } {
  const attrs: StunAttribute[] = template.attributes.map((a) => ({ type: a.type, value: Buffer.from(a.value) }));
  const kinds: Mutation[] = [];
  for (let n = 1 + rng.int(3); n > 0; n--) {
    const op = rng.int(5);
    const mutable = attrs.filter((a) => a.type !== AttributeType.XorPeerAddress);
    if (op === 0 && attrs.length > 0) {
      attrs.splice(rng.int(attrs.length + 1), 0, rng.pick(attrs));
      kinds.push('attr-duplicate');
    } else if (op === 1 && attrs.length > 0) {
      attrs.splice(rng.int(attrs.length), 1);
      kinds.push('attr-drop');
    } else if (op === 2 && mutable.length > 0) {
      const a = rng.pick(mutable);
      const kind = rng.pick(['bit-flip', 'byte-set', 'truncate', 'extend'] as const);
      a.value = mutateOnce(rng, a.value, kind, [a.value], 600);
      kinds.push(kind);
    } else if (op === 3) {
      const types = [0x000c, 0x000d, 0x0013, 0x0017, 0x0018, 0x0019, 0x001a, 0x0022, 0x0027, 0x8000, 0x8028, 0x0030, 0x7fff, rng.int(0x10000)];
      const type = rng.pick(types.filter((x) => x !== AttributeType.XorPeerAddress));
      attrs.splice(rng.int(attrs.length + 1), 0, { type, value: rng.bytes(rng.pick([0, 1, 2, 3, 4, 8, 20])) });
      kinds.push('attr-insert');
    } else {
      for (let i = attrs.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [attrs[i], attrs[j]] = [attrs[j]!, attrs[i]!];
      }
      kinds.push('attr-reorder');
    }
  }
  return { data: turnRequest(template.method, attrs, creds).data, kinds };
}

/** Health check from a source no fuzz input uses: a correct Binding, and an Allocate that succeeds (then deleted). */
async function healthCheck(client: LiveUdpClient): Promise<string | undefined> {
  const tx = bindingRequest();
  const decoded = decodeMessage(tx);
  const b = await client.request({ data: tx, transactionId: decoded.ok ? decoded.message.transactionId : Buffer.alloc(12) }, 6000);
  if (!b) return 'no answer to a Binding request';
  const mapped = xorAddressOf(b, AttributeType.XorMappedAddress);
  if (resultOf(b) !== 'success' || mapped?.address !== client.local.address || mapped.port !== client.local.port) {
    return `wrong Binding answer: ${resultOf(b)} ${JSON.stringify(mapped)}`;
  }
  const { answer, creds } = await client.allocate(HEALTH_USER.name, HEALTH_USER.password, FUZZ_REALM);
  if (!answer) return 'no answer to an authenticated Allocate';
  if (resultOf(answer) !== 'success' || !xorAddressOf(answer, AttributeType.XorRelayedAddress)) return `Allocate answered ${resultOf(answer)}`;
  const del = await client.request(refreshRequest(creds, 0), 6000);
  if (!del || resultOf(del) !== 'success') return `Refresh 0 answered ${del ? resultOf(del) : 'nothing'}`;
  return undefined;
}

/**
 * Runs `count` fuzz inputs against `daemon` (started with {@link FUZZ_DAEMON_ARGS}, and TLS if it
 * has a TLS listener), checking its health after every batch. Sockets it opens close on teardown.
 */
export async function runLiveFuzz(t: Teardownable, daemon: Daemon, o: FuzzOptions): Promise<FuzzReport> {
  const rng = new Rng(o.seed);
  const batchSize = o.batchSize ?? 2000;
  const seeds = corpusSeeds();
  const started = Date.now();
  const report: FuzzReport = {
    inputs: 0,
    batches: 0,
    durationMs: 0,
    byEntry: Object.fromEntries(ENTRY_POINTS.map((e) => [e, 0])) as Record<EntryPoint, number>,
    byMutation: Object.fromEntries(MUTATIONS.map((m) => [m, 0])) as Record<Mutation, number>,
    failures: [],
  };

  // Fuzz sources: 16 sockets on 127.0.0.10-25 (so per-source limits do not stop every input), plus
  // 4 "session" sockets that hold an allocation, so ChannelData and Refresh reach a live 5-tuple.
  const sources = await Promise.all(Array.from({ length: 16 }, (_, i) => LiveUdpClient.open(t, daemon.udp, `127.0.0.${10 + i}`)));
  const sessions: Array<{ client: LiveUdpClient; creds: Credentials }> = [];
  for (let i = 0; i < 4; i++) {
    const client = await LiveUdpClient.open(t, daemon.udp, `127.0.0.${30 + i}`);
    const { answer, creds } = await client.allocate(FUZZ_USER.name, FUZZ_USER.password, FUZZ_REALM, { lifetime: 3600 });
    if (!answer || resultOf(answer) !== 'success') throw new Error(`fuzz session allocation failed: ${answer ? resultOf(answer) : 'no answer'}`);
    sessions.push({ client, creds });
  }
  const health = await LiveUdpClient.open(t, daemon.udp, '127.0.0.2');
  const peer = { family: 'IPv4' as const, address: '198.18.0.1', port: 9 }; // denied by default: 403, never relayed
  const signedTemplates = (): Array<{ method: number; attributes: StunAttribute[] }> => {
    const creds = sessions[0]!.creds;
    return [
      allocateRequest(creds, { lifetime: 600 }),
      refreshRequest(creds, 600),
      createPermissionRequest(creds, [peer]),
      channelBindRequest(creds, 0x4001, peer),
    ].map((r) => {
      const d = decodeMessage(r.data);
      if (!d.ok) throw new Error('template does not decode');
      // Strip the signing attributes: turnRequest adds them again.
      const skip = new Set<number>([AttributeType.Username, AttributeType.Realm, AttributeType.Nonce, AttributeType.MessageIntegrity, AttributeType.Fingerprint]);
      return { method: d.message.method, attributes: d.message.attributes.filter((a) => !skip.has(a.type)).map((a) => ({ type: a.type, value: a.value })) };
    });
  };
  const templates = signedTemplates();
  const sessionSeeds = [
    ...seeds,
    sendIndication(peer, Buffer.from('data')),
    Buffer.from([0x40, 0x01, 0x00, 0x04, 1, 2, 3, 4]),
    Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4]),
  ];

  const tcp = new Stream(() => net.connect({ host: '127.0.0.1', port: daemon.tcp }));
  const tlsStream = daemon.tls === undefined ? undefined : new Stream(() => tls.connect({ host: '127.0.0.1', port: daemon.tls!, rejectUnauthorized: false }));
  let ws: WebSocket | undefined;
  const wsSocket = (): WebSocket | undefined => {
    if (daemon.http === undefined) return undefined;
    if (!ws || ws.readyState === WebSocket.CLOSED || ws.readyState === WebSocket.CLOSING) {
      ws = new WebSocket(`ws://127.0.0.1:${daemon.http}/signal`, { origin: `http://127.0.0.1:${daemon.http}` });
      ws.on('error', () => undefined);
    }
    return ws.readyState === WebSocket.OPEN ? ws : undefined;
  };
  t.teardown(() => {
    tcp.close();
    tlsStream?.close();
    ws?.terminate();
  });
  const httpRequest = (data: Buffer): Promise<void> =>
    new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: daemon.http! });
      const timer = setTimeout(() => s.destroy(), 2000);
      s.on('error', () => undefined);
      s.on('data', () => s.end());
      s.on('close', () => {
        clearTimeout(timer);
        resolve();
      });
      s.on('connect', () => s.end(data));
    });

  const total = SHARE.reduce((n, [, w]) => n + w, 0);
  const pickEntry = (): EntryPoint => {
    let r = rng.int(total);
    for (const [e, w] of SHARE) {
      if (r < w) return e;
      r -= w;
    }
    return 'udp';
  };

  let lastInputs: string[] = [];
  let sessionCreds = sessions.map((s) => s.creds);
  while (report.inputs < o.count) {
    const batchEnd = Math.min(o.count, report.inputs + batchSize);
    lastInputs = [];
    const pendingHttp: Array<Promise<void>> = [];
    while (report.inputs < batchEnd) {
      let entry = pickEntry();
      if ((entry === 'tls' && !tlsStream) || ((entry === 'http' || entry === 'websocket') && daemon.http === undefined)) entry = 'udp';
      let input: { data: Buffer; kinds: Mutation[] };
      switch (entry) {
        case 'udp': {
          const src = rng.pick(sources);
          input = mutate(rng, seeds, 1500);
          src.send(pinResponsePort(input.data, src.local.port));
          break;
        }
        case 'udp-session': {
          const s = rng.pick(sessions);
          input = mutate(rng, sessionSeeds, 1500);
          s.client.send(pinResponsePort(input.data, s.client.local.port));
          break;
        }
        case 'udp-signed': {
          const i = rng.int(sessions.length);
          input = resign(rng, rng.pick(templates), sessionCreds[i]!);
          sessions[i]!.client.send(pinResponsePort(input.data, sessions[i]!.client.local.port));
          break;
        }
        case 'tcp':
        case 'tls': {
          // Several frames at once: the framer must cut them apart (or close the connection).
          const frames = Array.from({ length: 1 + rng.int(4) }, () => mutate(rng, seeds, 4000));
          input = { data: Buffer.concat(frames.map((f) => f.data)), kinds: frames.flatMap((f) => f.kinds) };
          writeChunked(rng, (entry === 'tcp' ? tcp : tlsStream!).get(), input.data);
          break;
        }
        case 'http': {
          input = { data: Buffer.from(rng.pick(HTTP_SEEDS)), kinds: [] };
          for (let n = 1 + rng.int(2); n > 0; n--) {
            const kind = rng.pick(TEXT_MUTATIONS);
            input.kinds.push(kind);
            input.data = mutateOnce(rng, input.data, kind, HTTP_SEEDS, 20_000);
          }
          pendingHttp.push(httpRequest(input.data));
          if (pendingHttp.length >= 8) await Promise.all(pendingHttp.splice(0));
          break;
        }
        case 'websocket': {
          input = { data: Buffer.from(rng.pick(WS_SEEDS)), kinds: [] };
          const kind = rng.pick(TEXT_MUTATIONS);
          input.kinds.push(kind);
          input.data = mutateOnce(rng, input.data, kind, WS_SEEDS, 20_000);
          const sock = wsSocket();
          if (sock) sock.send(input.data, { binary: rng.int(4) === 0 });
          break;
        }
      }
      report.inputs++;
      report.byEntry[entry]++;
      for (const k of input.kinds) report.byMutation[k]++;
      lastInputs.push(`${entry}:${input.data.toString('hex')}`);
      if (lastInputs.length > 50) lastInputs.shift();
      // Let the event loop breathe (and the sockets drain) every few inputs: bounded memory here too.
      if (report.inputs % 64 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(pendingHttp);
    report.batches++;
    const fail = (kind: FuzzFailure['kind'], detail: string): void => {
      report.failures.push({ batch: report.batches, kind, detail, lastInputs });
    };
    if (daemon.proc.exitStatus) {
      fail('crash', `daemon exited: ${JSON.stringify(daemon.proc.exitStatus)}\n${daemon.proc.lines().slice(-20).join('\n')}`);
      break;
    }
    const problem = await healthCheck(health);
    if (problem) {
      fail(daemon.proc.exitStatus ? 'crash' : problem.startsWith('no answer') ? 'hang' : 'wrong-answer', problem);
      if (daemon.proc.exitStatus || problem.startsWith('no answer')) break;
    }
    const internal = daemon.proc.lines().filter((l) => l.includes('internal error') || l.includes('Unhandled') || l.includes('uncaught'));
    if (internal.length > 0) {
      fail('internal-error', internal.slice(0, 5).join('\n'));
      break;
    }
    // Keep the sessions' allocations and nonces alive for long runs (a fuzzed Refresh 0 may delete one).
    if (report.batches % 20 === 0) {
      sessionCreds = [];
      for (const s of sessions) {
        const { creds } = await s.client.allocate(FUZZ_USER.name, FUZZ_USER.password, FUZZ_REALM, { lifetime: 3600 });
        sessionCreds.push(creds);
      }
    }
    report.durationMs = Date.now() - started;
    o.onBatch?.(report);
  }
  report.durationMs = Date.now() - started;
  return report;
}

