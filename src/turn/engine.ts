import { AttributeType, ErrorCode, MessageClass, Method } from '../stun/constants.js';
import { encodeAddress, encodeXorAddress } from '../stun/attributes/address.js';
import { encodeErrorCode } from '../stun/attributes/error-code.js';
import { encodeUnknownAttributes } from '../stun/attributes/unknown-attributes.js';
import { softwareValue } from '../stun/server.js';
import { decodeMessage, encodeMessage, getAttribute, type EncodeOptions, type StunAttribute, type StunMessage } from '../stun/message.js';
import type { TransportAddress } from '../stun/ip.js';
import {
  handleBindingRequest,
  unauthenticatedError,
  unknownComprehensionRequired,
  type BindingServerConfig,
} from '../stun/server.js';
import { AllocationTable, type Allocation } from './allocations.js';
import type { PeerPolicy } from './policy.js';
import { authenticateRequest, responseIntegrity } from './auth.js';
import { bindingForChannel, channelForPeer } from './channels.js';
import { accountOf } from './credentials.js';
import { fiveTupleKeyOf } from './context.js';
import type {
  ClientEvent,
  EngineNote,
  HandlerReply,
  RedirectReason,
  PendingAllocation,
  PendingConnect,
  RequestContext,
  RespondOutcome,
  TurnEngineConfig,
  TurnOutcome,
} from './context.js';
import { completeAllocate, handleAllocate, type RelayOpened } from './handlers/allocate.js';
import { handleChannelBind } from './handlers/channel-bind.js';
import { handleConnect } from './handlers/connect.js';
import { handlePeerConnection, type PeerConnectionOutcome } from './handlers/connection-attempt.js';
import { handleConnectionBind } from './handlers/connection-bind.js';
import { handleCreatePermission } from './handlers/create-permission.js';
import { handleRefresh } from './handlers/refresh.js';
import { handleSend } from './handlers/send.js';
import { hasPermission, installPermission } from './permissions.js';
import { SourceLimiter, sourceKey, type RateLimit } from './rate-limit.js';
import { ReservationTable } from './reservations.js';
import { CONNECTION_BIND_TIMEOUT_MS, TcpConnectionTable, type TcpConnection } from './tcp-connections.js';
import { encodeConnectionId } from './wire/attributes.js';
import { TransactionCache } from './transactions.js';
import { readChannelData } from './wire/channel-data.js';

/** The TURN methods this engine answers (RFC 8656 §17); others get 400. */
const TURN_METHODS: ReadonlySet<number> = new Set([
  Method.Allocate,
  Method.Refresh,
  Method.CreatePermission,
  Method.ChannelBind,
  Method.Connect,
  Method.ConnectionBind,
]);

/** Distinct failing sources one username may see before guesses for it are dropped. */
export const USERNAME_FAILURE_LIMIT: RateLimit = { burst: 10, perSecond: 0.5 };
/** How long a source that authenticated as a user stays exempt from that user's failure limit. */
const TRUSTED_SOURCE_MS = 3_600_000;
/** Bounds on the trusted-source memory. */
const MAX_TRUSTED_USERS = 50_000;
const MAX_TRUSTED_SOURCES_PER_USER = 16;

/** Default limit on unauthenticated answers per client IP (a browser needs one per allocation). */
export const DEFAULT_UNAUTH_LIMIT: RateLimit = { burst: 20, perSecond: 10 };

/** What to send a client for one packet a peer sent to its relayed address. */
export type PeerPacketOutcome =
  | { kind: 'to-client'; data: Buffer }
  | { kind: 'relay-drop'; reason: 'no-permission' };

/**
 * The answer's EncodeOptions: one object shape whatever the integrity, where a spread of the three
 * shapes made V8 define each answer's options on its slow path (~2.5 % of an allocation's CPU).
 */
function signingOptions(sign: EncodeOptions, fingerprint: boolean): EncodeOptions {
  return {
    integrity: sign.integrity,
    integritySha256: sign.integritySha256,
    integritySha256Length: sign.integritySha256Length,
    fingerprint,
  };
}

/**
 * The TURN server's protocol state machine (RFC 8656): client messages and peer packets in, actions
 * out. No sockets and no timers: the transport calls it with the current time and carries out the
 * returned outcome; `expire` is called by the transport's sweep.
 */
