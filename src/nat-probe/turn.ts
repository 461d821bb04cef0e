/**
 * TURN reachability for nat-probe: one Allocate (RFC 8656 §7.1) per transport with long-term
 * credentials (RFC 8489 §9.2: 401 → REALM and NONCE → signed retry; 438 → one more retry with
 * the new nonce), then a Refresh with LIFETIME 0 to give the allocation back. Reports the relayed
 * address or what went wrong.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { lookup } from 'node:dns/promises';
import { randomBytes } from 'node:crypto';
import { AttributeType, MAGIC_COOKIE, MessageClass, Method } from '../stun/constants.js';
import { decodeXorAddress } from '../stun/attributes/address.js';
import { decodeErrorCode } from '../stun/attributes/error-code.js';
import { decodeText, encodeText, TextLimit } from '../stun/attributes/text.js';
import { nextStreamFrame } from '../stun/framing.js';
import { longTermKey, verifyMessageIntegrity } from '../stun/integrity.js';
import { decodeMessage, encodeMessage, getAttribute, type StunAttribute, type StunMessage } from '../stun/message.js';
import { decodeLifetime, encodeLifetime, encodeRequestedTransport, TransportProtocol } from '../turn/wire/attributes.js';
import { toTransportAddress } from '../transport/address.js';
import { formatAddress } from './probe.js';

/** The transports a TURN client can reach the server over. */
export type TurnTransport = 'udp' | 'tcp' | 'tls';

/** A parsed `turn:` / `turns:` URI (RFC 7065). */
export interface TurnUri {
  secure: boolean;
  host: string;
  port: number;
  /** `?transport=` when given; else both UDP and TCP for turn:, TLS for turns:. */
  transports: TurnTransport[];
}

/** Parses `turn:HOST[:PORT][?transport=udp|tcp]` or `turns:HOST[:PORT]`; undefined when malformed. */
export function parseTurnUri(text: string): TurnUri | undefined {
  const m = /^(turns?):(\[[^\]]+\]|[^:?[\]]+)(?::(\d{1,5}))?(?:\?transport=(udp|tcp))?$/i.exec(text);
  if (!m) return undefined;
  const secure = m[1]!.toLowerCase() === 'turns';
  const host = m[2]!.replace(/^\[|\]$/g, '');
  const port = m[3] ? Number(m[3]) : secure ? 5349 : 3478;
  if (port < 1 || port > 65535) return undefined;
  const t = m[4]?.toLowerCase() as 'udp' | 'tcp' | undefined;
  let transports: TurnTransport[];
  if (secure) transports = ['tls'];
  else transports = t ? [t] : ['udp', 'tcp'];
  return { secure, host, port, transports };
}

/** The outcome of one Allocate attempt. */
export interface TurnResult {
  uri: string;
  transport: TurnTransport;
  server: string;
  ok: boolean;
  /** XOR-RELAYED-ADDRESS. */
  relayed?: string;
  /** XOR-MAPPED-ADDRESS as the TURN server saw us. */
  mapped?: string;
  lifetime?: number;
  /** The response's MESSAGE-INTEGRITY verified under our key. */
  integrityOk?: boolean;
  error?: string;
  ms: number;
}

/** A request/response channel over one transport. */
interface Channel {
  request(msg: Buffer, transactionId: Buffer, deadline: number): Promise<StunMessage | undefined>;
  close(): void;
}

