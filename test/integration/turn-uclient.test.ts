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
 * Refresh 0 at exit), so each case gets its own server.
 */
import t from 'tap';
import { canBindIpv6Loopback, freePortRange, startTurnkitCli, counterSum } from './lib.js';
import { N, REALM, SECRET, assertAllBack, assertRelayed, needTools, relayCounters, startPeer, startTurn, uclient } from './uclient.js';
import { show } from '../helpers/uclient.js';

t.setTimeout(150_000);

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

/**
 * The same over IPv6: uclient talks to turnkit on [::1] and relays to a turnutils_peer on ::1. `-x`
 * asks for an IPv6 relay (REQUESTED-ADDRESS-FAMILY); `-Z` asks for a dual allocation (coturn sends
 * ADDITIONAL-ADDRESS-FAMILY under its draft code point 0x8032) and uses the IPv6 relay for the
 * IPv6 peer; `-t` runs the control connection over TCP.
 */
const needIpv6 = (await canBindIpv6Loopback()) ? needTools : { skip: 'no IPv6 loopback (::1) on this host' };
t.test('turnutils_uclient over IPv6: turnkit on [::1], turnutils_peer on ::1', needIpv6, async (t) => {
  for (const mode of [
    { name: 'UDP, IPv6 relay (-x), ChannelData', args: ['-x'], sessions: 2, clients: 1 },
    { name: 'UDP, IPv6 relay (-x), Send/Data indications (-s)', args: ['-x', '-s'], sessions: 2, clients: 1 },
    { name: 'TCP (-t), IPv6 relay (-x)', args: ['-t', '-x'], sessions: 2, clients: 1 },
    { name: 'UDP, dual allocation (-Z)', args: ['-Z'], sessions: 1, clients: 1 },
  ]) {
    t.test(mode.name, async (t) => {
      const peer = await startPeer(t, '::1');
      const { server } = await startTurn(t, { allowLoopbackPeers: true, ipv6: true });
      // Port 0 gives the UDP and TCP listeners ports of their own.
      const transport = mode.args.includes('-t') ? 'tcp' : 'udp';
      const port = server.listeners.find((l) => l.transport === transport)!.port;
      const r = await uclient(port, peer, ['-u', 'test', '-w', 'test', ...mode.args], N, '::1', '::1');
      const s = assertAllBack(t, r, mode.sessions);
      await assertRelayed(t, server, s, mode.clients);
    });
  }
  t.end();
});

