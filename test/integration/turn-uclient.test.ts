/**
 * coturn's TURN load/echo client `turnutils_uclient` against turnkit, relaying to coturn's UDP
 * echo peer `turnutils_peer` on 127.0.0.1: ChannelData (default), Send/Data indications (`-s`),
 * without the RTCP allocation (`-c`, EVEN-PORT/RESERVATION-TOKEN not used), several clients,
 * TURN REST ephemeral credentials derived by uclient itself (`-W`), a wrong password (401, no
 * allocation, `turnkit_auth_failures_total` rises) and a denied peer (403, no relay,
 * `turnkit_peer_denied_total` rises). Every message uclient sends must come back.
 *
 * What uclient does (coturn 4.6, mainuclient.c + startuclient.c): each client is an RTP/RTCP pair
 * of sessions (msz=2) unless `-c`; `-m N` without `-c` makes N sessions (N/2 pairs); `-s` sets
 * do_not_use_channel (Send/Data indications instead of ChannelBind + ChannelData); `-W secret`
 * replaces the user name with `<now+86400>:<-u name>` (or just `<now+86400>` without `-u`) and the
 * password with base64(HMAC-SHA1(secret, user name)) — exactly turnkit's `--secret` scheme.
 * uclient starts sending after a random 1–6 s pause; it never deletes its allocations (no
 * Refresh 0 at exit), so each case gets its own server (the default per-user quota is 10).
 */
import t from 'tap';
import dgram from 'node:dgram';
import { freePortRange, startTurnkit, startTurnkitCli, counterSum, sleep, type RunningServer, type Teardown } from './lib.js';
import { runTool, spawnTracked, type ToolResult } from '../helpers/process.js';
import { parseSummary, show, type Summary } from '../helpers/uclient.js';
import { skipUnless } from '../helpers/tools.js';

t.setTimeout(150_000);

const needTools = skipUnless('turnutils_uclient', 'turnutils_peer');
const REALM = 'example.org';
const SECRET = 'uclient-rest-secret';
/** Messages per session; uclient paces them 20 ms apart. */
const N = 8;
const LEN = 120;

type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

/** coturn's UDP echo peer on 127.0.0.1, answering (checked with one echo) before we return. */
async function startPeer(t: Tap): Promise<number> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePortRange(['127.0.0.1'], 1, ['udp']);
    const peer = spawnTracked('turnutils_peer', ['-L', '127.0.0.1', '-p', String(port)], { t });
    const probe = dgram.createSocket('udp4');
    t.teardown(() => probe.close());
    await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', () => resolve()));
    const echoed = new Promise<boolean>((resolve) => {
      probe.once('message', () => resolve(true));
      setTimeout(() => resolve(false), 3000).unref();
    });
    // it may not have bound yet: resend a few times
    for (let i = 0; i < 10 && peer.exitStatus === null; i++) {
      probe.send('turnkit-probe', port, '127.0.0.1');
      if (await Promise.race([echoed, sleep(200).then(() => false)])) return port;
    }
    if (await echoed) return port;
    await peer.kill();
  }
  throw new Error('turnutils_peer did not echo on any port tried');
}

/** turnkit in-process on 127.0.0.1:0 with TURN on; returns the server and its UDP port. */
async function startTurn(t: Tap, opts: { allowLoopbackPeers: boolean }): Promise<{ server: RunningServer; port: number }> {
  const relay = await freePortRange(['127.0.0.1'], 40, ['udp']);
  const server = (await startTurnkit(t as Teardown, {
    listen: [{ host: '127.0.0.1', port: 0 }],
    realm: REALM,
    users: { test: 'test', alice: 'alice-pass' },
    secrets: [SECRET],
    relayPorts: `${relay}-${relay + 39}`,
    relayIp: '127.0.0.1',
    ...(opts.allowLoopbackPeers ? { allowPeers: ['127.0.0.0/8'] } : {}),
  })) as RunningServer;
  const udp = server.listeners.find((l) => l.transport === 'udp');
  if (!udp) throw new Error(`no UDP listener: ${JSON.stringify(server.listeners)}`);
  return { server, port: udp.port };
}

