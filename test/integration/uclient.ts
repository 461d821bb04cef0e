/**
 * Running coturn's `turnutils_uclient` and `turnutils_peer` against turnkit: shared by the UDP
 * (turn-uclient.test.ts) and TCP/TLS (turn-uclient-stream.test.ts) tests. See turn-uclient.test.ts
 * for what uclient does.
 */
import type t from 'tap';
import dgram from 'node:dgram';
import { freePortRange, startTurnkit, counterSum, sleep, type RunningServer, type Teardown } from './lib.js';
import { runTool, spawnTracked, type ToolResult } from '../helpers/process.js';
import { parseSummary, show, type Summary } from '../helpers/uclient.js';
import { skipUnless } from '../helpers/tools.js';

/** uclient and its echo peer, both from Debian's coturn package. */
export const needTools = skipUnless('turnutils_uclient', 'turnutils_peer');
/** Realm and REST secret of the servers these tests start. */
export const REALM = 'example.org';
export const SECRET = 'uclient-rest-secret';
/** Messages per session; uclient paces them 20 ms apart. */
export const N = 8;
/** Bytes per message. */
export const LEN = 120;

/** A tap test object. */
export type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

/** coturn's UDP echo peer on `host` (127.0.0.1 or ::1), answering (checked with one echo) before we return. */
export async function startPeer(t: Tap, host = '127.0.0.1'): Promise<number> {
  const v6 = host.includes(':');
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePortRange([host], 1, ['udp']);
    const peer = spawnTracked('turnutils_peer', ['-L', host, '-p', String(port)], { t });
    const probe = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 });
    t.teardown(() => probe.close());
    await new Promise<void>((resolve) => probe.bind(0, host, () => resolve()));
    const echoed = new Promise<boolean>((resolve) => {
      probe.once('message', () => resolve(true));
      setTimeout(() => resolve(false), 3000).unref();
    });
    // it may not have bound yet: resend a few times
    for (let i = 0; i < 10 && peer.exitStatus === null; i++) {
      probe.send('turnkit-probe', port, host);
      if (await Promise.race([echoed, sleep(200).then(() => false)])) return port;
    }
    if (await echoed) return port;
    await peer.kill();
  }
  throw new Error('turnutils_peer did not echo on any port tried');
}

/**
 * turnkit in-process on 127.0.0.1:0 with TURN on (or on [::1]:0 relaying from 127.0.0.1 and ::1
 * with `ipv6`); returns the server and its UDP port.
 */
export async function startTurn(t: Tap, opts: { allowLoopbackPeers: boolean; ipv6?: boolean }): Promise<{ server: RunningServer; port: number }> {
  const relayIps = opts.ipv6 ? ['127.0.0.1', '::1'] : ['127.0.0.1'];
  const relay = await freePortRange(relayIps, 40, ['udp']);
  const server = (await startTurnkit(t as Teardown, {
    listen: [{ host: opts.ipv6 ? '::1' : '127.0.0.1', port: 0 }],
    realm: REALM,
    users: { test: 'test', alice: 'alice-pass' },
    secrets: [SECRET],
    relayPorts: `${relay}-${relay + 39}`,
    relayIp: relayIps,
    ...(opts.allowLoopbackPeers ? { allowPeers: ['127.0.0.0/8', '::1/128'] } : {}),
  })) as RunningServer;
  const udp = server.listeners.find((l) => l.transport === 'udp');
  if (!udp) throw new Error(`no UDP listener: ${JSON.stringify(server.listeners)}`);
  return { server, port: udp.port };
}

/** Runs uclient against turnkit at `server` (default 127.0.0.1), relaying to the echo peer on `peer`. */
export function uclient(serverPort: number, peerPort: number, extra: string[], n = N, server = '127.0.0.1', peer = '127.0.0.1'): Promise<ToolResult> {
  const args = ['-p', String(serverPort), '-e', peer, '-r', String(peerPort), '-n', String(n), '-l', String(LEN), ...extra, server];
  return runTool('turnutils_uclient', args, { timeoutMs: 30_000 });
}

/** Checks that a uclient run relayed every message and returns its summary. */
export function assertAllBack(t: Tap, r: ToolResult, expectSessions: number): Summary {
  const s = parseSummary(r.stdout + r.stderr);
  t.notOk(r.timedOut, 'uclient finished');
  t.equal(r.code, 0, 'uclient exit 0', { output: show(r) });
  t.notMatch(r.stdout, /ERROR|error \d{3}/, 'no error lines', { output: show(r) });
  t.equal(s.sessions, expectSessions, `uclient ran ${expectSessions} sessions (msz)`);
  t.equal(s.sent, expectSessions * N, `tot_send_msgs = ${expectSessions} sessions × ${N}`, { output: show(r) });
  t.ok(s.sent !== undefined && s.received === s.sent, `tot_recv_msgs ${s.received} = tot_send_msgs ${s.sent}: every message came back`);
  t.equal(s.lost, 0, 'Total lost packets 0');
  t.comment(`uclient: sessions=${s.sessions} sent=${s.sent} received=${s.received} lost=${s.lost} rtt avg=${s.rttAvgMs} ms min=${s.rttMinMs} max=${s.rttMaxMs}`);
  return s;
}

/** turnkit's relay counters and allocations created. */
export async function relayCounters(server: RunningServer): Promise<{ toPeer: number; toClient: number; created: number }> {
  return {
    toPeer: await counterSum(server.metrics, 'turnkit_relayed_packets_total', { direction: 'to-peer' }),
    toClient: await counterSum(server.metrics, 'turnkit_relayed_packets_total', { direction: 'to-client' }),
    created: await counterSum(server.metrics, 'turnkit_allocation_events_total', { event: 'created' }),
  };
}

/**
 * The relay counters account for at least what uclient saw (startPeer's echo probe does not go
 * through turnkit). Allocations: uclient's start_connection() first allocates a "load balancing
 * probe" on a separate socket for each client (RTP/RTCP pair), then the real one per session, so
 * turnkit sees sessions + clients Allocate successes (coturn sees the same).
 */
export async function assertRelayed(t: Tap, server: RunningServer, s: Summary, clients: number): Promise<void> {
  const c = await relayCounters(server);
  t.ok(c.toPeer >= (s.sent ?? 1), `turnkit_relayed_packets_total{to-peer} ${c.toPeer} >= ${s.sent}`);
  t.ok(c.toClient >= (s.received ?? 1), `turnkit_relayed_packets_total{to-client} ${c.toClient} >= ${s.received}`);
  const want = (s.sessions ?? 0) + clients;
  t.equal(c.created, want, `turnkit_allocation_events_total{created} = ${s.sessions} sessions + ${clients} probe(s) (is ${c.created})`);
}

