/**
 * coturn's `turnutils_uclient` in its RFC 6062 TCP-relay modes against turnkit, on 127.0.0.1.
 *
 * `-T` (implies -t -y -c): two sessions each Allocate a TCP relay over TCP, CreatePermission for each
 * other's relayed address, and one Connects to the other's relayed address, so turnkit connects
 * from one relay to the other: the second gets a ConnectionAttempt, both ConnectionBind a data
 * connection, and each session's messages reach the other. Every message must arrive. `-S` runs the
 * same over TLS.
 *
 * `-P` ("passive TCP", an active peer): one session allocates, and a plain TCP socket of uclient
 * connects to its relayed address as the peer (ConnectionAttempt → ConnectionBind). uclient counts
 * only what its TURN session receives there: it reports 2×N sent and N received against coturn's
 * own turnserver too (measured with coturn 4.6: tot_send_msgs=10, tot_recv_msgs=5 for -n 5), so
 * that is the expectation here, not a loss.
 */
import t from 'tap';
import { makeSelfSignedCert } from '../helpers/certs.js';
import { runTool, type ToolResult } from '../helpers/process.js';
import { hasTool, skipUnless } from '../helpers/tools.js';
import { parseSummary, show } from '../helpers/uclient.js';
import { counterSum, freePortRange, startTurnkit, type RunningServer } from './lib.js';

t.setTimeout(120_000);

type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

const REALM = 'example.org';
/** Messages per session and their length. */
const N = 8;
const LEN = 200;

async function startTurn(t: Tap, tls: boolean): Promise<{ server: RunningServer; port: number }> {
  const cert = tls ? makeSelfSignedCert() : undefined;
  if (cert) t.teardown(() => cert.cleanup());
  const relay = await freePortRange(['127.0.0.1'], 40, ['tcp']);
  const server = await startTurnkit(t, {
    listen: [{ host: '127.0.0.1', port: 0 }],
    ...(cert ? { tlsListen: [{ host: '127.0.0.1', port: 0 }], cert: cert.certFile, key: cert.keyFile } : {}),
    realm: REALM,
    users: { test: 'test' },
    relayPorts: `${relay}-${relay + 39}`,
    relayIp: '127.0.0.1',
    allowPeers: ['127.0.0.0/8'],
    httpListen: null,
    metricsListen: null,
  });
  const l = server.listeners.find((x) => x.transport === (tls ? 'tls' : 'tcp'));
  if (!l) throw new Error(`no ${tls ? 'TLS' : 'TCP'} listener: ${JSON.stringify(server.listeners)}`);
  return { server, port: l.port };
}

function uclient(port: number, extra: string[]): Promise<ToolResult> {
  const args = ['-u', 'test', '-w', 'test', '-r', REALM, '-p', String(port), '-n', String(N), '-l', String(LEN), ...extra, '127.0.0.1'];
  return runTool('turnutils_uclient', args, { timeoutMs: 40_000 });
}

const needUclient = skipUnless('turnutils_uclient');

for (const tls of [false, true]) {
  const name = tls ? 'TLS (-T -S)' : 'TCP (-T)';
  const skip = tls && !hasTool('openssl') ? { skip: 'openssl CLI not installed (needed to make a test certificate)' } : needUclient;
  t.test(`uclient client-to-client over a TCP relay, ${name}: every message arrives`, skip, async (tt) => {
    const { server, port } = await startTurn(tt, tls);
    const r = await uclient(port, tls ? ['-T', '-S'] : ['-T']);
    const s = parseSummary(r.stdout + r.stderr);
    tt.notOk(r.timedOut, 'uclient finished');
    tt.equal(r.code, 0, 'uclient exit 0', { output: show(r) });
    tt.match(r.stdout + r.stderr, /2 connections are completed/, 'both TCP relay connections were bound', { output: show(r) });
    tt.equal(s.sent, 2 * N, `tot_send_msgs = 2 sessions × ${N}`, { output: show(r) });
    tt.equal(s.received, s.sent, `tot_recv_msgs ${s.received} = tot_send_msgs: every message arrived`);
    tt.equal(s.lost, 0, 'Total lost packets 0');
    const bytes = await counterSum(server.metrics, 'turnkit_tcp_relayed_bytes_total', { direction: 'to-peer' });
    tt.ok(bytes >= 2 * N * LEN, `turnkit_tcp_relayed_bytes_total{to-peer} ${bytes} >= ${2 * N * LEN}`);
    tt.comment(`uclient ${name}: sent=${s.sent} received=${s.received} lost=${s.lost} rtt avg=${s.rttAvgMs} ms`);
  });
}

t.test('uclient -P (an active TCP peer connects to the relayed address): ConnectionAttempt, bind, data arrives', needUclient, async (tt) => {
  const { server, port } = await startTurn(tt, false);
  const r = await uclient(port, ['-P']);
  const s = parseSummary(r.stdout + r.stderr);
  tt.notOk(r.timedOut, 'uclient finished');
  tt.equal(r.code, 0, 'uclient exit 0', { output: show(r) });
  tt.equal(s.sent, 2 * N, `tot_send_msgs = 2 × ${N}`, { output: show(r) });
  tt.equal(s.received, N, `tot_recv_msgs = ${N}, what coturn's own server gives this client too`, { output: show(r) });
  tt.equal(await counterSum(server.metrics, 'turnkit_tcp_relay_refused_total'), 0, 'the peer was not refused');
  tt.ok((await counterSum(server.metrics, 'turnkit_tcp_relayed_bytes_total', { direction: 'to-client' })) >= N * LEN, 'the peer’s bytes reached the client');
});
