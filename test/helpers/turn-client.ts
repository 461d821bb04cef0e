/**
 * A small TURN client for engine tests: builds signed TURN requests with our codec, runs the
 * 401 → retry-with-NONCE dance against a TurnEngine (no sockets; time is the `now` argument), and
 * completes allocations with a fake relay address.
 *
 * What the client computes on its own, independently of src/ (so a bug there cannot cancel out):
 * the long-term key (RFC 8489 §9.2.2, MD5 or SHA-256 of "username:realm:password" for ASCII
 * credentials), the HMACs that sign requests and verify responses (§14.5/§14.6), XOR address
 * values (§14.2) and ChannelData framing (RFC 8656 §12.4). The message framing and decoding reuse
 * src/stun/message.ts, which test/stun checks against the RFC 5769 vectors.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { AttributeType, MAGIC_COOKIE, MessageClass, Method, PasswordAlgorithm } from '../../src/stun/constants.js';
import { decodeErrorCode } from '../../src/stun/attributes/error-code.js';
import { decodeXorAddress } from '../../src/stun/attributes/address.js';
import { parseIp, type TransportAddress } from '../../src/stun/ip.js';
import { decodeMessage, encodeMessage, getAttribute, type StunAttribute, type StunMessage } from '../../src/stun/message.js';
import type { StunTransport } from '../../src/stun/server.js';
import type { Allocation, AllocationQuotas } from '../../src/turn/allocations.js';
import type { ClientEvent, PendingAllocation, RespondOutcome, TurnEngineConfig, TurnOutcome } from '../../src/turn/context.js';
import type { RelayOpened } from '../../src/turn/handlers/allocate.js';
import { CredentialStore } from '../../src/turn/credentials.js';
import { TurnEngine } from '../../src/turn/engine.js';
import { NonceIssuer } from '../../src/turn/nonce.js';
import { PeerPolicy } from '../../src/turn/policy.js';
import type { RateLimit } from '../../src/turn/rate-limit.js';

export const REALM = 'example.org';
/** A fixed start time (ms); tests step from here. */
export const T0 = 1_700_000_000_000;
/** The server side of every test 5-tuple. */
export const SERVER: TransportAddress = { family: 'IPv4', address: '192.0.2.1', port: 3478 };
/** Peers in 198.18.0.0/15 (benchmark range): denied by default, so test configs allow it explicitly. */
export const PEER_A: TransportAddress = { family: 'IPv4', address: '198.18.0.2', port: 5000 };
export const PEER_B: TransportAddress = { family: 'IPv4', address: '198.18.0.3', port: 6000 };
export const USERS: Record<string, string> = { alice: 'alice-secret-pw', bob: 'bob-secret-pw' };

// ---------------------------------------------------------------------------------------------
// Attribute values, written out from the RFC text.

/** RFC 8656 §14.7 REQUESTED-TRANSPORT: protocol number then 3 RFFU bytes. */
export function requestedTransport(protocol: number): StunAttribute {
  return { type: AttributeType.RequestedTransport, value: Buffer.from([protocol, 0, 0, 0]) };
}
/** RFC 8656 §14.2 LIFETIME: 32-bit seconds. */
export function lifetime(seconds: number): StunAttribute {
  const v = Buffer.alloc(4);
  v.writeUInt32BE(seconds, 0);
  return { type: AttributeType.Lifetime, value: v };
}
/** RFC 8656 §14.1 CHANNEL-NUMBER: 16-bit number then 16 RFFU bits. */
export function channelNumber(channel: number): StunAttribute {
  const v = Buffer.alloc(4);
  v.writeUInt16BE(channel, 0);
  return { type: AttributeType.ChannelNumber, value: v };
}
/** RFC 8656 §14.1/§14.8 REQUESTED-ADDRESS-FAMILY (0x01 IPv4, 0x02 IPv6) then 3 RFFU bytes. */
export function requestedFamily(family: 1 | 2): StunAttribute {
  return { type: AttributeType.RequestedAddressFamily, value: Buffer.from([family, 0, 0, 0]) };
}
/** RFC 8656 §14.8 ADDITIONAL-ADDRESS-FAMILY. */
export function additionalFamily(family: number): StunAttribute {
  return { type: AttributeType.AdditionalAddressFamily, value: Buffer.from([family, 0, 0, 0]) };
}
/** RFC 8656 §14.6 EVEN-PORT: one byte, R bit = 0x80. */
export function evenPort(reserveNext: boolean): StunAttribute {
  return { type: AttributeType.EvenPort, value: Buffer.from([reserveNext ? 0x80 : 0]) };
}
/** RFC 8656 §14.9 RESERVATION-TOKEN (8 bytes). */
export function reservationToken(token: Buffer): StunAttribute {
  return { type: AttributeType.ReservationToken, value: Buffer.from(token) };
}
/** RFC 8656 §14.4 DATA. */
export function dataAttr(data: Buffer): StunAttribute {
  return { type: AttributeType.Data, value: Buffer.from(data) };
}

