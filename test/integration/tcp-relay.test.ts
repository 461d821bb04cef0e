/**
 * RFC 6062 TCP relays, with real sockets on 127.0.0.1: our own TURN client (test/helpers/
 * turn-stream-client.ts) allocates a TCP relay over TCP and over TLS, Connects to a TCP echo peer,
 * binds a client data connection and pushes megabytes both ways (checked by SHA-256); a peer
 * connecting to the relayed address reaches the client through ConnectionAttempt only with a
 * permission; 446, 447 and 403 on Connect; the end of an allocation closes its connections; an
 * unbound CONNECTION-ID is closed after 30 s; and a peer that never reads stalls its sender
 * (backpressure) without growing the server's buffers, while another allocation keeps relaying.
 *
 * coturn's turnutils_uclient has a TCP-relay mode (-T); see tcp-relay-uclient.test.ts.
 */
import t from 'tap';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { makeSelfSignedCert } from '../helpers/certs.js';
import { hasTool } from '../helpers/tools.js';
import { MessageClass } from '../../src/stun/constants.js';
import type { TransportAddress } from '../../src/stun/ip.js';
import { AttributeType, allocateRequest, connectionIdOf, errorCode, textAttr } from '../helpers/turn-client.js';
import { decodeMessage } from '../../src/stun/message.js';
import { TurnStreamClient, type StreamTarget } from '../helpers/turn-stream-client.js';
import { counterSum, freePortRange, sleep, startTurnkit, UdpClient, type RunningServer, type Teardown } from './lib.js';

t.setTimeout(120_000);

type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

const REALM = 'example.org';
const USERS = { alice: 'alice-tcp-relay-pw', bob: 'bob-tcp-relay-pw' };
const HAVE_OPENSSL = hasTool('openssl');

interface Setup {
  server: RunningServer;
  /** What the server was started with, for building a reload. */
  input: Record<string, unknown>;
  target: (transport: 'tcp' | 'tls', user?: keyof typeof USERS) => StreamTarget;
  udpPort: number;
}

/** turnkit on 127.0.0.1 (TCP, UDP and, with openssl, TLS), relays on 127.0.0.1, loopback peers allowed. */
async function setup(tt: Tap, extra: Record<string, unknown> = {}): Promise<Setup> {
  const cert = HAVE_OPENSSL ? makeSelfSignedCert() : undefined;
  if (cert) tt.teardown(() => cert.cleanup());
  const relay = await freePortRange(['127.0.0.1'], 40, ['tcp']);
  const input = {
    listen: [{ host: '127.0.0.1', port: 0 }],
    ...(cert ? { tlsListen: [{ host: '127.0.0.1', port: 0 }], cert: cert.certFile, key: cert.keyFile } : {}),
    realm: REALM,
    users: USERS,
    relayIp: '127.0.0.1',
    relayPorts: `${relay}-${relay + 39}`,
    allowPeers: ['127.0.0.0/8'],
    streamIdleTimeout: 60,
    httpListen: null,
    metricsListen: null,
    ...extra,
  };
  const server = await startTurnkit(tt, input);
  const port = (tr: string): number => server.listeners.find((l) => l.transport === tr)?.port ?? 0;
  return {
    server,
    input,
    udpPort: port('udp'),
    target: (transport, user = 'alice') => ({
      transport,
      host: '127.0.0.1',
      port: port(transport),
      ...(cert ? { ca: cert.cert } : {}),
      username: user,
      password: USERS[user],
      realm: REALM,
    }),
  };
}