export class TurnEngine {
  /** Live allocations. */
  readonly allocations = new AllocationTable();
  /** Relay ports held by EVEN-PORT reservations. */
  readonly reservations = new ReservationTable();
  /** RFC 6062 peer data connections of TCP allocations, by CONNECTION-ID. */
  readonly tcpConnections = new TcpConnectionTable();
  private readonly transactions = new TransactionCache();
  /** Allocates accepted but waiting for their relay socket, by 5-tuple key: whose account, from where. */
  private readonly pending = new Map<string, { account: string; clientIp: string }>();
  /** Per source: 401 challenges answered (each costs an answer to an unauthenticated request). */
  private readonly challengeLimiter: SourceLimiter;
  /** Per source: failed credential checks (guesses); an empty bucket stops checking altogether. */
  private readonly failureLimiter: SourceLimiter;
  /** Per username: sources whose credential check failed (guessing spread over many sources). */
  private readonly usernameFailures = new SourceLimiter(USERNAME_FAILURE_LIMIT);
  /** Username → sources that authenticated as it recently, and until when; they pass a username limit. */
  private readonly trustedSources = new Map<string, Map<string, number>>();
  private draining = false;
  /** Round-robin position among the alternate servers. */
  private alternateTurn = 0;

  constructor(
    private config: TurnEngineConfig,
    private readonly binding: BindingServerConfig,
    unauthLimit: RateLimit = DEFAULT_UNAUTH_LIMIT,
  ) {
    this.challengeLimiter = new SourceLimiter(unauthLimit);
    this.failureLimiter = new SourceLimiter(unauthLimit);
  }

  /** True when users or secrets exist, so TURN requests can be authenticated. */
  isEnabled(): boolean {
    return this.config.enabled;
  }

  /** From now on, new allocations are refused (shutdown drain): 300 to an alternate server, else 508; existing ones keep relaying. */
  startDraining(): void {
    this.draining = true;
  }

  /** The peer policy in force, which a fast path's projected permissions must follow. */
  get policy(): PeerPolicy {
    return this.config.policy;
  }

  /** Replaces the configuration (reload); live allocations keep running. */
  reconfigure(config: TurnEngineConfig): void {
    this.config = config;
  }

  /** Handles one datagram or stream frame from a client: STUN, TURN or ChannelData. */
  handleClientMessage(event: ClientEvent, now: number): TurnOutcome {
    const data = event.data;
    if (data.length > 0 && data[0]! >> 6 === 0b01) return this.handleChannelData(event, now);
    const decoded = decodeMessage(data);
    if (!decoded.ok) return { kind: 'drop', reason: decoded.reason };
    const message = decoded.message;
    if (message.cls === MessageClass.Indication) {
      if (message.method === Method.Send) return handleSend(message, event, now, this.allocations, this.config);
      return { kind: 'indication', method: message.method };
    }
    if (message.cls !== MessageClass.Request) return { kind: 'drop', reason: 'unexpected-class' };
    if (message.method === Method.Binding) return handleBindingRequest(message, event, this.binding);
    if (!TURN_METHODS.has(message.method)) return unauthenticatedError(message, event, this.binding, ErrorCode.BadRequest);
    return this.handleTurnRequest(message, event, now);
  }