function udpChannel(host: string, port: number): Promise<Channel> {
  const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const waiting = new Map<string, (m: StunMessage) => void>();
  s.on('message', (d) => {
    const r = decodeMessage(d);
    if (r.ok) waiting.get(r.message.transactionId.toString('hex'))?.(r.message);
  });
  s.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.connect(port, host, () => {
      s.off('error', reject);
      resolve({
        request: (msg, tid, deadline) =>
          new Promise((res) => {
            const key = tid.toString('hex');
            let rto = 250;
            let timer: NodeJS.Timeout | undefined;
            const done = (m?: StunMessage): void => {
              clearTimeout(timer);
              clearTimeout(end);
              waiting.delete(key);
              res(m);
            };
            const send = (): void => {
              if (Date.now() >= deadline) return;
              s.send(msg, () => undefined);
              timer = setTimeout(send, rto);
              rto = Math.min(rto * 2, 1000);
            };
            const end = setTimeout(() => done(undefined), Math.max(0, deadline - Date.now()));
            waiting.set(key, (m) => done(m));
            send();
          }),
        close: () => s.close(),
      });
    });
  });
}

function streamChannel(host: string, port: number, secure: boolean, servername: string, deadline: number): Promise<Channel> {
  return new Promise((resolve, reject) => {
    const sock: net.Socket = secure
      ? tls.connect({ host, port, servername: net.isIP(servername) ? undefined : servername, ALPNProtocols: ['stun.turn'] })
      : net.connect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('connect timed out'));
    }, Math.max(0, deadline - Date.now()));
    let buf = Buffer.alloc(0);
    const waiting = new Map<string, (m: StunMessage) => void>();
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (let i = 0; i < 64; i++) {
        const f = nextStreamFrame(buf);
        if (f.kind === 'incomplete') break;
        if (f.kind === 'invalid') {
          sock.destroy();
          return;
        }
        const frame = buf.subarray(0, f.length);
        buf = buf.subarray(f.length);
        if (f.kind !== 'stun') continue;
        const r = decodeMessage(Buffer.from(frame));
        if (r.ok) waiting.get(r.message.transactionId.toString('hex'))?.(r.message);
      }
    });
    sock.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.once(secure ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      sock.on('error', () => undefined);
      resolve({
        request: (msg, tid, dl) =>
          new Promise((res) => {
            const key = tid.toString('hex');
            const end = setTimeout(() => {
              waiting.delete(key);
              res(undefined);
            }, Math.max(0, dl - Date.now()));
            waiting.set(key, (m) => {
              clearTimeout(end);
              waiting.delete(key);
              res(m);
            });
            sock.write(msg);
          }),
        close: () => sock.destroy(),
      });
    });
  });
}

function errorOf(m: StunMessage): { code: number; reason: string } | undefined {
  const a = getAttribute(m, AttributeType.ErrorCode);
  return a ? decodeErrorCode(a.value) : undefined;
}