/** A TCP peer on 127.0.0.1 that echoes what it reads (or never reads, with `silent`); sockets closed in teardown. */
async function tcpPeer(tt: Teardown, opts: { silent?: boolean } = {}): Promise<{ address: TransportAddress; sockets: net.Socket[]; server: net.Server }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer({ pauseOnConnect: opts.silent ?? false }, (s) => {
    sockets.push(s);
    s.on('error', () => undefined);
    if (!opts.silent) s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  tt.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const a = server.address() as net.AddressInfo;
  return { address: { family: 'IPv4', address: '127.0.0.1', port: a.port }, sockets, server };
}

/** A port on 127.0.0.1 where nothing listens (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Writes `data` in 64 KiB pieces (honouring backpressure) and reads `expect` bytes back; their SHA-256. */
async function roundTrip(socket: net.Socket, data: Buffer, first: Buffer = Buffer.alloc(0), timeoutMs = 20_000): Promise<string> {
  const hash = createHash('sha256');
  let got = 0;
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${got} of ${data.length} bytes came back`)), timeoutMs);
    const take = (d: Buffer): void => {
      hash.update(d);
      got += d.length;
      if (got >= data.length) {
        clearTimeout(timer);
        resolve();
      }
    };
    if (first.length > 0) take(first);
    socket.on('data', take);
    socket.once('close', () => {
      clearTimeout(timer);
      if (got < data.length) reject(new Error(`closed after ${got} of ${data.length} bytes`));
    });
  });
  socket.resume();
  for (let off = 0; off < data.length; off += 65536) {
    if (!socket.write(data.subarray(off, off + 65536))) await new Promise((r) => socket.once('drain', r));
  }
  await done;
  return hash.digest('hex');
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Resolves true when the socket closes within timeoutMs. */
function closesWithin(socket: net.Socket, timeoutMs: number): Promise<boolean> {
  if (socket.destroyed || socket.closed) return Promise.resolve(true);
  return Promise.race([new Promise<boolean>((r) => socket.once('close', () => r(true))), sleep(timeoutMs).then(() => false)]);
}

/** A TCP allocation on a fresh control connection. */
async function tcpAllocation(tt: Tap, s: Setup, transport: 'tcp' | 'tls' = 'tcp', user: keyof typeof USERS = 'alice'): Promise<{ client: TurnStreamClient; relayed: TransportAddress }> {
  const client = await TurnStreamClient.open(tt, s.target(transport, user));
  const relayed = await client.allocate({ transport: 6 });
  return { client, relayed };
}

/** Connect + ConnectionBind: a raw pipe to `peer`. */
async function pipeTo(tt: Tap, client: TurnStreamClient, peer: TransportAddress): Promise<{ socket: net.Socket; rest: Buffer; id: number }> {
  const r = await client.connect(peer);
  tt.equal(r.cls, MessageClass.SuccessResponse, `Connect to ${peer.address}:${peer.port} succeeds (error ${errorCode(r)})`);
  const id = connectionIdOf(r);
  tt.ok(id !== undefined, 'the Connect success carries a CONNECTION-ID');
  const bound = await client.bind(id!);
  if (!bound.ok) throw new Error(`ConnectionBind failed: ${errorCode(bound.response)}`);
  return { socket: bound.socket, rest: bound.rest, id: id! };
}

for (const transport of ['tcp', 'tls'] as const) {
  const skip = transport === 'tls' && !HAVE_OPENSSL ? 'openssl CLI not installed (needed to make a test certificate)' : false;
  t.test(`${transport}: Allocate TCP, Connect, ConnectionBind, 4 MB both ways through an echo peer`, { skip }, async (tt) => {
    const s = await setup(tt);
    const peer = await tcpPeer(tt);
    const { client, relayed } = await tcpAllocation(tt, s, transport);
    tt.equal(relayed.address, '127.0.0.1', 'the relayed address is on the relay IP');
    tt.ok(relayed.port >= 1024, 'with a port from the relay range');

    const { socket, rest } = await pipeTo(tt, client, peer.address);
    tt.equal(peer.sockets.length, 1, 'the peer saw one connection');
    tt.equal(peer.sockets[0]!.remoteAddress, '127.0.0.1', 'coming from the relay IP');

    const data = randomBytes(4 * 1024 * 1024);
    tt.equal(await roundTrip(socket, data, rest), sha256(data), '4 MiB came back intact (SHA-256)');
    tt.ok((await counterSum(s.server.metrics, 'turnkit_tcp_relayed_bytes_total', { direction: 'to-peer' })) >= data.length, 'bytes to the peer counted');
    tt.ok((await counterSum(s.server.metrics, 'turnkit_tcp_relayed_bytes_total', { direction: 'to-client' })) >= data.length, 'bytes to the client counted');
    tt.equal(await counterSum(s.server.metrics, 'turnkit_tcp_relay_connections'), 1, 'one open peer data connection');

    // The control connection keeps working next to the data connection.
    const refresh = await client.refresh(600);
    tt.equal(refresh.cls, MessageClass.SuccessResponse, 'Refresh on the control connection still answered');
  });
}

t.test('data written right behind the ConnectionBind, before its answer, reaches the peer', async (tt) => {
  const s = await setup(tt);
  const peer = await tcpPeer(tt);
  const { client } = await tcpAllocation(tt, s);
  const r = await client.connect(peer.address);
  const id = connectionIdOf(r)!;
  // bind() learns the NONCE with a first attempt, then sends ConnectionBind + data in one write.
  client.nonce = undefined;
  const early = randomBytes(3000);
  const bound = await client.bind(id, early);
  tt.ok(bound.ok, 'ConnectionBind succeeds');
  if (!bound.ok) return;
  let echoed = bound.rest;
  const complete = new Promise<boolean>((resolve) => {
    if (echoed.length >= early.length) return resolve(true);
    bound.socket.on('data', (d: Buffer) => {
      echoed = Buffer.concat([echoed, d]);
      if (echoed.length >= early.length) resolve(true);
    });
    bound.socket.resume();
  });
  await Promise.race([complete, sleep(5000)]);
  tt.ok(echoed.equals(early), 'the 3000 bytes that followed the request in its segment came back from the echo peer');
});

t.test('the control connection of a TCP relay outlives the stream idle timeout while its allocation lives', async (tt) => {
  const s = await setup(tt, { streamIdleTimeout: 1 });
  const peer = await tcpPeer(tt);
  const { client } = await tcpAllocation(tt, s);
  const { socket, rest } = await pipeTo(tt, client, peer.address);
  tt.notOk(await closesWithin(client.socket, 2500), 'no traffic on the control connection for 2.5 s (idle timeout 1 s): still open');
  const data = randomBytes(100_000);
  tt.equal(await roundTrip(socket, data, rest), sha256(data), 'and the pipe still relays');
  tt.equal((await client.refresh(0)).cls, MessageClass.SuccessResponse, 'Refresh 0');
  tt.ok(await closesWithin(client.socket, 4000), 'without an allocation the idle timeout applies again');
});

t.test('incoming peer connection: refused without a permission, ConnectionAttempt + ConnectionBind with one', async (tt) => {
  const s = await setup(tt);
  const { client, relayed } = await tcpAllocation(tt, s);

  // No permission: the server accepts at TCP level, then closes at once; the client hears nothing.
  const intruder = net.connect({ host: relayed.address, port: relayed.port, localAddress: '127.0.0.1' });
  intruder.on('error', () => undefined);
  tt.teardown(() => intruder.destroy());
  tt.ok(await closesWithin(intruder, 3000), 'a peer without a permission is disconnected');
  tt.equal(await client.connectionAttempt(300), undefined, 'and the client gets no ConnectionAttempt');
  tt.equal(await counterSum(s.server.metrics, 'turnkit_tcp_relay_refused_total', { reason: 'no-permission' }), 1, 'the refusal is counted');

  // With a permission for 127.0.0.1 the peer gets through.
  tt.equal((await client.createPermission([{ family: 'IPv4', address: '127.0.0.1', port: 0 }])).cls, MessageClass.SuccessResponse, 'CreatePermission 127.0.0.1');
  const peer = net.connect({ host: relayed.address, port: relayed.port, localAddress: '127.0.0.1' });
  peer.on('error', () => undefined);
  tt.teardown(() => peer.destroy());
  await new Promise((r) => peer.once('connect', r));
  const attempt = await client.connectionAttempt(3000);
  tt.ok(attempt, 'ConnectionAttempt arrives on the control connection');
  if (!attempt) return;
  tt.same(attempt.peer, { family: 'IPv4', address: '127.0.0.1', port: peer.localPort }, 'XOR-PEER-ADDRESS is the peer end of its connection');

  // The peer talks first: what it sent before the bind waits for the client.
  peer.write('hello before bind');
  await sleep(100);
  const bound = await client.bind(attempt.id);
  tt.ok(bound.ok, 'ConnectionBind with the CONNECTION-ID of the attempt succeeds');
  if (!bound.ok) return;
  const socket = bound.socket;
  const early = await new Promise<Buffer>((resolve) => {
    let b = bound.rest;
    const done = (): boolean => b.length >= 17;
    if (done()) return resolve(b);
    socket.on('data', (d: Buffer) => {
      b = Buffer.concat([b, d]);
      if (done()) {
        socket.removeAllListeners('data');
        socket.pause();
        resolve(b);
      }
    });
    socket.resume();
  });
  tt.equal(early.toString(), 'hello before bind', 'the bytes the peer sent before the bind reach the client');

  // Both ways, a megabyte each: the peer echoes.
  peer.pipe(peer);
  const data = randomBytes(1024 * 1024);
  tt.equal(await roundTrip(socket, data), sha256(data), '1 MiB client → peer → client intact');

  // A second ConnectionBind for the same CONNECTION-ID is refused.
  const again = await client.bind(attempt.id);
  tt.equal(again.ok ? 'success' : errorCode(again.response), 400, 'a CONNECTION-ID binds once');
});

t.test('Connect errors: 446, 447, 403; ConnectionBind with an unknown id: 400; TCP over UDP: 400', async (tt) => {
  const s = await setup(tt);
  const peer = await tcpPeer(tt);
  const { client } = await tcpAllocation(tt, s);

  const first = await client.connect(peer.address);
  tt.equal(first.cls, MessageClass.SuccessResponse, 'first Connect succeeds');
  const second = await client.connect(peer.address);
  tt.equal(errorCode(second), 446, 'a second Connect to the same peer: 446 Connection Already Exists');

  const closed = await closedPort();
  const refused = await client.connect({ family: 'IPv4', address: '127.0.0.1', port: closed });
  tt.equal(errorCode(refused), 447, 'Connect to a closed port: 447 Connection Timeout or Failure');
  tt.equal(await counterSum(s.server.metrics, 'turnkit_tcp_relay_connect_failures_total', { reason: 'refused' }), 1, 'counted as refused');
  const retry = await client.connect({ family: 'IPv4', address: '127.0.0.1', port: closed });
  tt.equal(errorCode(retry), 447, 'a failed connection leaves nothing behind: the retry is 447 again, not 446');

  // 10.0.0.1 is on the default deny list (not allowed here): refused before any packet is sent.
  const denied = await client.connect({ family: 'IPv4', address: '10.0.0.1', port: 80 });
  tt.equal(errorCode(denied), 403, 'Connect to a denied address: 403');
  tt.ok((await counterSum(s.server.metrics, 'turnkit_peer_denied_total')) >= 1, 'counted by the peer policy');
  const self = await client.connect({ family: 'IPv4', address: '127.0.0.1', port: s.target('tcp').port });
  tt.equal(errorCode(self), 403, "Connect to the server's own listener: 403");

  // The credential service and metrics are the server's own too (a relay into them would mint
  // credentials or read metrics from inside).
  const withHttp = await setup(tt, { httpListen: { host: '127.0.0.1', port: 0 }, metricsListen: { host: '127.0.0.1', port: 0 } }) as Setup & { server: { http?: { port: number }; metricsHttp?: { port: number } } };
  const inside = (await tcpAllocation(tt, withHttp)).client;
  for (const [what, port] of [['credential service', withHttp.server.http?.port], ['metrics', withHttp.server.metricsHttp?.port]] as const) {
    tt.ok(port, `${what} listening`);
    const r = await inside.connect({ family: 'IPv4', address: '127.0.0.1', port: port ?? 0 });
    tt.equal(errorCode(r), 403, `Connect to the server's own ${what} port: 403`);
  }

  const bogus = await client.bind(0x12345678);
  tt.equal(bogus.ok ? 'success' : errorCode(bogus.response), 400, 'ConnectionBind with an unknown CONNECTION-ID: 400');

  // Connect on a UDP allocation, and a TCP allocation asked for over UDP.
  const udpAlloc = await TurnStreamClient.open(tt, s.target('tcp'));
  await udpAlloc.allocate();
  tt.equal(errorCode(await udpAlloc.connect(peer.address)), 403, 'Connect on a UDP allocation: 403');
  const udp = await UdpClient.open(tt);
  let nonce = 'none';
  const codes: Array<number | undefined> = [];
  for (let i = 0; i < 2; i++) {
    const creds = { username: 'alice', password: USERS.alice, realm: REALM, nonce };
    const d = await udp.request(allocateRequest(creds, { transport: 6 }).data, s.udpPort);
    const m = d ? decodeMessage(d.msg) : undefined;
    if (!m?.ok) break;
    codes.push(errorCode(m.message));
    nonce = textAttr(m.message, AttributeType.Nonce) ?? nonce;
  }
  // The first answer (438 to the placeholder nonce) hands out the NONCE; the signed retry gets the verdict.
  tt.same(codes, [438, 400], 'Allocate with REQUESTED-TRANSPORT TCP over UDP: 400');
});