  /** RFC 8656 §6 and §7–§11: the steps every TURN request shares, then its method's handler. */
  private handleTurnRequest(request: StunMessage, event: ClientEvent, now: number): TurnOutcome {
    const key = fiveTupleKeyOf(event);
    // RFC 8656 §6.2: a retransmission inside the transaction window gets the same answer.
    const cached = this.transactions.get(key, request.transactionId, now);
    if (cached) {
      // The class bits of the cached answer's type (0x0110 set = error response) say how it ended.
      const result = (cached.readUInt16BE(0) & 0x0110) === 0x0110 ? 'error' : 'success';
      return { kind: 'respond', data: cached, from: event.role, to: event.source, method: request.method, result };
    }
    // While an Allocate on this 5-tuple waits for its relay socket, nothing else may start one: a
    // retransmit would open a second relay, and a second Allocate must not orphan the first.
    if (this.pending.has(key)) return { kind: 'relay-drop', reason: 'allocation-pending' };

    if (!this.config.enabled) {
      return unauthenticatedError(request, event, { ...this.binding, software: null }, ErrorCode.BadRequest);
    }

    // A source that has used up its budget of failed attempts is not even checked until it refills:
    // limiting only the 401s would still let a guess that happens to be right through. The same holds
    // per username, for guessing spread over many sources; sources that recently signed in as that
    // user are exempt, so an attack on a name does not lock its owner out.
    const source = sourceKey(event.source.address);
    if (this.failureLimiter.isEmpty(source, now)) return { kind: 'relay-drop', reason: 'rate-limited' };
    const claimedName = getAttribute(request, AttributeType.Username)?.value.toString('utf8');
    const claimed = claimedName === undefined ? undefined : accountOf(claimedName);
    if (claimed !== undefined && this.usernameFailures.isEmpty(claimed, now) && !this.isTrusted(claimed, source, now)) {
      return { kind: 'relay-drop', reason: 'rate-limited' };
    }

    // RFC 8656 §7.2 step 1 (and the same for every other method): long-term credentials.
    const auth = authenticateRequest(request, {
      nowMs: now,
      clientIp: event.source.address,
      realm: this.config.realm,
      store: this.config.store,
      nonces: this.config.nonces,
    });
    if (!auth.ok) {
      // A username's budget counts guessing sources, not guesses: one source that keeps failing is the
      // per-source limit's business, and must not lock the name's owner out everywhere.
      if (claimed !== undefined && auth.reason === 'bad-integrity' && this.failureLimiter.isFull(source, now)) {
        this.usernameFailures.take(claimed, now);
      }
      const limiter = auth.reason === 'no-credentials' ? this.challengeLimiter : this.failureLimiter;
      if (!limiter.take(source, now)) return { kind: 'relay-drop', reason: 'rate-limited' };
      const note = { event: 'auth-failed', reason: auth.reason } as const;
      if (auth.key) {
        // A 438 to a request that did verify is signed, so the client can trust it (RFC 8489 §9.2.4).
        const signed: RequestContext = { request, event, now, config: this.config, auth: { username: '', integrity: responseIntegrity(auth) } };
        return this.respond(signed, { cls: 'error', code: auth.code, attributes: auth.attributes, note }, key);
      }
      const out = unauthenticatedError(request, event, this.binding, auth.code, auth.attributes);
      return out.kind === 'respond' ? { ...out, note } : out;
    }
    const account = accountOf(auth.username);
    this.trust(account, source, now);
    const ctx: RequestContext = {
      request,
      event,
      now,
      config: this.config,
      auth: { username: auth.username, integrity: responseIntegrity(auth) },
    };
    // RFC 8489 §6.3.1: unknown comprehension-required attributes are checked once the request is
    // authenticated, so the 420 can be signed (a client discards an unsigned answer, §9.2.5).
    const unknown = unknownComprehensionRequired(request);
    if (unknown.length > 0) {
      return this.respond(ctx, { cls: 'error', code: ErrorCode.UnknownAttribute, attributes: [{ type: AttributeType.UnknownAttributes, value: encodeUnknownAttributes(unknown) }] }, key);
    }

    let reply: HandlerReply;
    switch (request.method) {
      case Method.Allocate: {
        if (this.draining) {
          // RFC 8656 §7.2: 508 tells the client to try another server, which is what a drain wants;
          // 300 names one.
          reply = this.refuseForCapacity(ctx, 'draining');
          break;
        }
        const r = handleAllocate(ctx, this.allocations, this.reservations, (username, clientIp) => {
          const held = { total: this.pending.size, user: 0, clientIp: 0 };
          const owner = accountOf(username);
          for (const p of this.pending.values()) {
            if (p.account === owner) held.user++;
            if (p.clientIp === clientIp) held.clientIp++;
          }
          return this.allocations.quotaBreach(username, clientIp, this.config.quotas, held);
        }, (n) => this.refuseForCapacity(ctx, 'full', n));
        if ('ctx' in r) {
          this.pending.set(key, { account, clientIp: event.source.address });
          return { kind: 'allocate', pending: r };
        }
        reply = r;
        break;
      }
      case Method.Refresh:
        reply = handleRefresh(ctx, this.allocations);
        break;
      case Method.CreatePermission:
        reply = handleCreatePermission(ctx, this.allocations);
        break;
      case Method.Connect: {
        const r = handleConnect(ctx, this.allocations, this.tcpConnections);
        if ('connection' in r) return { kind: 'connect', pending: r };
        reply = r;
        break;
      }
      case Method.ConnectionBind:
        reply = handleConnectionBind(ctx, this.allocations, this.tcpConnections);
        break;
      default:
        reply = handleChannelBind(ctx, this.allocations);
        break;
    }
    return this.respond(ctx, reply, key);
  }