/** RFC 8489 §14.2: X-Port = port ^ top 16 bits of the cookie; X-Address = address ^ (cookie ‖ transaction ID). */
export function xorAddressValue(addr: TransportAddress, transactionId: Buffer): Buffer {
  const ip = parseIp(addr.address);
  if (!ip) throw new Error(`test bug: not an IP: ${addr.address}`);
  const out = Buffer.alloc(4 + ip.bytes.length);
  out[1] = ip.bytes.length === 4 ? 0x01 : 0x02;
  out.writeUInt16BE(addr.port ^ (MAGIC_COOKIE >>> 16), 2);
  const mask = Buffer.alloc(16);
  mask.writeUInt32BE(MAGIC_COOKIE, 0);
  transactionId.copy(mask, 4, 0, 12);
  for (let i = 0; i < ip.bytes.length; i++) out[4 + i] = ip.bytes[i]! ^ mask[i]!;
  return out;
}
/** XOR-PEER-ADDRESS (RFC 8656 §14.3) for `peer` in the message with this transaction ID. */
export function xorPeer(peer: TransportAddress, transactionId: Buffer): StunAttribute {
  return { type: AttributeType.XorPeerAddress, value: xorAddressValue(peer, transactionId) };
}

/** RFC 8656 §12.4 ChannelData: channel, length of the data, data, optional zero padding to 4. */
export function channelData(channel: number, data: Buffer, pad = false): Buffer {
  const total = pad ? 4 + Math.ceil(data.length / 4) * 4 : 4 + data.length;
  const out = Buffer.alloc(total);
  out.writeUInt16BE(channel, 0);
  out.writeUInt16BE(data.length, 2);
  data.copy(out, 4);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Keys and integrity, computed independently of src/stun/integrity.ts.

export type KeyAlgorithm = 'md5' | 'sha256';

/** RFC 8489 §9.2.2: the long-term key for ASCII credentials (OpaqueString leaves ASCII unchanged). */
export function longTermKeyRef(username: string, realm: string, password: string, algorithm: KeyAlgorithm = 'md5'): Buffer {
  return createHash(algorithm).update(`${username}:${realm}:${password}`, 'utf8').digest();
}

/** Walks the TLVs of an encoded message: [type, offset of the attribute header, value length]. */
function attributeOffsets(buf: Buffer): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  let off = 20;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16BE(off + 2);
    out.push([buf.readUInt16BE(off), off, len]);
    off += 4 + Math.ceil(len / 4) * 4;
  }
  return out;
}

/**
 * RFC 8489 §14.5/§14.6: true when the message's first MESSAGE-INTEGRITY (or -SHA256) verifies under
 * `key`: HMAC over the message up to the attribute, with the length field rewritten to end after it.
 */
export function integrityVerifies(buf: Buffer, key: Buffer, which: 'sha1' | 'sha256' = 'sha1'): boolean {
  const type = which === 'sha1' ? AttributeType.MessageIntegrity : AttributeType.MessageIntegritySha256;
  const found = attributeOffsets(buf).find(([t]) => t === type);
  if (!found) return false;
  const [, off, len] = found;
  const prefix = Buffer.from(buf.subarray(0, off));
  prefix.writeUInt16BE(off - 20 + 4 + len, 2);
  const mac = createHmac(which === 'sha1' ? 'sha1' : 'sha256', key).update(prefix).digest().subarray(0, len);
  return mac.equals(buf.subarray(off + 4, off + 4 + len));
}