t.test('the end of an allocation (Refresh 0, control connection closed, expiry) closes its peer and data connections', async (tt) => {
  const s = await setup(tt);
  const peer = await tcpPeer(tt);

  // Refresh 0 on the control connection.
  const a = await tcpAllocation(tt, s);
  const pa = await pipeTo(tt, a.client, peer.address);
  const peerSideA = peer.sockets.at(-1)!;
  tt.equal((await a.client.refresh(0)).cls, MessageClass.SuccessResponse, 'Refresh 0');
  tt.ok(await closesWithin(pa.socket, 3000), 'Refresh 0: the client data connection is closed');
  tt.ok(await closesWithin(peerSideA, 3000), 'Refresh 0: the peer data connection is closed');

  // The control connection closes.
  const b = await tcpAllocation(tt, s);
  const pb = await pipeTo(tt, b.client, peer.address);
  const peerSideB = peer.sockets.at(-1)!;
  b.client.socket.destroy();
  tt.ok(await closesWithin(pb.socket, 3000), 'control connection closed: the client data connection is closed');
  tt.ok(await closesWithin(peerSideB, 3000), 'control connection closed: the peer data connection is closed');

  // Expiry: the server reads time with Date.now() and sweeps once a second; 601 s later the
  // allocation (600 s by default) is due.
  const c = await tcpAllocation(tt, s);
  const pc = await pipeTo(tt, c.client, peer.address);
  const peerSideC = peer.sockets.at(-1)!;
  const realNow = Date.now;
  Date.now = () => realNow() + 601_000;
  tt.teardown(() => {
    Date.now = realNow;
  });
  const expiredData = await closesWithin(pc.socket, 3000);
  const expiredPeer = await closesWithin(peerSideC, 3000);
  Date.now = realNow;
  tt.ok(expiredData, 'expiry: the client data connection is closed');
  tt.ok(expiredPeer, 'expiry: the peer data connection is closed');
  tt.equal(await counterSum(s.server.metrics, 'turnkit_allocation_events_total', { event: 'expired' }), 1, 'counted as expired');

  // A relay listener is gone with its allocation.
  const probe = net.connect({ host: b.relayed.address, port: b.relayed.port });
  const refused = await new Promise<boolean>((r) => {
    probe.once('error', () => r(true));
    probe.once('connect', () => r(false));
  });
  probe.destroy();
  tt.ok(refused, 'the relayed address no longer accepts connections');
  await sleep(100);
  tt.equal(await counterSum(s.server.metrics, 'turnkit_tcp_relay_connections'), 0, 'no peer data connection left');
  tt.equal(await counterSum(s.server.metrics, 'turnkit_allocations'), 0, 'no allocation left');
});

