/**
 * A TURN client on a real UDP socket (IPv4 or IPv6) for integration tests: requests matched to
 * answers by transaction ID, the 401 → NONCE dance, and a queue of what arrives that is not an
 * answer (Data indications, ChannelData). Messages are built with test/helpers/turn-client.ts.
 */
import dgram from 'node:dgram';
import { AttributeType, MessageClass } from '../../src/stun/constants.js';
import { decodeMessage, getAttribute, type StunAttribute, type StunMessage } from '../../src/stun/message.js';
import type { TransportAddress } from '../../src/stun/ip.js';
import type { Teardownable } from './process.js';
import { allocateRequest, errorCode, type Credentials } from './turn-client.js';

/** Something the server sent that was not an answer to a request. */
export interface Unsolicited {
  data: Buffer;
  /** Decoded when it is a STUN message (a Data indication). */
  message?: StunMessage;
}

/** One client 5-tuple: a UDP socket bound on loopback of the server's family. */
export class TurnUdpClient {
  private readonly queue: Unsolicited[] = [];
  private readonly waiters: Array<(u: Unsolicited) => void> = [];
  private readonly pending = new Map<string, (m: StunMessage) => void>();
  /** Credentials after the first 401, for signed requests. */
  creds: Credentials | undefined;

  private constructor(
    readonly socket: dgram.Socket,
    private server: { address: string; port: number },
  ) {
    socket.on('message', (data) => {
      const d = decodeMessage(data);
      if (d.ok && d.message.cls !== MessageClass.Request && d.message.cls !== MessageClass.Indication) {
        const resolve = this.pending.get(d.message.transactionId.toString('hex'));
        if (resolve) {
          this.pending.delete(d.message.transactionId.toString('hex'));
          resolve(d.message);
        }
        return;
      }
      const u: Unsolicited = d.ok ? { data, message: d.message } : { data };
      const w = this.waiters.shift();
      if (w) w(u);
      else this.queue.push(u);
    });
  }

  /** Opens a socket on the loopback address of the server's family, closed in teardown. */
  static async open(t: Teardownable, server: { address: string; port: number }): Promise<TurnUdpClient> {
    const v6 = server.address.includes(':');
    const socket = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, v6 ? '::1' : '127.0.0.1', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    t.teardown(() => socket.close());
    return new TurnUdpClient(socket, server);
  }

  /** Points the client at another server (following ALTERNATE-SERVER); its credentials start over. */
  retarget(server: { address: string; port: number }): void {
    this.server = server;
    this.creds = undefined;
  }

  /** Sends a request and resolves with its answer (retransmitting over UDP), or rejects after timeoutMs. */
  request(r: { data: Buffer; transactionId: Buffer }, timeoutMs = 3000): Promise<StunMessage> {
    const key = r.transactionId.toString('hex');
    return new Promise((resolve, reject) => {
      const resend = setInterval(() => this.send(r.data), 500);
      const timer = setTimeout(() => {
        clearInterval(resend);
        this.pending.delete(key);
        reject(new Error(`no answer from ${this.server.address}:${this.server.port}`));
      }, timeoutMs);
      this.pending.set(key, (m) => {
        clearTimeout(timer);
        clearInterval(resend);
        resolve(m);
      });
      this.send(r.data);
    });
  }

  /** Sends raw bytes (indications, ChannelData) to the server. */
  send(data: Buffer): void {
    this.socket.send(data, this.server.port, this.server.address);
  }

  /** The 401 dance (once), then a signed Allocate with `extra` attributes; returns the answer. */
  async allocate(username: string, password: string, realm: string, extra: StunAttribute[] = []): Promise<StunMessage> {
    if (!this.creds) {
      const challenge = await this.request(allocateRequest(undefined));
      if (errorCode(challenge) !== 401) throw new Error(`expected 401, got ${errorCode(challenge) ?? 'success'}`);
      this.creds = { username, password, realm, nonce: getAttribute(challenge, AttributeType.Nonce)!.value.toString() };
    }
    return this.request(allocateRequest(this.creds, { extra }));
  }

  /** The next unsolicited packet (Data indication or ChannelData), or undefined after timeoutMs. */
  next(timeoutMs = 2000): Promise<Unsolicited | undefined> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    return new Promise((resolve) => {
      const w = (u: Unsolicited): void => {
        clearTimeout(timer);
        resolve(u);
      };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i !== -1) this.waiters.splice(i, 1);
        resolve(undefined);
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** The local address of the socket (the client side of the 5-tuple). */
  get local(): TransportAddress {
    const a = this.socket.address();
    return { family: a.family === 'IPv6' ? 'IPv6' : 'IPv4', address: a.address, port: a.port };
  }
}
