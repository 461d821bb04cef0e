/**
 * Slow and idle clients on the stream listeners and the HTTP listener: a TCP connection that stops
 * halfway through a STUN header, a TLS connection that never finishes its handshake, an HTTP
 * request whose headers never end and a client that holds more connections than allowed. Each is
 * cut off by a timeout or refused by the per-IP limit, counted, and meanwhile other clients keep
 * being served. (Per-IP limits on TCP/TLS and slow readers are the stream-hygiene work of issue 10.)
 */
import t from 'tap';
import http from 'node:http';
import net from 'node:net';
import WebSocket from 'ws';
import { makeSelfSignedCert } from '../helpers/certs.js';
import { LiveUdpClient, resultOf, startDaemon, type Daemon } from '../helpers/live-turn.js';
import { skipUnless } from '../helpers/tools.js';
import { bindingRequest } from '../helpers/turn-client.js';
import type { Test } from 'tap';

const PER_IP = 8;

/** Resolves with how long (ms) until the server closes the socket, or undefined if still open at `maxMs`. */
function closedWithin(s: net.Socket, maxMs: number): Promise<number | undefined> {
  const started = Date.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), maxMs);
    s.on('error', () => undefined);
    // Read whatever the server says (a 408, say): a paused socket would never see the end.
    s.resume();
    s.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

function connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, ...(localAddress ? { localAddress } : {}) }, () => resolve(s));
    s.once('error', reject);
  });
}

/** GET /healthz from `localAddress`: the status, or undefined if the connection failed. */
function healthz(port: number, localAddress: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', localAddress, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(undefined));
    req.setTimeout(2000, () => req.destroy());
  });
}

async function bindingOk(t: Test, d: Daemon): Promise<boolean> {
  const c = await LiveUdpClient.open(t, d.udp, '127.0.0.2');
  const b = bindingRequest();
  const a = await c.request({ data: b, transactionId: b.subarray(8, 20) });
  c.close();
  return a !== undefined && resultOf(a) === 'success';
}

async function tcpBindingOk(port: number): Promise<boolean> {
  const s = await connect(port, '127.0.0.1', '127.0.0.2');
  const b = bindingRequest();
  const answer = await new Promise<Buffer | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), 2000);
    s.once('data', (d: Buffer) => {
      clearTimeout(timer);
      resolve(d);
    });
    s.write(b);
  });
  s.destroy();
  return answer !== undefined && answer.readUInt16BE(0) === 0x0101;
}

t.test('slowloris on TCP, TLS and HTTP/WebSocket: cut off or refused; others keep working', skipUnless('openssl'), async (t) => {
  const cert = makeSelfSignedCert();
  t.teardown(() => cert.cleanup());
  const d = await startDaemon(t, ['--stream-idle-timeout', '1', '--http-max-connections-per-ip', String(PER_IP)], { tls: cert });
  const opened: net.Socket[] = [];
  t.teardown(() => opened.forEach((s) => s.destroy()));

  // All at once: the timeouts run in parallel.
  const partialStun = await connect(d.tcp);
  opened.push(partialStun);
  partialStun.write(bindingRequest().subarray(0, 10));
  const tcpClosed = closedWithin(partialStun, 5000);

  const stalledTls = await connect(d.tls!);
  opened.push(stalledTls);
  stalledTls.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])); // a ClientHello that never finishes
  const tlsClosed = closedWithin(stalledTls, 25_000);

  const partialHttp = await connect(d.http!);
  opened.push(partialHttp);
  partialHttp.write('GET /ice-servers?username=slow HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
  const httpClosed = closedWithin(partialHttp, 25_000);

  // One IP holding connections: HTTP ones that idle and WebSockets, up to the limit; the next is refused.
  const held: net.Socket[] = [];
  for (let i = 0; i < PER_IP - 1; i++) {
    const s = await connect(d.http!, '127.0.0.1', '127.0.0.9');
    held.push(s);
    opened.push(s);
  }
  const sockets: WebSocket[] = [];
  t.teardown(() => sockets.forEach((w) => w.terminate()));
  for (let i = 0; i < 1; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${d.http}/signal`, { origin: `http://127.0.0.1:${d.http}`, localAddress: '127.0.0.9' });
    sockets.push(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
  }
  const refusedBefore = await d.metric('turnkit_http_refused_total', { reason: 'per-ip-limit' });
  const over = await connect(d.http!, '127.0.0.1', '127.0.0.9');
  opened.push(over);
  t.ok((await closedWithin(over, 2000)) !== undefined, `connection ${PER_IP + 1} from one IP is closed at once`);
  const overWs = new WebSocket(`ws://127.0.0.1:${d.http}/signal`, { origin: `http://127.0.0.1:${d.http}`, localAddress: '127.0.0.9' });
  sockets.push(overWs);
  const wsRefused = await new Promise<boolean>((resolve) => {
    overWs.once('open', () => resolve(false));
    overWs.once('error', () => resolve(true));
    overWs.once('close', () => resolve(true));
  });
  t.ok(wsRefused, 'a WebSocket beyond the limit is refused too');
  t.equal((await d.metric('turnkit_http_refused_total', { reason: 'per-ip-limit' })) - refusedBefore, 2, 'both refusals counted');

  // Meanwhile, everyone else is served.
  t.equal(await healthz(d.http!, '127.0.0.2'), 200, 'HTTP from another IP is served');
  t.ok(await bindingOk(t, d), 'UDP Binding answered');
  t.ok(await tcpBindingOk(d.tcp), 'TCP Binding answered on a fresh connection');

  const tcpMs = await tcpClosed;
  t.ok(tcpMs !== undefined, `a TCP connection silent halfway through a header is closed by the idle timeout (${tcpMs} ms)`);
  t.ok((await d.metric('turnkit_stream_closed_total', { transport: 'tcp', reason: 'idle' })) >= 1, 'counted as idle');
  const httpMs = await httpClosed;
  t.ok(httpMs !== undefined, `HTTP headers that never end are cut off by the headers timeout (${httpMs} ms)`);
  const tlsMs = await tlsClosed;
  t.ok(tlsMs !== undefined, `a TLS handshake that never finishes is cut off (${tlsMs} ms)`);
  t.ok((await d.metric('turnkit_stream_closed_total', { transport: 'tls', reason: 'tls-handshake-timeout' })) >= 1, 'counted as tls-handshake-timeout');

  // Once the slow connections are gone, the IP may connect again.
  held.forEach((s) => s.destroy());
  sockets.forEach((w) => w.terminate());
  await new Promise((r) => setTimeout(r, 300));
  t.equal(await healthz(d.http!, '127.0.0.9'), 200, 'the limited IP is served again once its connections closed');
  t.equal(d.proc.exitStatus, null, 'the daemon is running');
});