function uclient(serverPort: number, peerPort: number, extra: string[], n = N): Promise<ToolResult> {
  const args = ['-p', String(serverPort), '-e', '127.0.0.1', '-r', String(peerPort), '-n', String(n), '-l', String(LEN), ...extra, '127.0.0.1'];
  return runTool('turnutils_uclient', args, { timeoutMs: 30_000 });
}

/** Checks that a uclient run relayed every message and returns its summary. */
function assertAllBack(t: Tap, r: ToolResult, expectSessions: number): Summary {
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

async function relayCounters(server: RunningServer): Promise<{ toPeer: number; toClient: number; created: number }> {
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
async function assertRelayed(t: Tap, server: RunningServer, s: Summary, clients: number): Promise<void> {
  const c = await relayCounters(server);
  t.ok(c.toPeer >= (s.sent ?? 1), `turnkit_relayed_packets_total{to-peer} ${c.toPeer} >= ${s.sent}`);
  t.ok(c.toClient >= (s.received ?? 1), `turnkit_relayed_packets_total{to-client} ${c.toClient} >= ${s.received}`);
  const want = (s.sessions ?? 0) + clients;
  t.equal(c.created, want, `turnkit_allocation_events_total{created} = ${s.sessions} sessions + ${clients} probe(s) (is ${c.created})`);
}

t.test('turnutils_uclient through turnkit to turnutils_peer', needTools, async (t) => {
  t.test('ChannelBind + ChannelData (default), RTP/RTCP pair with EVEN-PORT', async (t) => {
    const peer = await startPeer(t);
    const { server, port } = await startTurn(t, { allowLoopbackPeers: true });
    const r = await uclient(port, peer, ['-u', 'test', '-w', 'test']);
    const s = assertAllBack(t, r, 2);
    await assertRelayed(t, server, s, 1);
  });

  t.test('Send/Data indications (-s, no channels)', async (t) => {
    const peer = await startPeer(t);
    const { server, port } = await startTurn(t, { allowLoopbackPeers: true });
    const r = await uclient(port, peer, ['-u', 'test', '-w', 'test', '-s']);
    const s = assertAllBack(t, r, 2);
    await assertRelayed(t, server, s, 1);
  });

  t.test('one allocation, no RTCP (-c)', async (t) => {
    const peer = await startPeer(t);
    const { server, port } = await startTurn(t, { allowLoopbackPeers: true });
    const r = await uclient(port, peer, ['-u', 'test', '-w', 'test', '-c']);
    const s = assertAllBack(t, r, 1);
    await assertRelayed(t, server, s, 1);
  });

  t.test('several clients (-m 4)', async (t) => {
    const peer = await startPeer(t);
    const { server, port } = await startTurn(t, { allowLoopbackPeers: true });
    const r = await uclient(port, peer, ['-u', 'test', '-w', 'test', '-m', '4']);
    const s = assertAllBack(t, r, 4);
    await assertRelayed(t, server, s, 2);
  });

  t.test('TURN REST credentials: uclient -W <secret> -u alice (user "<expiry>:alice")', async (t) => {
    const peer = await startPeer(t);
    const { server, port } = await startTurn(t, { allowLoopbackPeers: true });
    const failuresBefore = await counterSum(server.metrics, 'turnkit_auth_failures_total');
    const r = await uclient(port, peer, ['-u', 'alice', '-W', SECRET, '-c']);
    const s = assertAllBack(t, r, 1);
    await assertRelayed(t, server, s, 1);
    // uclient's first Allocate carries no credentials; only a 401 for that may count, nothing else
    const failures = (await counterSum(server.metrics, 'turnkit_auth_failures_total')) - failuresBefore;
    t.equal(
      failures - (await counterSum(server.metrics, 'turnkit_auth_failures_total', { reason: 'no-credentials' })),
      0,
      'no authentication failure other than the unauthenticated first Allocate',
    );
  });

  t.test('TURN REST credentials without -u (user is the bare expiry time, as coturn accepts)', async (t) => {
    const peer = await startPeer(t);
    const { server, port } = await startTurn(t, { allowLoopbackPeers: true });
    const r = await uclient(port, peer, ['-W', SECRET, '-c']);
    const s = assertAllBack(t, r, 1);
    await assertRelayed(t, server, s, 1);
  });

  t.test('wrong password: no allocation, turnkit_auth_failures_total rises', async (t) => {
    const peer = await startPeer(t);
    const { server, port } = await startTurn(t, { allowLoopbackPeers: true });
    const r = await uclient(port, peer, ['-u', 'test', '-w', 'not-the-password', '-c'], 3);
    t.notOk(r.timedOut, 'uclient gave up by itself');
    t.not(r.code, 0, 'uclient exits non-zero', { output: show(r) });
    t.match(r.stdout + r.stderr, /Cannot complete Allocation/, 'uclient: "Cannot complete Allocation"');
    t.notMatch(r.stdout, /tot_recv_msgs=[1-9]/, 'nothing relayed');
    const bad = await counterSum(server.metrics, 'turnkit_auth_failures_total', { reason: 'bad-integrity' });
    const all = await counterSum(server.metrics, 'turnkit_auth_failures_total');
    t.ok(bad >= 1, `turnkit_auth_failures_total{reason="bad-integrity"} = ${bad} (all reasons ${all})`);
    const c = await relayCounters(server);
    t.equal(c.created, 0, 'no allocation created');
  });

  t.test('wrong REST secret: no allocation', async (t) => {
    const peer = await startPeer(t);
    const { server, port } = await startTurn(t, { allowLoopbackPeers: true });
    const r = await uclient(port, peer, ['-u', 'alice', '-W', 'not-the-secret', '-c'], 3);
    t.not(r.code, 0, 'uclient exits non-zero', { output: show(r) });
    t.match(r.stdout + r.stderr, /Cannot complete Allocation/, 'uclient: "Cannot complete Allocation"');
    t.ok((await counterSum(server.metrics, 'turnkit_auth_failures_total', { reason: 'bad-integrity' })) >= 1, 'counted as bad-integrity');
    t.equal((await relayCounters(server)).created, 0, 'no allocation created');
  });

  for (const mode of [
    { name: 'ChannelBind', args: [] as string[], expect: /channel bind: error 403/ },
    { name: 'CreatePermission (-s)', args: ['-s'], expect: /create permission error 403/ },
  ]) {
    t.test(`loopback peer denied by default (no allowPeers): ${mode.name} gets 403, nothing relayed`, async (t) => {
      const peer = await startPeer(t);
      const { server, port } = await startTurn(t, { allowLoopbackPeers: false });
      const r = await uclient(port, peer, ['-u', 'test', '-w', 'test', '-c', ...mode.args], 3);
      t.notOk(r.timedOut, 'uclient gave up by itself');
      t.not(r.code, 0, 'uclient exits non-zero', { output: show(r) });
      t.match(r.stdout + r.stderr, mode.expect, `uclient saw the 403 (${mode.expect.source})`);
      t.notMatch(r.stdout, /tot_recv_msgs=[1-9]/, 'no message came back');
      const denied = await counterSum(server.metrics, 'turnkit_peer_denied_total');
      t.ok(denied >= 1, `turnkit_peer_denied_total = ${denied}`);
      const c = await relayCounters(server);
      t.equal(c.toPeer, 0, 'nothing relayed to the peer');
      t.equal(c.toClient, 0, 'nothing relayed to the client');
    });
  }

  t.test('the CLI: --user, --secret, --allow-peer, --relay-ports as flags', async (t) => {
    const peer = await startPeer(t);
    const relay = await freePortRange(['127.0.0.1'], 20, ['udp']);
    const cli = await startTurnkitCli(t, [
      '--listen', '127.0.0.1:0', '--log-level', 'info', '--realm', REALM,
      '--user', 'test:test', '--secret', 'old-secret', '--secret', SECRET,
      '--allow-peer', '127.0.0.0/8', '--relay-ports', `${relay}-${relay + 19}`,
    ]);
    const udp = cli.listeners.find((l) => l.transport === 'udp');
    t.ok(udp, 'ready line lists a UDP listener');
    if (!udp) return;
    t.equal(cli.ready.turn, 'on', 'ready line says TURN is on');
    // the second --secret is accepted too (rotation)
    const r = await uclient(udp.port, peer, ['-u', 'bob', '-W', SECRET, '-m', '2']);
    assertAllBack(t, r, 2);
  });

  t.end();
});
