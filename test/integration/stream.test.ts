/**
 * STUN over TCP and TLS (RFC 8489 §6.2.2): framing by the length field, several messages per
 * write, one message over several writes, garbage, idle connections. Messages are built and
 * parsed with our own codec; TLS uses a throwaway self-signed certificate made with openssl.
 */
import t from 'tap';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { nextStreamFrame } from '../../src/stun/framing.js';
import {
  AttributeType,
  bindingRequest,
  canBindAltLoopback,
  hasTool,
  hostPort,
  plainAddress,
  mustDecode,
  run,
  sleep,
  startTurnkit,
  startTurnkitRfc5780,
  tempDir,
  xorMapped,
  MessageClass,
  Method,
  type RunningServer,
  type Teardown,
} from './lib.js';

t.setTimeout(120_000);

type Transport = 'tcp' | 'tls';
const HAVE_OPENSSL = hasTool('openssl');

/** A self-signed certificate for 127.0.0.1 (EC P-256, valid one day), made with the openssl CLI. */
async function makeCert(tt: Teardown): Promise<{ cert: string; key: string }> {
  const dir = tempDir(tt, 'turnkit-tls-');
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const r = await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=turnkit-test', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { timeoutMs: 20000, t: tt });
  if (r.code !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { cert, key };
}

/** A TCP or TLS client that cuts STUN frames out of the byte stream. */
class StreamClient {
  private buf = Buffer.alloc(0);
  private frames: Buffer[] = [];
  private waiters: Array<() => void> = [];
  received = 0;
  readonly closed: Promise<void>;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.received += d.length;
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const f = nextStreamFrame(this.buf);
        if (f.kind !== 'stun' && f.kind !== 'channel-data') break;
        this.frames.push(this.buf.subarray(0, f.length));
        this.buf = this.buf.subarray(f.length);
      }
      this.wake();
    });
    socket.on('error', () => undefined); // a reset is one way of closing; 'close' follows
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.closed.then(() => this.wake());
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  static async connect(tt: Teardown, transport: Transport, port: number, ca?: string): Promise<StreamClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s: net.Socket =
        transport === 'tcp'
          ? net.connect({ host: '127.0.0.1', port }, () => resolve(s))
          : tls.connect({ host: '127.0.0.1', port, ca: ca ? [ca] : undefined }, () => resolve(s));
      s.once('error', reject);
    });
    socket.setNoDelay(true);
    const c = new StreamClient(socket);
    tt.teardown(() => socket.destroy());
    return c;
  }

  get local(): { address: string; port: number } {
    return { address: this.socket.localAddress!, port: this.socket.localPort! };
  }

  write(b: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(b, (e) => (e ? reject(e) : resolve())));
  }

  /** The next whole frame, or undefined after timeoutMs (or when the connection closed). */
  async nextFrame(timeoutMs = 1000): Promise<Buffer | undefined> {
    const end = Date.now() + timeoutMs;
    while (this.frames.length === 0 && Date.now() < end && !this.socket.destroyed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, end - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.frames.shift();
  }

  /** Resolves true if the peer closed the connection within timeoutMs. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    return Promise.race([this.closed.then(() => true), sleep(timeoutMs).then(() => false)]);
  }
}

interface Setup {
  server: RunningServer;
  ports: Record<Transport, number>;
  ca: string | undefined;
}

async function setup(tt: Teardown, extra: Record<string, unknown> = {}): Promise<Setup> {
  const certs = HAVE_OPENSSL ? await makeCert(tt) : undefined;
  const server = await startTurnkit(tt, {
    listen: [{ host: '127.0.0.1', port: 0 }],
    ...(certs ? { tlsListen: [{ host: '127.0.0.1', port: 0 }], cert: certs.cert, key: certs.key } : {}),
    ...extra,
  });
  const port = (tr: string) => server.listeners.find((l) => l.transport === tr && l.address === '127.0.0.1')?.port ?? 0;
  return { server, ports: { tcp: port('tcp'), tls: port('tls') }, ca: certs ? readFileSync(certs.cert, 'utf8') : undefined };
}

function checkBinding(tt: Parameters<Parameters<typeof t.test>[0]>[0], frame: Buffer | undefined, request: Buffer, client: StreamClient, what: string): void {
  tt.ok(frame, `${what}: a response arrived`);
  if (!frame) return;
  const m = mustDecode(frame);
  tt.equal(m.cls, MessageClass.SuccessResponse, `${what}: success response`);
  tt.equal(m.method, Method.Binding, `${what}: Binding`);
  tt.ok(frame.subarray(8, 20).equals(request.subarray(8, 20)), `${what}: same transaction ID`);
  tt.same(xorMapped(m), { family: 'IPv4', ...client.local }, `${what}: XOR-MAPPED-ADDRESS = the client's end of the connection`);
}

for (const transport of ['tcp', 'tls'] as const) {
  const skip = transport === 'tls' && !HAVE_OPENSSL ? 'openssl CLI not installed (needed to make a test certificate)' : false;

  t.test(`${transport}: Binding requests and framing`, { skip }, async (tt) => {
    const s = await setup(tt);
    tt.ok(s.ports[transport] > 0, `turnkit lists a ${transport} listener`);

    tt.test('one request, one response', async (t2) => {
      const c = await StreamClient.connect(t2, transport, s.ports[transport], s.ca);
      const req = bindingRequest();
      await c.write(req);
      checkBinding(t2, await c.nextFrame(2000), req, c, 'single');
      const req2 = bindingRequest([], { fingerprint: true });
      await c.write(req2);
      const f2 = await c.nextFrame(2000);
      checkBinding(t2, f2, req2, c, 'with FINGERPRINT, same connection');
      if (f2) t2.equal(mustDecode(f2).attributes.at(-1)?.type, 0x8028, 'response ends with FINGERPRINT (our codec checked its value)');
    });

    tt.test('two requests in one write → two responses, in order', async (t2) => {
      const c = await StreamClient.connect(t2, transport, s.ports[transport], s.ca);
      const a = bindingRequest();
      const b = bindingRequest([], { fingerprint: true });
      await c.write(Buffer.concat([a, b]));
      checkBinding(t2, await c.nextFrame(2000), a, c, 'first');
      checkBinding(t2, await c.nextFrame(2000), b, c, 'second');
      t2.equal(await c.nextFrame(300), undefined, 'nothing more');
    });

    tt.test('one request split over three writes → one response after the last piece', async (t2) => {
      const c = await StreamClient.connect(t2, transport, s.ports[transport], s.ca);
      const req = bindingRequest([], { fingerprint: true }); // 28 bytes
      await c.write(req.subarray(0, 3)); // not even a whole length field yet
      await sleep(60);
      await c.write(req.subarray(3, 17));
      await sleep(60);
      t2.equal(await c.nextFrame(100), undefined, 'no response to a partial message');
      await c.write(req.subarray(17));
      checkBinding(t2, await c.nextFrame(2000), req, c, 'reassembled');
      t2.equal(await c.nextFrame(300), undefined, 'exactly one response');
    });

    tt.test('garbage first bytes close the connection without an answer', async (t2) => {
      // First two bits 10 or 11: neither STUN (00) nor ChannelData (01), so no frame can start here.
      // (Text such as "GET /" starts with 01 and frames as a ChannelData header: not garbage to a TURN server.)
      for (const junk of [Buffer.alloc(20, 0xff), Buffer.from([0x80, 0x01, 0x00, 0x00]), Buffer.from([0xc0, 0x00, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8])]) {
        const c = await StreamClient.connect(t2, transport, s.ports[transport], s.ca);
        await c.write(junk).catch(() => undefined);
        t2.ok(await c.closedWithin(3000), `closed by the server after ${JSON.stringify(junk.subarray(0, 4).toString('hex'))}...`);
        t2.equal(c.received, 0, 'and nothing was sent back');
      }
    });

    tt.test('a valid request, then garbage: answered, then closed', async (t2) => {
      const c = await StreamClient.connect(t2, transport, s.ports[transport], s.ca);
      const req = bindingRequest();
      await c.write(Buffer.concat([req, Buffer.alloc(8, 0xff)]));
      checkBinding(t2, await c.nextFrame(2000), req, c, 'the valid one');
      t2.ok(await c.closedWithin(3000), 'closed after the garbage');
    });
  });

  t.test(`${transport}: an idle connection is closed after --stream-idle-timeout (1 s)`, { skip }, async (tt) => {
    const s = await setup(tt, { streamIdleTimeout: 1 });
    const c = await StreamClient.connect(tt, transport, s.ports[transport], s.ca);
    const start = Date.now();
    const closed = await c.closedWithin(6000);
    const elapsed = Date.now() - start;
    tt.ok(closed, `closed by the server (after ${elapsed} ms)`);
    tt.ok(elapsed >= 700, 'not before the idle timeout');
    tt.equal(c.received, 0, 'nothing sent');

    // Traffic keeps a connection alive past the timeout.
    const busy = await StreamClient.connect(tt, transport, s.ports[transport], s.ca);
    for (let i = 0; i < 4; i++) {
      const req = bindingRequest();
      await busy.write(req);
      checkBinding(tt, await busy.nextFrame(2000), req, busy, `request ${i + 1} at ${i * 400} ms`);
      await sleep(400);
    }
    tt.notOk(busy.socket.destroyed, 'a connection with a request every 400 ms is still open after 1.6 s');
  });
}

t.test('TLS beside an RFC 5780 server names its own socket: RESPONSE-ORIGIN, no OTHER-ADDRESS (that is plain TCP)', { skip: !HAVE_OPENSSL ? 'openssl CLI not installed' : !(await canBindAltLoopback()) ? '127.0.0.2 cannot be bound' : false }, async (tt) => {
  const certs = await makeCert(tt);
  const { server, port: P } = await startTurnkitRfc5780(tt, { tlsListen: [{ host: '127.0.0.1', port: 0 }], cert: certs.cert, key: certs.key });
  const tlsPort = server.listeners.find((l) => l.transport === 'tls')!.port;
  const ca = readFileSync(certs.cert, 'utf8');
  const origin = async (transport: Transport, port: number): Promise<[string, string]> => {
    const c = await StreamClient.connect(tt, transport, port, ca);
    const req = bindingRequest();
    await c.write(req);
    const frame = await c.nextFrame(2000);
    checkBinding(tt, frame, req, c, transport);
    const m = frame ? mustDecode(frame) : undefined;
    return [hostPort(m && plainAddress(m, AttributeType.ResponseOrigin)), hostPort(m && plainAddress(m, AttributeType.OtherAddress))];
  };
  tt.same(await origin('tls', tlsPort), [`127.0.0.1:${tlsPort}`, 'none'], 'TLS: RESPONSE-ORIGIN is the TLS socket; no OTHER-ADDRESS');
  tt.same(await origin('tcp', P), [`127.0.0.1:${P}`, `127.0.0.2:${P + 1}`], 'control: TCP on the RFC 5780 primary names OTHER-ADDRESS');
});