t.test('a reload that denies a peer closes its TCP pipes and pending connections at once', async (tt) => {
  const s = await setup(tt);
  const peer = await tcpPeer(tt);
  const a = await tcpAllocation(tt, s);
  const pipe = await pipeTo(tt, a.client, peer.address);
  const peerSide = peer.sockets.at(-1)!;
  const echoed = new Promise<string>((resolve) => {
    let got = pipe.rest;
    pipe.socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 6) resolve(got.subarray(0, 6).toString());
    });
    pipe.socket.resume();
  });
  pipe.socket.write('before');
  tt.equal(await Promise.race([echoed, sleep(3000).then(() => 'no echo')]), 'before', 'the pipe relays before the reload');
  // An announced but unbound connection to the same peer IP (another port) goes too.
  const other = await tcpPeer(tt);
  const pending = await a.client.connect(other.address);
  const pendingId = connectionIdOf(pending);
  tt.ok(pendingId !== undefined, 'a second connection is announced');
  const { resolveConfig } = await import('../../src/config.js');
  const reload = (s.server as unknown as { reload(c: unknown): Promise<string[]> }).reload;
  await reload(resolveConfig({ ...s.input, logLevel: 'silent', denyPeers: ['127.0.0.1/32'] } as Parameters<typeof resolveConfig>[0]));
  tt.ok(await closesWithin(pipe.socket, 3000), 'the client data connection is closed');
  tt.ok(await closesWithin(peerSide, 3000), 'the peer data connection is closed');
  const late = await a.client.bind(pendingId!);
  tt.equal(late.ok ? 'success' : errorCode(late.response), 400, 'the announced connection can no longer be bound');
  tt.equal(errorCode(await a.client.connect(peer.address)), 403, 'a new Connect to the peer: 403');
});

