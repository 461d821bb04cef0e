/**
 * A TURN client over TCP or TLS for integration tests, including RFC 6062 TCP relays: it frames
 * STUN messages out of the byte stream, runs the 401 → retry-with-NONCE dance, and opens client
 * data connections with ConnectionBind, after which the socket is handed back as a raw byte pipe.
 * Requests are built with the signed-request helpers of turn-client.ts.
 */
import net from 'node:net';
import tls from 'node:tls';
import { MessageClass, Method } from '../../src/stun/constants.js';
import { nextStreamFrame } from '../../src/stun/framing.js';
import type { TransportAddress } from '../../src/stun/ip.js';
import { decodeMessage, type StunMessage } from '../../src/stun/message.js';
import {
  AttributeType,
  allocateRequest,
  connectRequest,
  connectionBindRequest,
  connectionIdOf,
  createPermissionRequest,
  errorCode,
  refreshRequest,
  textAttr,
  xorAddressAttr,
  type AllocateOptions,
  type Credentials,
} from './turn-client.js';

/** The part of a tap Test this module needs. */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Where and as whom a client connects. */
export interface StreamTarget {
  transport: 'tcp' | 'tls';
  host: string;
  port: number;
  /** PEM CA (the server's self-signed certificate) for TLS. */
  ca?: string;
  username: string;
  password: string;
  realm: string;
}

/** Opens a TCP or TLS connection to the server; destroyed in teardown. */
export async function openStream(t: Teardown, target: StreamTarget): Promise<net.Socket> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s: net.Socket =
      target.transport === 'tcp'
        ? net.connect({ host: target.host, port: target.port }, () => resolve(s))
        : tls.connect({ host: target.host, port: target.port, ca: target.ca ? [target.ca] : undefined, servername: 'localhost' }, () => resolve(s));
    s.once('error', reject);
  });
  socket.on('error', () => undefined); // a reset is one way of closing; 'close' follows
  socket.setNoDelay(true);
  t.teardown(() => socket.destroy());
  return socket;
}

/** Cuts STUN frames out of a socket's bytes until `detach()`, which returns what came after them. */
export class StunFramedStream {
  private buf = Buffer.alloc(0);
  private readonly messages: StunMessage[] = [];
  private waiters: Array<() => void> = [];
  private attached = true;
  readonly closed: Promise<void>;
  private readonly onData = (d: Buffer): void => {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const f = nextStreamFrame(this.buf);
      if (f.kind !== 'stun') break;
      const m = decodeMessage(this.buf.subarray(0, f.length));
      this.buf = this.buf.subarray(f.length);
      if (m.ok) this.messages.push(m.message);
      // One response is all a data connection carries before it turns into a pipe.
      if (this.stopAfterOne) {
        this.socket.off('data', this.onData);
        this.socket.pause();
        this.attached = false;
        break;
      }
    }
    this.wake();
  };

  constructor(readonly socket: net.Socket, private readonly stopAfterOne = false) {
    socket.on('data', this.onData);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.closed.then(() => this.wake());
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The next message matching `filter`, or undefined after timeoutMs or when the connection closed. */
  async next(timeoutMs = 3000, filter: (m: StunMessage) => boolean = () => true): Promise<StunMessage | undefined> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.messages.findIndex(filter);
      if (i >= 0) return this.messages.splice(i, 1)[0];
      if (Date.now() >= end || this.socket.destroyed) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, end - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Stops framing; the bytes received after the last frame. */
  detach(): Buffer {
    if (this.attached) this.socket.off('data', this.onData);
    this.attached = false;
    return this.buf;
  }
}

/** A TURN client on one TCP/TLS control connection. */
export class TurnStreamClient {
  nonce: string | undefined;
  readonly stream: StunFramedStream;

  private constructor(private readonly t: Teardown, readonly target: StreamTarget, readonly socket: net.Socket) {
    this.stream = new StunFramedStream(socket);
  }

  /** Connects a control connection. */
  static async open(t: Teardown, target: StreamTarget): Promise<TurnStreamClient> {
    return new TurnStreamClient(t, target, await openStream(t, target));
  }