/** Runs Allocate (and a releasing Refresh) over one transport. */
export async function allocateOnce(
  uri: string,
  address: string,
  port: number,
  servername: string,
  transport: TurnTransport,
  username: string,
  password: string,
  timeoutMs: number,
): Promise<TurnResult> {
  const start = Date.now();
  const deadline = start + timeoutMs;
  const result: TurnResult = { uri, transport, server: formatAddress(toTransportAddress(address, port)), ok: false, ms: 0 };
  let ch: Channel | undefined;
  try {
    ch = transport === 'udp' ? await udpChannel(address, port) : await streamChannel(address, port, transport === 'tls', servername, deadline);
    const base: StunAttribute[] = [{ type: AttributeType.RequestedTransport, value: encodeRequestedTransport(TransportProtocol.UDP) }];
    const send = async (method: number, attrs: StunAttribute[], key?: Buffer): Promise<StunMessage | undefined> => {
      const transactionId = randomBytes(12);
      const msg = encodeMessage(
        { method, cls: MessageClass.Request, transactionId, cookie: MAGIC_COOKIE, attributes: attrs },
        key ? { integrity: key, fingerprint: true } : { fingerprint: true },
      );
      return ch!.request(msg, transactionId, deadline);
    };
    let res = await send(Method.Allocate, base);
    let key: Buffer | undefined;
    let realm = '';
    let nonce = '';
    for (let attempt = 0; attempt < 3 && res; attempt++) {
      if (res.cls === MessageClass.SuccessResponse) break;
      const err = errorOf(res);
      if (!err || (err.code !== 401 && err.code !== 438) || (err.code === 401 && key)) {
        result.error = err ? `Allocate refused: ${err.code} ${err.reason}` : 'Allocate refused without ERROR-CODE';
        return result;
      }
      const r = getAttribute(res, AttributeType.Realm);
      const n = getAttribute(res, AttributeType.Nonce);
      realm = (r && decodeText(r.value, TextLimit.Realm)) ?? realm;
      nonce = (n && decodeText(n.value, TextLimit.Nonce)) ?? nonce;
      if (!realm || !nonce) {
        result.error = `Allocate got ${err.code} without REALM/NONCE`;
        return result;
      }
      key = longTermKey(username, realm, password);
      res = await send(
        Method.Allocate,
        [
          ...base,
          { type: AttributeType.Username, value: encodeText(username, TextLimit.Username) },
          { type: AttributeType.Realm, value: encodeText(realm, TextLimit.Realm) },
          { type: AttributeType.Nonce, value: encodeText(nonce, TextLimit.Nonce) },
        ],
        key,
      );
    }
    if (!res) {
      result.error = `no answer over ${transport.toUpperCase()} within ${timeoutMs} ms`;
      return result;
    }
    if (res.cls !== MessageClass.SuccessResponse) {
      const err = errorOf(res);
      result.error = err ? `Allocate refused: ${err.code} ${err.reason}` : 'Allocate failed';
      return result;
    }
    const relayed = getAttribute(res, AttributeType.XorRelayedAddress);
    const mapped = getAttribute(res, AttributeType.XorMappedAddress);
    const life = getAttribute(res, AttributeType.Lifetime);
    const ra = relayed && decodeXorAddress(relayed.value, res.transactionId);
    const ma = mapped && decodeXorAddress(mapped.value, res.transactionId);
    if (ra) result.relayed = formatAddress(ra);
    if (ma) result.mapped = formatAddress(ma);
    const lt = life && decodeLifetime(life.value);
    if (lt !== undefined && lt !== null) result.lifetime = lt;
    if (key) result.integrityOk = verifyMessageIntegrity(res, key);
    result.ok = !!ra;
    if (!ra) result.error = 'success response without XOR-RELAYED-ADDRESS';
    // Give the allocation back (RFC 8656 §7.2: LIFETIME 0); its answer does not matter.
    if (key) {
      await send(
        Method.Refresh,
        [
          { type: AttributeType.Lifetime, value: encodeLifetime(0) },
          { type: AttributeType.Username, value: encodeText(username, TextLimit.Username) },
          { type: AttributeType.Realm, value: encodeText(realm, TextLimit.Realm) },
          { type: AttributeType.Nonce, value: encodeText(nonce, TextLimit.Nonce) },
        ],
        key,
      ).catch(() => undefined);
    }
    return result;
  } catch (e) {
    result.error = (e as Error).message;
    return result;
  } finally {
    ch?.close();
    result.ms = Date.now() - start;
  }
}

/** Allocate over every transport a URI names, in parallel. */
export async function probeTurn(uriText: string, username: string, password: string, timeoutMs: number): Promise<TurnResult[]> {
  const uri = parseTurnUri(uriText);
  if (!uri) return [{ uri: uriText, transport: 'udp', server: uriText, ok: false, error: 'not a turn:/turns: URI', ms: 0 }];
  let address: string;
  try {
    address = net.isIP(uri.host) ? uri.host : (await lookup(uri.host)).address;
  } catch (e) {
    return uri.transports.map((transport) => ({ uri: uriText, transport, server: uri.host, ok: false, error: `cannot resolve ${uri.host}: ${(e as Error).message}`, ms: 0 }));
  }
  return Promise.all(uri.transports.map((t) => allocateOnce(uriText, address, uri.port, uri.host, t, username, password, timeoutMs)));
}