  private isTrusted(username: string, source: string, now: number): boolean {
    return (this.trustedSources.get(username)?.get(source) ?? 0) > now;
  }

  /** Remembers that `source` proved it knows `username`'s key (bounded: oldest entries go first). */
  private trust(username: string, source: string, now: number): void {
    let sources = this.trustedSources.get(username);
    if (!sources) {
      if (this.trustedSources.size >= MAX_TRUSTED_USERS) {
        const oldest = this.trustedSources.keys().next().value;
        if (oldest !== undefined) this.trustedSources.delete(oldest);
      }
      sources = new Map();
      this.trustedSources.set(username, sources);
    }
    sources.delete(source);
    if (sources.size >= MAX_TRUSTED_SOURCES_PER_USER) {
      const oldest = sources.keys().next().value;
      if (oldest !== undefined) sources.delete(oldest);
    }
    sources.set(source, now + TRUSTED_SOURCE_MS);
  }

  /** RFC 8656 §7.2: finishes an Allocate once the transport opened (or failed to open) its relay. */
  completeAllocation(pending: PendingAllocation, opened: RelayOpened): RespondOutcome {
    const { ctx } = pending;
    const key = fiveTupleKeyOf(ctx.event);
    this.pending.delete(key);
    return this.respond(ctx, completeAllocate(pending, opened, this.allocations, () => this.refuseForCapacity(ctx, 'full')), key);
  }

  /**
   * The answer to an Allocate this node has no room for (draining, or full): 300 Try Alternate with
   * ALTERNATE-SERVER when alternates are configured (RFC 8489 §10), else 508. Alternates take turns,
   * those of the client's IP family first; over TLS only the TLS ones qualify, with ALTERNATE-DOMAIN.
   * The answer is signed like every answer to an authenticated request, as §10 asks.
   */
  private refuseForCapacity(ctx: RequestContext, reason: RedirectReason, quotaNote?: EngineNote): HandlerReply {
    const alternates = this.config.alternates;
    const tls = ctx.event.transport === 'tls';
    const list = (tls ? alternates?.tls : alternates?.udp) ?? [];
    if (list.length === 0) return { cls: 'error', code: ErrorCode.InsufficientCapacity, attributes: [], ...(quotaNote ? { note: quotaNote } : {}) };
    const sameFamily = list.filter((a) => a.family === ctx.event.source.family);
    const pool = sameFamily.length > 0 ? sameFamily : list;
    const target = pool[this.alternateTurn++ % pool.length]!;
    const attributes: StunAttribute[] = [{ type: AttributeType.AlternateServer, value: encodeAddress(target) }];
    if (tls && alternates?.domain) attributes.push({ type: AttributeType.AlternateDomain, value: Buffer.from(alternates.domain, 'ascii') });
    return { cls: 'error', code: ErrorCode.TryAlternate, attributes, note: { event: 'redirect', reason } };
  }

  /**
   * RFC 6062 §5.2: finishes a Connect once the transport reached the peer (`connected`) or gave up:
   * CONNECTION-ID and a permission for the peer, or 447. A success is only for a connection and
   * allocation that still exist; the transport closes the peer socket unless the answer is success.
   */
  completeConnect(pending: PendingConnect, connected: boolean, now: number): RespondOutcome {
    const { allocation, connection } = pending;
    const ctx = { ...pending.ctx, now };
    const live =
      this.allocations.getById(allocation.id) === allocation && allocation.expiresAt > now && this.tcpConnections.get(connection.id) === connection;
    let reply: HandlerReply;
    if (connected && live) {
      this.tcpConnections.connected(connection, now, this.config.connectionBindTimeoutMs ?? CONNECTION_BIND_TIMEOUT_MS);
      installPermission(allocation, connection.peer.address, now);
      reply = { cls: 'success', attributes: [{ type: AttributeType.ConnectionId, value: encodeConnectionId(connection.id) }] };
    } else {
      this.tcpConnections.delete(connection);
      reply = { cls: 'error', code: ErrorCode.ConnectionTimeoutOrFailure, attributes: [] };
    }
    return this.respond(ctx, reply, fiveTupleKeyOf(ctx.event));
  }

