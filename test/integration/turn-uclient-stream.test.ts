/**
 * coturn's `turnutils_uclient` over TCP (`-t`) and TLS (`-t -S`) to turnkit on 127.0.0.1 and ::1,
 * relaying over UDP to `turnutils_peer`: ChannelBind + ChannelData (padded on the stream, RFC 8656
 * §12.5) and Send/Data indications (`-s`); every message must come back. The allocations are
 * made over the stream transport (turnkit's per-transport counters say so) and end with their
 * connections when uclient exits (RFC 8656 §7). An IPv6 client gets an IPv4 relay by default.
 */
import t from 'tap';
import { canBindIpv6Loopback, freePortRange, startTurnkit, counterSum, type RunningServer, type Teardown } from './lib.js';
import { makeSelfSignedCert } from '../helpers/certs.js';
import { skipUnless } from '../helpers/tools.js';
import { N, REALM, assertAllBack, relayCounters, startPeer, uclient, type Tap } from './uclient.js';

t.setTimeout(150_000);

/** turnkit with TCP and TLS listeners on `host` and a throwaway certificate; relays on 127.0.0.1. */
async function startStreamTurn(t: Tap, host: string): Promise<{ server: RunningServer; tcp: number; tls: number }> {
  const cert = makeSelfSignedCert();
  t.teardown(() => cert.cleanup());
  const relay = await freePortRange(['127.0.0.1'], 40, ['udp']);
  const server = await startTurnkit(t as Teardown, {
    listen: [{ host, port: 0 }],
    tlsListen: [{ host, port: 0 }],
    cert: cert.certFile,
    key: cert.keyFile,
    realm: REALM,
    users: { test: 'test' },
    relayPorts: `${relay}-${relay + 39}`,
    relayIp: '127.0.0.1',
    allowPeers: ['127.0.0.0/8'],
    httpListen: null,
    metricsListen: null,
  });
  const port = (tr: string) => server.listeners.find((l) => l.transport === tr)!.port;
  return { server, tcp: port('tcp'), tls: port('tls') };
}

const ipv6 = await canBindIpv6Loopback();

for (const host of ['127.0.0.1', '::1']) {
  const skip = unmet(host);
  for (const secure of [false, true]) {
    const transport = secure ? 'tls' : 'tcp';
    for (const mode of [{ name: 'ChannelBind + ChannelData', args: [] as string[] }, { name: 'Send/Data indications (-s)', args: ['-s'] }]) {
      t.test(`uclient ${secure ? '-t -S (TLS)' : '-t (TCP)'} to ${host}: ${mode.name}, every message back`, skip, async (t) => {
        const peer = await startPeer(t);
        const { server, tcp, tls } = await startStreamTurn(t, host);
        const r = await uclient(secure ? tls : tcp, peer, ['-u', 'test', '-w', 'test', '-t', ...(secure ? ['-S'] : []), ...mode.args], N, host);
        const s = assertAllBack(t, r, 2);
        const c = await relayCounters(server);
        t.ok(c.toPeer >= (s.sent ?? 1) && c.toClient >= (s.received ?? 1), `turnkit relayed ${c.toPeer} packets to the peer, ${c.toClient} back`);
        const allocs = await counterSum(server.metrics, 'turnkit_stun_requests_total', { transport, method: 'Allocate', result: 'success' });
        t.equal(allocs, c.created, `all ${allocs} allocations were made over ${transport}`);
        const method = mode.args.length ? 'CreatePermission' : 'ChannelBind';
        t.ok((await counterSum(server.metrics, 'turnkit_stun_requests_total', { transport, method, result: 'success' })) >= 2, `${method} over ${transport} succeeded`);
        // uclient exits without deleting its allocations: they end with their connections.
        const ended = async () =>
          (await counterSum(server.metrics, 'turnkit_allocation_events_total', { event: 'closed' })) +
          (await counterSum(server.metrics, 'turnkit_allocation_events_total', { event: 'deleted' }));
        const end = Date.now() + 5000;
        while ((await ended()) < c.created && Date.now() < end) await new Promise((res) => setTimeout(res, 50));
        t.equal(await counterSum(server.metrics, 'turnkit_allocations'), 0, 'no allocation outlives its connection');
        t.ok((await counterSum(server.metrics, 'turnkit_allocation_events_total', { event: 'closed' })) >= 1, 'ended by the connection closing (event "closed")');
      });
    }
  }
}

function unmet(host: string): { skip: string | false } {
  const tools = skipUnless('turnutils_uclient', 'turnutils_peer', 'openssl');
  if (tools.skip) return { skip: tools.skip };
  if (host === '::1' && !ipv6) return { skip: '::1 cannot be bound on this host (no IPv6 loopback)' };
  return { skip: false };
}
