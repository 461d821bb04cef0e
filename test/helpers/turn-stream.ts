/**
 * A TURN client over a real TCP or TLS connection (RFC 8656 §7–§12 over RFC 8489 §6.2.2 framing),
 * for integration tests: it builds requests with turn-client.ts (independent key and HMAC code),
 * cuts the byte stream into frames itself, and keeps every received byte so tests can check the
 * wire format (ChannelData padding) and not only what a decoder makes of it.
 */
import net from 'node:net';
import tls from 'node:tls';
import { decodeMessage, type StunMessage } from '../../src/stun/message.js';
import type { TransportAddress } from '../../src/stun/ip.js';
import {
  AttributeType,
  MessageClass,
  allocateRequest,
  channelBindRequest,
  channelData,
  createPermissionRequest,
  errorCode,
  refreshRequest,
  sendIndication,
  textAttr,
  xorAddressAttr,
  type AllocateOptions,
  type Credentials,
} from './turn-client.js';
import type { Teardownable } from './process.js';

/** How to reach the server. */
export interface StreamTarget {
  transport: 'tcp' | 'tls';
  host: string;
  port: number;
  /** PEM CA for TLS; without it the certificate is not checked (a self-signed test server). */
  ca?: string;
}

/** One frame as it came off the wire: its exact bytes, and the message when it is STUN. */
export interface ReceivedFrame {
  bytes: Buffer;
  kind: 'stun' | 'channel-data';
  message?: StunMessage;
}

/** Opens a TCP or TLS connection (resolves once TLS is up), closed in `t`'s teardown. */
export function connectStream(t: Teardownable, target: StreamTarget): Promise<net.Socket> {
  return new Promise<net.Socket>((resolve, reject) => {
    const s: net.Socket =
      target.transport === 'tcp'
        ? net.connect({ host: target.host, port: target.port }, () => resolve(s))
        : tls.connect(
            { host: target.host, port: target.port, ...(target.ca ? { ca: [target.ca], servername: 'localhost' } : { rejectUnauthorized: false }) },
            () => resolve(s),
          );
    s.once('error', reject);
    t.teardown(() => s.destroy());
  });
}

/** A TURN client on one stream connection. */
export class TurnStreamClient {
  private buf = Buffer.alloc(0);
  private readonly frames: ReceivedFrame[] = [];
  private waiters: Array<() => void> = [];
  /** Every byte received, in order. */
  readonly raw: Buffer[] = [];
  creds: Credentials | undefined;
  relayed: TransportAddress | undefined;
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', () => undefined); // 'close' follows
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.closed.then(() => this.wake());
  }

  /** Connects; the connection is closed in `t`'s teardown. */
  static async open(t: Teardownable, target: StreamTarget): Promise<TurnStreamClient> {
    return new TurnStreamClient(await connectStream(t, target));
  }

  private onData(d: Buffer): void {
    this.raw.push(d);
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      if (this.buf.length < 4) break;
      const top = this.buf[0]! >> 6;
      const len = this.buf.readUInt16BE(2);
      // Written from RFC 8489 §6.2.2 / RFC 8656 §12.5 rather than with src/stun/framing.ts.
      const total = top === 0 ? 20 + len : top === 1 ? 4 + Math.ceil(len / 4) * 4 : -1;
      if (total < 0) {
        this.socket.destroy(new Error(`stream desynchronised: first byte 0x${this.buf[0]!.toString(16)}`));
        return;
      }
      if (this.buf.length < total) break;
      const bytes = Buffer.from(this.buf.subarray(0, total));
      this.buf = this.buf.subarray(total);
      if (top === 0) {
        const r = decodeMessage(bytes);
        this.frames.push(r.ok ? { bytes, kind: 'stun', message: r.message } : { bytes, kind: 'stun' });
      } else {
        this.frames.push({ bytes, kind: 'channel-data' });
      }
    }
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The first received frame matching `pick` (removed from the queue), or undefined after timeoutMs. */
  async next(pick: (f: ReceivedFrame) => boolean = () => true, timeoutMs = 3000): Promise<ReceivedFrame | undefined> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex(pick);
      if (i >= 0) return this.frames.splice(i, 1)[0];
      if (Date.now() >= end || this.socket.destroyed) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, end - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Writes bytes (resolves when handed to the kernel). */
  write(b: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(b, (e) => (e ? reject(e) : resolve())));
  }

  /** Sends a request and waits for the response with its transaction ID. */
  async request(req: { data: Buffer; transactionId: Buffer }, timeoutMs = 3000): Promise<StunMessage> {
    await this.write(req.data);
    const f = await this.next((x) => x.message !== undefined && x.message.cls !== MessageClass.Indication && x.message.transactionId.equals(req.transactionId), timeoutMs);
    if (!f?.message) throw new Error(`no response within ${timeoutMs} ms`);
    return f.message;
  }

  /** RFC 8656 §7.1 with the 401 dance; returns the success response and remembers relayed address and credentials. */
  async allocate(username: string, password: string, opts: AllocateOptions = {}): Promise<StunMessage> {
    const challenge = await this.request(allocateRequest(undefined, opts));
    if (errorCode(challenge) !== 401) throw new Error(`expected 401, got ${challenge.cls}/${errorCode(challenge)}`);
    this.creds = { username, password, realm: textAttr(challenge, AttributeType.Realm)!, nonce: textAttr(challenge, AttributeType.Nonce)! };
    const m = await this.request(allocateRequest(this.creds, opts));
    if (m.cls !== MessageClass.SuccessResponse) throw new Error(`Allocate failed: ${errorCode(m)}`);
    this.relayed = xorAddressAttr(m, AttributeType.XorRelayedAddress);
    return m;
  }

  private mustCreds(): Credentials {
    if (!this.creds) throw new Error('test bug: allocate first');
    return this.creds;
  }

  createPermission(peers: TransportAddress[]): Promise<StunMessage> {
    return this.request(createPermissionRequest(this.mustCreds(), peers));
  }
  channelBind(channel: number, peer: TransportAddress): Promise<StunMessage> {
    return this.request(channelBindRequest(this.mustCreds(), channel, peer));
  }
  refresh(seconds?: number): Promise<StunMessage> {
    return this.request(refreshRequest(this.mustCreds(), seconds));
  }
  /** A Send indication (RFC 8656 §10.1). */
  send(peer: TransportAddress, data: Buffer): Promise<void> {
    return this.write(sendIndication(peer, data));
  }
  /** ChannelData, padded to 4 as RFC 8656 §12.5 requires over streams (unless `pad` is false). */
  channelData(channel: number, data: Buffer, pad = true): Promise<void> {
    return this.write(channelData(channel, data, pad));
  }

  /** Resolves true if the server closed the connection within timeoutMs. */
  closedWithin(timeoutMs: number): Promise<boolean> {
    return Promise.race([this.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs))]);
  }
}