  /** RFC 6062 §5.3: a peer opened a TCP connection to the relayed address of `allocationId`. */
  acceptPeerConnection(allocationId: number, peer: TransportAddress, now: number): PeerConnectionOutcome {
    return handlePeerConnection(this.allocations.getById(allocationId), peer, now, this.config, this.tcpConnections);
  }

  /** A peer data connection closed (either side, or its bind timed out in the transport). */
  closeTcpConnection(connection: TcpConnection): void {
    this.tcpConnections.delete(connection);
  }

  /**
   * Takes back what the current peer policy (after a reload) refuses: permissions for denied IPs go
   * at once, so Send, ChannelData and Data stop now rather than when they expire, and the RFC 6062
   * peer data connections to denied peers are returned for the transport to close.
   */
  withdrawDeniedPeers(): { permissions: number; tcpConnections: TcpConnection[] } {
    const policy = this.config.policy;
    let permissions = 0;
    for (const allocation of this.allocations.all()) {
      const denied: string[] = [];
      for (const [ip] of allocation.permissions) if (!policy.checkIp(ip).allowed) denied.push(ip);
      for (const ip of denied) allocation.permissions.delete(ip);
      permissions += denied.length;
    }
    const tcpConnections: TcpConnection[] = [];
    for (const c of this.tcpConnections.all()) if (!policy.checkTransportAddress(c.peer.address, c.peer.port).allowed) tcpConnections.push(c);
    return { permissions, tcpConnections };
  }

  /** An allocation ended: forgets its peer data connections, which the transport closes. */
  releaseTcpConnections(allocationId: number): TcpConnection[] {
    return this.tcpConnections.deleteAllocation(allocationId);
  }

  /** Drops an allocation whose Allocate is still pending (its connection closed meanwhile). */
  cancelPending(pending: PendingAllocation): void {
    this.pending.delete(fiveTupleKeyOf(pending.ctx.event));
  }

  /** Signs and encodes a handler's reply and remembers it for retransmissions. */
  private respond(ctx: RequestContext, reply: HandlerReply, key: string): RespondOutcome {
    const { request, event } = ctx;
    const attributes: StunAttribute[] = [...reply.attributes];
    if (reply.cls === 'error') attributes.unshift({ type: AttributeType.ErrorCode, value: encodeErrorCode(reply.code!) });
    if (this.binding.software !== null) {
      attributes.push({ type: AttributeType.Software, value: softwareValue(this.binding.software) });
    }
    const data = encodeMessage(
      {
        method: request.method,
        cls: reply.cls === 'success' ? MessageClass.SuccessResponse : MessageClass.ErrorResponse,
        transactionId: request.transactionId,
        cookie: request.cookie,
        attributes,
      },
      signingOptions(ctx.auth.integrity, getAttribute(request, AttributeType.Fingerprint) !== undefined),
    );
    if (!REPROCESSED_METHODS.has(request.method)) this.transactions.set(key, request.transactionId, data, ctx.now);
    const out: RespondOutcome = {
      kind: 'respond',
      data,
      from: event.role,
      to: event.source,
      method: request.method,
      result: reply.cls === 'success' ? 'success' : 'error',
    };
    if (reply.released) out.released = reply.released;
    if (reply.created) out.created = reply.created;
    if (reply.note) out.note = reply.note;
    if (reply.bound) out.bound = reply.bound;
    return out;
  }