t.test('a CONNECTION-ID not bound within 30 s is closed (clock moved ahead for the sweep)', async (tt) => {
  const s = await setup(tt);
  const peer = await tcpPeer(tt);
  const { client } = await tcpAllocation(tt, s);
  const r = await client.connect(peer.address);
  const id = connectionIdOf(r)!;
  const peerSide = peer.sockets.at(-1)!;
  tt.notOk(await closesWithin(peerSide, 1500), 'still open after 1.5 s');

  // The server reads time with Date.now() and sweeps once a second: 31 s later it is due.
  const realNow = Date.now;
  const shift = 31_000;
  Date.now = () => realNow() + shift;
  tt.teardown(() => {
    Date.now = realNow;
  });
  const closed = await closesWithin(peerSide, 3000);
  Date.now = realNow;
  tt.ok(closed, 'the peer data connection is closed by the sweep');
  tt.equal(await counterSum(s.server.metrics, 'turnkit_tcp_relay_bind_timeouts_total'), 1, 'the timeout is counted');
  const late = await client.bind(id);
  tt.equal(late.ok ? 'success' : errorCode(late.response), 400, 'a ConnectionBind after the timeout: 400');
});

t.test('slow reader: a peer that never reads stalls its sender; server buffers stay bounded; others keep relaying', async (tt) => {
  const s = await setup(tt);
  const silent = await tcpPeer(tt, { silent: true });
  const echo = await tcpPeer(tt);
  const slow = await tcpAllocation(tt, s);
  const { socket } = await pipeTo(tt, slow.client, silent.address);
  socket.resume();

  // Write as fast as the pipe takes it, for at most 64 MiB or until it has been stalled for 1.5 s.
  const BOUND = 512 * 1024;
  let maxBuffered = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      maxBuffered = Math.max(maxBuffered, await counterSum(s.server.metrics, 'turnkit_tcp_relay_buffered_bytes'));
      await sleep(50);
    }
  })();
  const chunk = randomBytes(65536);
  let sent = 0;
  const writer = (async () => {
    while (sent < 64 * 1024 * 1024) {
      sent += chunk.length;
      if (!socket.write(chunk)) {
        const drained = await Promise.race([new Promise<boolean>((r) => socket.once('drain', () => r(true))), sleep(1500).then(() => false)]);
        if (!drained) return;
      }
    }
  })();

  // Meanwhile another allocation relays 1 MiB through an echo peer.
  const other = await tcpAllocation(tt, s);
  const o = await pipeTo(tt, other.client, echo.address);
  const data = randomBytes(1024 * 1024);
  tt.equal(await roundTrip(o.socket, data, o.rest), sha256(data), 'another allocation relays 1 MiB intact while the slow peer stalls');

  await writer;
  sampling = false;
  await sampler;
  tt.ok(sent < 64 * 1024 * 1024, `the sender was stalled after ${(sent / 1048576).toFixed(1)} MiB (kernel buffers full)`);
  tt.ok(maxBuffered <= BOUND, `server-side buffered bytes stayed at most ${maxBuffered} (bound ${BOUND})`);
  tt.ok((await counterSum(s.server.metrics, 'turnkit_tcp_relay_backpressure_total', { direction: 'to-peer' })) >= 1, 'the stall is counted as backpressure');
  tt.comment(`slow reader: ${(sent / 1048576).toFixed(1)} MiB accepted before the stall, max server-side buffered ${maxBuffered} bytes`);
});