/** Appends attributes after whatever the message ends with (e.g. after MESSAGE-INTEGRITY), fixing the length. */
export function appendAttributes(buf: Buffer, attributes: StunAttribute[]): Buffer {
  const parts = attributes.map((a) => {
    const p = Buffer.alloc(4 + Math.ceil(a.value.length / 4) * 4);
    p.writeUInt16BE(a.type, 0);
    p.writeUInt16BE(a.value.length, 2);
    a.value.copy(p, 4);
    return p;
  });
  const out = Buffer.concat([buf, ...parts]);
  out.writeUInt16BE(out.length - 20, 2);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Requests.

/** Long-term credentials plus the server's NONCE, as a client holds them after a 401. */
export interface Credentials {
  username: string;
  password: string;
  realm: string;
  nonce: string;
  /** Default MD5 with no PASSWORD-ALGORITHM(S): responses then carry MESSAGE-INTEGRITY (RFC 8489 §9.2.4). */
  algorithm?: KeyAlgorithm;
  /** The PASSWORD-ALGORITHMS value of the 401, echoed when algorithm is 'sha256' (RFC 8489 §9.2.5). */
  passwordAlgorithms?: Buffer;
}

export interface RequestOptions {
  transactionId?: Buffer;
  fingerprint?: boolean;
}

/** A fresh 96-bit transaction ID. */
export function newTransactionId(): Buffer {
  return randomBytes(12);
}

/** The attributes and key that sign a request with long-term credentials (RFC 8489 §9.2.3). */
function signing(creds: Credentials): { attrs: StunAttribute[]; key: Buffer; sha256: boolean } {
  const text = (type: number, s: string): StunAttribute => ({ type, value: Buffer.from(s, 'utf8') });
  const attrs = [text(AttributeType.Username, creds.username), text(AttributeType.Realm, creds.realm), text(AttributeType.Nonce, creds.nonce)];
  const algorithm = creds.algorithm ?? 'md5';
  if (algorithm === 'sha256') {
    if (!creds.passwordAlgorithms) throw new Error('test bug: sha256 needs the PASSWORD-ALGORITHMS of the 401');
    attrs.push({ type: AttributeType.PasswordAlgorithms, value: Buffer.from(creds.passwordAlgorithms) });
    const one = Buffer.alloc(4);
    one.writeUInt16BE(PasswordAlgorithm.SHA256, 0);
    attrs.push({ type: AttributeType.PasswordAlgorithm, value: one });
  }
  return { attrs, key: longTermKeyRef(creds.username, creds.realm, creds.password, algorithm), sha256: algorithm === 'sha256' };
}

/** A request of `method`, signed with MESSAGE-INTEGRITY (or -SHA256) when `creds` are given. */
export function turnRequest(method: number, attributes: StunAttribute[], creds?: Credentials, opts: RequestOptions = {}): { data: Buffer; transactionId: Buffer } {
  const transactionId = opts.transactionId ?? newTransactionId();
  const sign = creds ? signing(creds) : undefined;
  const data = encodeMessage(
    { method, cls: MessageClass.Request, transactionId, cookie: MAGIC_COOKIE, attributes: [...attributes, ...(sign?.attrs ?? [])] },
    {
      ...(sign && !sign.sha256 ? { integrity: sign.key } : {}),
      ...(sign && sign.sha256 ? { integritySha256: sign.key } : {}),
      fingerprint: opts.fingerprint ?? false,
    },
  );
  return { data, transactionId };
}

export interface AllocateOptions extends RequestOptions {
  /** Seconds; omitted when undefined. */
  lifetime?: number;
  /** IP protocol number; default 17 (UDP); null omits REQUESTED-TRANSPORT. */
  transport?: number | null;
  extra?: StunAttribute[];
}

/** An Allocate request (RFC 8656 §7.1). */
export function allocateRequest(creds: Credentials | undefined, opts: AllocateOptions = {}): { data: Buffer; transactionId: Buffer } {
  const attrs: StunAttribute[] = [];
  if (opts.transport !== null) attrs.push(requestedTransport(opts.transport ?? 17));
  if (opts.lifetime !== undefined) attrs.push(lifetime(opts.lifetime));
  attrs.push(...(opts.extra ?? []));
  return turnRequest(Method.Allocate, attrs, creds, opts);
}

/** A Refresh request (RFC 8656 §7.3). */
export function refreshRequest(creds: Credentials, seconds?: number, opts: RequestOptions & { extra?: StunAttribute[] } = {}): { data: Buffer; transactionId: Buffer } {
  const attrs = seconds === undefined ? [] : [lifetime(seconds)];
  return turnRequest(Method.Refresh, [...attrs, ...(opts.extra ?? [])], creds, opts);
}

/** A CreatePermission request with one XOR-PEER-ADDRESS per peer (RFC 8656 §9.1). */
export function createPermissionRequest(creds: Credentials, peers: TransportAddress[], opts: RequestOptions = {}): { data: Buffer; transactionId: Buffer } {
  const transactionId = opts.transactionId ?? newTransactionId();
  return turnRequest(Method.CreatePermission, peers.map((p) => xorPeer(p, transactionId)), creds, { ...opts, transactionId });
}

/** A ChannelBind request (RFC 8656 §11.1). */
export function channelBindRequest(creds: Credentials, channel: number, peer: TransportAddress, opts: RequestOptions = {}): { data: Buffer; transactionId: Buffer } {
  const transactionId = opts.transactionId ?? newTransactionId();
  return turnRequest(Method.ChannelBind, [channelNumber(channel), xorPeer(peer, transactionId)], creds, { ...opts, transactionId });
}

/** RFC 6062 §6.2.1 CONNECTION-ID: 32 bits. */
export function connectionIdAttr(id: number): StunAttribute {
  const v = Buffer.alloc(4);
  v.writeUInt32BE(id >>> 0, 0);
  return { type: AttributeType.ConnectionId, value: v };
}

/** The CONNECTION-ID of a message (Connect response, ConnectionAttempt), if well-formed. */
export function connectionIdOf(m: StunMessage): number | undefined {
  const a = getAttribute(m, AttributeType.ConnectionId);
  return a && a.value.length === 4 ? a.value.readUInt32BE(0) : undefined;
}

/** A Connect request (RFC 6062 §4.3) to one peer. */
export function connectRequest(creds: Credentials, peer: TransportAddress, opts: RequestOptions = {}): { data: Buffer; transactionId: Buffer } {
  const transactionId = opts.transactionId ?? newTransactionId();
  return turnRequest(Method.Connect, [xorPeer(peer, transactionId)], creds, { ...opts, transactionId });
}

/** A ConnectionBind request (RFC 6062 §4.4) for one CONNECTION-ID. */
export function connectionBindRequest(creds: Credentials, id: number, opts: RequestOptions = {}): { data: Buffer; transactionId: Buffer } {
  return turnRequest(Method.ConnectionBind, [connectionIdAttr(id)], creds, opts);
}

/** A Send indication (RFC 8656 §10.1): no integrity, XOR-PEER-ADDRESS and DATA. */
export function sendIndication(peer: TransportAddress, data: Buffer, transactionId = newTransactionId(), extra: StunAttribute[] = []): Buffer {
  return encodeMessage({
    method: Method.Send,
    cls: MessageClass.Indication,
    transactionId,
    cookie: MAGIC_COOKIE,
    attributes: [xorPeer(peer, transactionId), dataAttr(data), ...extra],
  });
}

/** A Binding request (RFC 8489 §6). */
export function bindingRequest(transactionId = newTransactionId()): Buffer {
  return encodeMessage({ method: Method.Binding, cls: MessageClass.Request, transactionId, cookie: MAGIC_COOKIE, attributes: [] });
}

// ---------------------------------------------------------------------------------------------
// Reading outcomes.

/** The decoded response of a 'respond' outcome; throws (failing the test) for any other outcome. */
export function responseOf(outcome: TurnOutcome | RespondOutcome): StunMessage {
  if (outcome.kind !== 'respond') throw new Error(`expected a response, got ${describe(outcome)}`);
  const r = decodeMessage(outcome.data);
  if (!r.ok) throw new Error(`response does not decode: ${r.reason}`);
  return r.message;
}

/** The ERROR-CODE number of a message, or undefined for none. */
export function errorCode(m: StunMessage): number | undefined {
  const a = getAttribute(m, AttributeType.ErrorCode);
  return a ? decodeErrorCode(a.value)?.code : undefined;
}

/** 'success', an error code, or the outcome kind (and reason) for anything that is not a response. */
export function verdict(outcome: TurnOutcome | RespondOutcome): string | number {
  if (outcome.kind !== 'respond') return describe(outcome);
  const m = responseOf(outcome);
  if (m.cls === MessageClass.SuccessResponse) return 'success';
  if (m.cls === MessageClass.ErrorResponse) return errorCode(m) ?? 'error without ERROR-CODE';
  return `class ${m.cls}`;
}

/** A short description of an outcome for assertion messages. */
export function describe(outcome: TurnOutcome | RespondOutcome): string {
  switch (outcome.kind) {
    case 'relay-drop':
    case 'drop':
      return `${outcome.kind}:${outcome.reason}`;
    case 'respond':
      return 'respond';
    default:
      return outcome.kind;
  }
}

/** The text of a text attribute. */
export function textAttr(m: StunMessage, type: number): string | undefined {
  return getAttribute(m, type)?.value.toString('utf8');
}

/** An XOR-* address attribute, decoded. */
export function xorAddressAttr(m: StunMessage, type: number): TransportAddress | undefined {
  const a = getAttribute(m, type);
  return a ? decodeXorAddress(a.value, m.transactionId) : undefined;
}

/** The LIFETIME of a response. */
export function lifetimeOf(m: StunMessage): number | undefined {
  const a = getAttribute(m, AttributeType.Lifetime);
  return a && a.value.length === 4 ? a.value.readUInt32BE(0) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Engines.

export interface EngineOptions {
  users?: Record<string, string>;
  secrets?: string[];
  realm?: string;
  /** Added to the default policy's allow list (198.18.0.0/15 by default, where the test peers live). */
  allow?: string[];
  deny?: string[];
  serverAddresses?: TransportAddress[];
  quotas?: AllocationQuotas;
  defaultLifetime?: number;
  maxLifetime?: number;
  maxPermissions?: number;
  nonceLifetimeMs?: number;
  relayFamilies?: Array<'IPv4' | 'IPv6'>;
  /** RFC 8489 §10 alternate servers (300 Try Alternate when draining or full). */
  alternates?: TurnEngineConfig['alternates'];
  enabled?: boolean;
  software?: string | null;
  unauthLimit?: RateLimit;
  /** Replaces the whole TurnEngineConfig field by field (after the above). */
  config?: Partial<TurnEngineConfig>;
}

/** A TurnEngineConfig with explicit quotas and lifetimes (RFC 8656 defaults: 600 s default, 3600 s max). */
export function engineConfig(o: EngineOptions = {}): TurnEngineConfig {
  const users = o.users ?? USERS;
  const secrets = o.secrets ?? [];
  return {
    realm: o.realm ?? REALM,
    software: o.software === undefined ? 'turnkit-test' : o.software,
    store: new CredentialStore({ users, secrets }),
    nonces: new NonceIssuer({ lifetimeMs: o.nonceLifetimeMs ?? 600_000, usernameAnonymity: false }),
    policy: new PeerPolicy({ allow: o.allow ?? ['198.18.0.0/15'], deny: o.deny ?? [], serverAddresses: o.serverAddresses ?? [SERVER] }),
    defaultLifetime: o.defaultLifetime ?? 600,
    maxLifetime: o.maxLifetime ?? 3600,
    quotas: o.quotas ?? { perUser: 10, perClientIp: 100, total: 0 },
    maxPermissions: o.maxPermissions ?? 64,
    relayFamilies: new Set(o.relayFamilies ?? ['IPv4']),
    ...(o.alternates ? { alternates: o.alternates } : {}),
    enabled: o.enabled ?? (Object.keys(users).length > 0 || secrets.length > 0),
    ...(o.config ?? {}),
  };
}

/** An engine for `config`, with the SOFTWARE of its config for Binding and unauthenticated answers. */
export function makeEngine(config: TurnEngineConfig, unauthLimit?: RateLimit): TurnEngine {
  return new TurnEngine(config, { software: config.software }, unauthLimit);
}

let nextPort = 40000;
/** A fresh client transport address (a new 5-tuple each call). */
export function newClientAddress(ip = '198.51.100.7'): TransportAddress {
  nextPort = nextPort >= 65000 ? 40000 : nextPort + 1;
  return { family: ip.includes(':') ? 'IPv6' : 'IPv4', address: ip, port: nextPort };
}

/** The second relay of a dual allocation as the transport reports it: opened, or refused with a code. */
export type RelayOpenedAdditional = NonNullable<Extract<RelayOpened, { ok: true }>['additional']>;

/** A fake relay address for an allocation (what the transport would have bound). */
let nextRelayPort = 50000;
export function fakeRelay(family: 'IPv4' | 'IPv6' = 'IPv4'): { relayed: TransportAddress; advertised: TransportAddress } {
  const port = nextRelayPort++;
  if (family === 'IPv6') {
    return { relayed: { family, address: '2001:db8::10', port }, advertised: { family, address: '2001:db8::20', port } };
  }
  // The bound address (behind 1:1 NAT) differs from what XOR-RELAYED-ADDRESS must advertise.
  return { relayed: { family, address: '10.1.2.3', port }, advertised: { family, address: '203.0.113.5', port } };
}

export interface ClientOptions {
  username?: string;
  password?: string;
  realm?: string;
  source?: TransportAddress;
  server?: TransportAddress;
  listenerId?: number;
  transport?: StunTransport;
  algorithm?: KeyAlgorithm;
}

/**
 * One TURN client on one 5-tuple, talking to an engine. `nonce` is learnt from the first 401 (or
 * 438) it sees; `creds()` are its current credentials.
 */
export class TurnTestClient {
  readonly username: string;
  password: string;
  readonly realm: string;
  readonly source: TransportAddress;
  readonly server: TransportAddress;
  readonly listenerId: number;
  readonly transport: StunTransport;
  readonly algorithm: KeyAlgorithm;
  nonce: string | undefined;
  passwordAlgorithms: Buffer | undefined;
  allocation: Allocation | undefined;

  constructor(readonly engine: TurnEngine, o: ClientOptions = {}) {
    this.username = o.username ?? 'alice';
    this.password = o.password ?? USERS[this.username] ?? 'no-password';
    this.realm = o.realm ?? REALM;
    this.source = o.source ?? newClientAddress();
    this.server = o.server ?? SERVER;
    this.listenerId = o.listenerId ?? 1;
    this.transport = o.transport ?? 'udp';
    this.algorithm = o.algorithm ?? 'md5';
  }

  /** The client's long-term key (independent derivation). */
  get key(): Buffer {
    return longTermKeyRef(this.username, this.realm, this.password, this.algorithm);
  }

  /** Current credentials; throws if no NONCE was learnt yet. */
  creds(): Credentials {
    if (this.nonce === undefined) throw new Error('test bug: no nonce yet (call challenge() first)');
    const c: Credentials = { username: this.username, password: this.password, realm: this.realm, nonce: this.nonce, algorithm: this.algorithm };
    if (this.passwordAlgorithms) c.passwordAlgorithms = this.passwordAlgorithms;
    return c;
  }

  /** The ClientEvent for bytes sent on this 5-tuple. */
  event(data: Buffer): ClientEvent {
    return { data, transport: this.transport, source: this.source, role: 'primary', listenerId: this.listenerId, server: this.server };
  }

  /** Hands bytes to the engine; learns NONCE/PASSWORD-ALGORITHMS from any 401/438 answer. */
  send(data: Buffer, now: number): TurnOutcome {
    const out = this.engine.handleClientMessage(this.event(data), now);
    if (out.kind === 'respond') this.learn(out.data);
    return out;
  }

  private learn(data: Buffer): void {
    const r = decodeMessage(data);
    if (!r.ok || r.message.cls !== MessageClass.ErrorResponse) return;
    const code = errorCode(r.message);
    if (code !== 401 && code !== 438) return;
    const nonce = textAttr(r.message, AttributeType.Nonce);
    if (nonce !== undefined) this.nonce = nonce;
    const algs = getAttribute(r.message, AttributeType.PasswordAlgorithms);
    if (algs) this.passwordAlgorithms = Buffer.from(algs.value);
  }

  /** Sends an unauthenticated Allocate and returns the 401 (learning its NONCE). */
  challenge(now: number): StunMessage {
    const m = responseOf(this.send(allocateRequest(undefined).data, now));
    if (errorCode(m) !== 401) throw new Error(`expected 401, got class ${m.cls} code ${errorCode(m)}`);
    return m;
  }

  /** The 401 dance, then a signed Allocate: returns its outcome (normally { kind: 'allocate' }). */
  requestAllocation(now: number, opts: AllocateOptions = {}): TurnOutcome {
    if (this.nonce === undefined) this.challenge(now);
    return this.send(allocateRequest(this.creds(), opts).data, now);
  }

  /** requestAllocation, insisting on a pending allocation. */
  pendingAllocation(now: number, opts: AllocateOptions = {}): PendingAllocation {
    const out = this.requestAllocation(now, opts);
    if (out.kind !== 'allocate') throw new Error(`expected a pending allocation, got ${verdict(out)}`);
    return out.pending;
  }

  /**
   * Completes a pending allocation with a fake relay (and, for a dual allocation the engine did not
   * refuse already, a fake IPv6 relay unless `additional` says otherwise); returns the Allocate response.
   */
  complete(
    pending: PendingAllocation,
    relay = fakeRelay(pending.family),
    additional: RelayOpenedAdditional | undefined = pending.additional && pending.additional.refused === undefined ? fakeRelay(pending.additional.family) : undefined,
  ): RespondOutcome {
    const out = this.engine.completeAllocation(pending, { ok: true, relayed: relay.relayed, advertised: relay.advertised, ...(additional ? { additional } : {}) });
    if (out.created) this.allocation = out.created;
    return out;
  }

  /** Allocates (dance + completion) and returns the allocation and the success response. */
  allocate(now: number, opts: AllocateOptions = {}): { allocation: Allocation; response: StunMessage; outcome: RespondOutcome } {
    const out = this.complete(this.pendingAllocation(now, opts));
    const response = responseOf(out);
    if (!out.created) throw new Error(`allocation not created: ${verdict(out)}`);
    return { allocation: out.created, response, outcome: out };
  }

  /** Signed request helpers: they return the outcome. */
  refresh(now: number, seconds?: number, opts: RequestOptions = {}): TurnOutcome {
    return this.send(refreshRequest(this.creds(), seconds, opts).data, now);
  }
  createPermission(now: number, peers: TransportAddress[], opts: RequestOptions = {}): TurnOutcome {
    return this.send(createPermissionRequest(this.creds(), peers, opts).data, now);
  }
  channelBind(now: number, channel: number, peer: TransportAddress, opts: RequestOptions = {}): TurnOutcome {
    return this.send(channelBindRequest(this.creds(), channel, peer, opts).data, now);
  }
  sendTo(now: number, peer: TransportAddress, data: Buffer): TurnOutcome {
    return this.send(sendIndication(peer, data), now);
  }
  connect(now: number, peer: TransportAddress, opts: RequestOptions = {}): TurnOutcome {
    return this.send(connectRequest(this.creds(), peer, opts).data, now);
  }
  connectionBind(now: number, id: number, opts: RequestOptions = {}): TurnOutcome {
    return this.send(connectionBindRequest(this.creds(), id, opts).data, now);
  }
  channelData(now: number, channel: number, data: Buffer, pad = false): TurnOutcome {
    return this.send(channelData(channel, data, pad), now);
  }

  /** Whether a response is signed with this client's key (MI or MI-SHA256 per its algorithm). */
  signedByMe(m: StunMessage): boolean {
    return integrityVerifies(m.raw!, this.key, this.algorithm === 'sha256' ? 'sha256' : 'sha1');
  }
}

/** The Method constants, re-exported for tests that build raw messages. */
export { Method, MessageClass, AttributeType };