  /** RFC 8656 §12.3: ChannelData from a client goes to the peer bound to its channel. */
  private handleChannelData(event: ClientEvent, now: number): TurnOutcome {
    const frame = readChannelData(event.data);
    if (!frame.ok) return { kind: 'relay-drop', reason: 'malformed' };
    const allocation = this.allocations.get(fiveTupleKeyOf(event));
    if (!allocation || allocation.expiresAt <= now) return { kind: 'relay-drop', reason: 'no-allocation' };
    const binding = bindingForChannel(allocation, frame.channel, now);
    if (!binding) return { kind: 'relay-drop', reason: 'unbound-channel' };
    // The binding implies a permission, but the permission may have lapsed (RFC 8656 §12.3).
    if (!hasPermission(allocation, binding.peer.address, now)) return { kind: 'relay-drop', reason: 'no-permission' };
    return { kind: 'send-peer', allocation, peer: binding.peer, data: event.data.subarray(4, 4 + frame.length) };
  }

  /**
   * RFC 8656 §10.3 and §12.4: a packet a peer sent to a relayed address reaches the client as
   * ChannelData when the peer has a channel, else as a Data indication — only with a permission.
   */
  handlePeerPacket(allocation: Allocation, peerIp: string, peerPort: number, data: Buffer, now: number): PeerPacketOutcome {
    if (allocation.expiresAt <= now || !hasPermission(allocation, peerIp, now)) return { kind: 'relay-drop', reason: 'no-permission' };
    const binding = channelForPeer(allocation, peerIp, peerPort, now);
    const stream = allocation.fiveTuple.transport !== 'udp';
    if (binding) {
      const total = stream ? (4 + data.length + 3) & ~3 : 4 + data.length;
      const out = Buffer.allocUnsafe(total);
      out.writeUInt16BE(binding.channel, 0);
      out.writeUInt16BE(data.length, 2);
      data.copy(out, 4);
      if (total > 4 + data.length) out.fill(0, 4 + data.length);
      return { kind: 'to-client', data: out };
    }
    const transactionId = dataIndicationId();
    // The peer's own family: in a dual allocation it came in on either relay.
    const peer = { family: peerIp.includes(':') ? 'IPv6' : 'IPv4', address: peerIp, port: peerPort } as const;
    const indication = encodeMessage({
      method: Method.Data,
      cls: MessageClass.Indication,
      transactionId,
      cookie: 0x2112a442,
      attributes: [
        { type: AttributeType.XorPeerAddress, value: encodeXorAddress(peer, transactionId) },
        { type: AttributeType.Data, value: data },
      ],
    });
    return { kind: 'to-client', data: indication };
  }

  /**
   * Removes what expired by `now`: allocations (their relays must close), unused reservations, and
   * peer data connections never bound (RFC 6062 §5.2/§5.3: closed after 30 s).
   */
  expire(now: number): { allocations: Allocation[]; reservations: Array<{ token: string }>; tcpConnections: TcpConnection[] } {
    this.transactions.expire(now);
    this.config.nonces.forgetExpired(now);
    this.challengeLimiter.forgetRefilled(now);
    this.failureLimiter.forgetRefilled(now);
    this.usernameFailures.forgetRefilled(now);
    return { allocations: this.allocations.expire(now), reservations: this.reservations.expire(now), tcpConnections: this.tcpConnections.expire(now) };
  }

  /** Removes an allocation whose client connection closed (RFC 8656 §7: it ends with its 5-tuple). */
  release(allocation: Allocation): void {
    this.allocations.delete(allocation);
  }
}

/**
 * Requests whose retransmissions are processed again instead of answered from the transaction
 * cache (RFC 8489 §6.3.1 allows it for idempotent requests that yield the same success response):
 * a repeated CreatePermission or ChannelBind installs or refreshes the same permission or binding
 * and gets the same bytes back. They are most of an established allocation's requests, and not
 * remembering their answers saves ~500 bytes each for 40 s.
 */
const REPROCESSED_METHODS: ReadonlySet<number> = new Set([Method.CreatePermission, Method.ChannelBind]);

/**
 * Transaction IDs for Data indications: a counter is enough (RFC 8489 §6: indications need only be
 * unique per sender), and it avoids a random-bytes call per relayed packet.
 */
const dataIndicationCounter = Buffer.alloc(12);
function dataIndicationId(): Buffer {
  for (let i = 11; i >= 0; i--) {
    dataIndicationCounter[i] = (dataIndicationCounter[i]! + 1) & 0xff;
    if (dataIndicationCounter[i] !== 0) break;
  }
  return Buffer.from(dataIndicationCounter);
}