t.test('slow reader, the other way: a client that never reads stalls a flooding peer; server buffers stay bounded', async (tt) => {
  const s = await setup(tt);
  const BOUND = 512 * 1024;
  const chunk = randomBytes(65536);
  let sent = 0;
  let flooding: Promise<void> = Promise.resolve();
  // A peer that writes until 64 MiB are out or its writes have been stalled for 1.5 s.
  const server = net.createServer((sock) => {
    sock.on('error', () => undefined);
    tt.teardown(() => sock.destroy());
    flooding = (async () => {
      while (sent < 64 * 1024 * 1024) {
        sent += chunk.length;
        if (!sock.write(chunk)) {
          const drained = await Promise.race([new Promise<boolean>((r) => sock.once('drain', () => r(true))), sleep(1500).then(() => false)]);
          if (!drained) return;
        }
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  tt.teardown(() => server.close());
  const { client } = await tcpAllocation(tt, s);
  // The client binds, then never reads from its data connection (the helper hands it back paused).
  await pipeTo(tt, client, { family: 'IPv4', address: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
  let maxBuffered = 0;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    maxBuffered = Math.max(maxBuffered, await counterSum(s.server.metrics, 'turnkit_tcp_relay_buffered_bytes'));
    if (await Promise.race([flooding.then(() => true), sleep(50).then(() => false)])) break;
  }
  await flooding;
  tt.ok(sent < 64 * 1024 * 1024, `the peer was stalled after ${(sent / 1048576).toFixed(1)} MiB`);
  tt.ok(maxBuffered <= BOUND, `server-side buffered bytes stayed at most ${maxBuffered} (bound ${BOUND})`);
  tt.ok((await counterSum(s.server.metrics, 'turnkit_tcp_relay_backpressure_total', { direction: 'to-client' })) >= 1, 'counted as backpressure towards the client');
});