  /** Current credentials (a placeholder NONCE before the first 401 gets the real one). */
  creds(): Credentials {
    return { username: this.target.username, password: this.target.password, realm: this.target.realm, nonce: this.nonce ?? 'none' };
  }

  /** Sends a signed request built by `build`, retrying once after a 401/438 with the NONCE it carries. */
  async request(build: (c: Credentials) => { data: Buffer; transactionId: Buffer }, on: StunFramedStream = this.stream, timeoutMs = 5000): Promise<StunMessage> {
    for (let attempt = 0; ; attempt++) {
      const { data, transactionId } = build(this.creds());
      on.socket.write(data);
      const m = await on.next(timeoutMs, (x) => x.cls !== MessageClass.Indication && x.transactionId.equals(transactionId));
      if (!m) throw new Error(`no answer to method 0x${build(this.creds()).data.readUInt16BE(0).toString(16)} within ${timeoutMs} ms`);
      const code = errorCode(m);
      if (attempt === 0 && (code === 401 || code === 438)) {
        this.nonce = textAttr(m, AttributeType.Nonce);
        continue;
      }
      return m;
    }
  }

  /** Allocate (UDP by default, 6 for an RFC 6062 TCP relay); throws unless it succeeds. */
  async allocate(opts: AllocateOptions = {}): Promise<TransportAddress> {
    const m = await this.request((c) => allocateRequest(c, opts));
    const relayed = xorAddressAttr(m, AttributeType.XorRelayedAddress);
    if (m.cls !== MessageClass.SuccessResponse || !relayed) throw new Error(`Allocate failed: ${errorCode(m)}`);
    return relayed;
  }

  /** CreatePermission for peers; the response. */
  createPermission(peers: TransportAddress[]): Promise<StunMessage> {
    return this.request((c) => createPermissionRequest(c, peers));
  }

  /** Connect to a peer; the response (CONNECTION-ID on success). */
  connect(peer: TransportAddress, timeoutMs = 5000): Promise<StunMessage> {
    return this.request((c) => connectRequest(c, peer), this.stream, timeoutMs);
  }

  /** Refresh (0 deletes the allocation). */
  refresh(seconds: number): Promise<StunMessage> {
    return this.request((c) => refreshRequest(c, seconds));
  }

  /** The next ConnectionAttempt indication: its CONNECTION-ID and peer. */
  async connectionAttempt(timeoutMs = 3000): Promise<{ id: number; peer: TransportAddress } | undefined> {
    const m = await this.stream.next(timeoutMs, (x) => x.cls === MessageClass.Indication && x.method === Method.ConnectionAttempt);
    if (!m) return undefined;
    const id = connectionIdOf(m);
    const peer = xorAddressAttr(m, AttributeType.XorPeerAddress);
    if (id === undefined || !peer) throw new Error('ConnectionAttempt without CONNECTION-ID or XOR-PEER-ADDRESS');
    return { id, peer };
  }

  /**
   * RFC 6062 §4.4: opens a new connection and sends ConnectionBind for `id`. On success returns the
   * socket as a raw pipe, paused (attach a reader, then resume it), with any bytes that followed the
   * response; otherwise the error response. `early` is written in the same segment as the request,
   * before the answer (a client that does not wait for it).
   */
  async bind(id: number, early?: Buffer): Promise<{ ok: true; socket: net.Socket; rest: Buffer } | { ok: false; response: StunMessage }> {
    for (let attempt = 0; ; attempt++) {
      const socket = await openStream(this.t, this.target);
      const stream = new StunFramedStream(socket, true);
      const { data } = connectionBindRequest(this.creds(), id);
      socket.write(early && attempt > 0 ? Buffer.concat([data, early]) : data);
      const m = await stream.next(5000);
      if (!m) throw new Error('no answer to ConnectionBind');
      const code = errorCode(m);
      if (attempt === 0 && (code === 401 || code === 438)) {
        // The connection is spent (a data connection binds with its first request that is answered).
        this.nonce = textAttr(m, AttributeType.Nonce);
        socket.destroy();
        continue;
      }
      if (m.cls !== MessageClass.SuccessResponse) return { ok: false, response: m };
      return { ok: true, socket, rest: stream.detach() };
    }
  }
}
