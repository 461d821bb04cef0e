import type { EncodeOptions, StunAttribute, StunMessage } from '../stun/message.js';
import type { IpFamily, TransportAddress } from '../stun/ip.js';
import type { StunOutcome, StunRequestEvent } from '../stun/server.js';
import { fiveTupleKey, type Allocation, type AllocationQuotas, type FiveTuple } from './allocations.js';
import type { CredentialStore } from './credentials.js';
import type { NonceIssuer } from './nonce.js';
import type { PeerPolicy } from './policy.js';
import type { TcpConnection } from './tcp-connections.js';

/** What the TURN engine needs to know; everything with I/O stays outside. */
export interface TurnEngineConfig {
  realm: string;
  software: string | null;
  store: CredentialStore;
  nonces: NonceIssuer;
  policy: PeerPolicy;
  /** RFC 8656 §7.2: lifetime granted when the client asks for less (seconds). */
  defaultLifetime: number;
  /** RFC 8656 §7.2: the most a client may ask for (seconds). */
  maxLifetime: number;
  quotas: AllocationQuotas;
  /** Peer IPs one allocation may hold permissions for (508 beyond). */
  maxPermissions: number;
  /** Address families a relay can be opened in (others answer 440). */
  relayFamilies: ReadonlySet<IpFamily>;
  /** RFC 8489 §10: where new Allocates go when this node drains or is full (300 Try Alternate). */
  alternates?: Alternates;
  /** False when no users or secrets exist: TURN requests then get 400 saying so. */
  enabled: boolean;
  /** RFC 6062 §5.2: how long a peer data connection waits for its ConnectionBind (default 30 s). */
  connectionBindTimeoutMs?: number;
}

/** Alternate servers by the transport of the request (TLS clients need a TLS port), and the TLS name. */
export interface Alternates {
  udp: readonly TransportAddress[];
  tls: readonly TransportAddress[];
  /** RFC 8489 §14.16 ALTERNATE-DOMAIN, sent over TLS only. */
  domain?: string;
}

/** A message from a client, with the listener it arrived on. */
export interface ClientEvent extends StunRequestEvent {
  /** Identifies the socket (UDP) or connection (TCP/TLS) — part of the 5-tuple. */
  listenerId: number;
  /** The server side of the 5-tuple. */
  server: TransportAddress;
}

/** The allocation-table key of the 5-tuple a client event arrived on. */
export function fiveTupleKeyOf(event: ClientEvent): string {
  return fiveTupleKey(event.listenerId, event.source.address, event.source.port);
}

/** The 5-tuple of a client event. */
export function fiveTupleOf(event: ClientEvent): FiveTuple {
  return { client: event.source, server: event.server, transport: event.transport, listenerId: event.listenerId };
}

/** A successfully authenticated request (RFC 8489 §9.2.4). */
export interface Authenticated {
  username: string;
  /** How to sign every response to this request. */
  integrity: EncodeOptions;
}

/** Everything a method handler needs for one request. */
export interface RequestContext {
  request: StunMessage;
  event: ClientEvent;
  now: number;
  auth: Authenticated;
  config: TurnEngineConfig;
}

/** Why the engine dropped a message without answering; label values of the relay drop counter. */
export type RelayDropReason =
  | 'no-allocation'
  | 'no-permission'
  | 'peer-denied'
  | 'unbound-channel'
  | 'malformed'
  | 'allocation-pending'
  | 'rate-limited'
  | 'peer-family-mismatch'
  /** The transport's: a TCP/TLS client had too much unsent data (it stopped reading). */
  | 'slow-client'
  | 'tcp-allocation'
  /** A Send indication with an unknown comprehension-required attribute (RFC 8489 §6.3.2). */
  | 'unknown-attribute';

/** Every relay drop reason, for pre-registering metric labels. */
export const RELAY_DROP_REASONS: readonly RelayDropReason[] = [
  'no-allocation',
  'no-permission',
  'peer-denied',
  'unbound-channel',
  'malformed',
  'allocation-pending',
  'rate-limited',
  'peer-family-mismatch',
  'slow-client',
  'tcp-allocation',
  'unknown-attribute',
];

/** An Allocate that passed every check and waits for the transport to open its relay socket. */
export interface PendingAllocation {
  ctx: RequestContext;
  family: IpFamily;
  /** RFC 8656 §14.6 EVEN-PORT: an even port is required, and maybe the next one reserved. */
  evenPort?: { reserveNext: boolean };
  /** RFC 8656 §14.9: the port reserved by an earlier EVEN-PORT allocation. */
  reservedPort?: { address: TransportAddress; token: Buffer };
  /**
   * RFC 8656 §7.2 dual allocation: the family ADDITIONAL-ADDRESS-FAMILY asked for, to be opened too,
   * or the error code already known to refuse it (440 when this server relays no such family).
   */
  additional?: { family: IpFamily; refused?: number };
  lifetime: number;
  /** RFC 6062 §5.1: 'tcp' when REQUESTED-TRANSPORT asked for a TCP relay; absent for UDP. */
  relayTransport?: 'tcp';
}

/** A Connect that passed every check and waits for the transport to reach the peer (RFC 6062 §5.2). */
export interface PendingConnect {
  ctx: RequestContext;
  allocation: Allocation;
  connection: TcpConnection;
}

/** A peer data connection bound by a ConnectionBind on the client data connection `listenerId`. */
export interface BoundConnection {
  connection: TcpConnection;
  listenerId: number;
}

/** The answer to a request, possibly with an allocation that the transport must now release. */
export type RespondOutcome = Extract<StunOutcome, { kind: 'respond' }> & {
  released?: Allocation;
  created?: Allocation;
  /** For logs and metrics: e.g. the peer rule that refused a permission. */
  note?: EngineNote;
  /** RFC 6062 §5.4: after this answer, the client connection is a raw pipe to this peer connection. */
  bound?: BoundConnection;
};

/** Something worth a log line or a counter that is not itself an action. */
export type EngineNote =
  | { event: 'peer-denied'; peer: string; rule: string; reason: string }
  | { event: 'auth-failed'; reason: string }
  | { event: 'quota'; which: string }
  | { event: 'redirect'; reason: RedirectReason };

/** Why an Allocate was sent to an alternate server (label values of the redirect counter). */
export type RedirectReason = 'draining' | 'full';
/** Every redirect reason, for pre-registering metric labels. */
export const REDIRECT_REASONS: readonly RedirectReason[] = ['draining', 'full'];

/** What the transport should do next. */
export type TurnOutcome =
  | Exclude<StunOutcome, { kind: 'respond' }>
  | RespondOutcome
  | { kind: 'allocate'; pending: PendingAllocation }
  | { kind: 'connect'; pending: PendingConnect }
  | { kind: 'send-peer'; allocation: Allocation; peer: TransportAddress; data: Buffer }
  | { kind: 'relay-drop'; reason: RelayDropReason; note?: EngineNote };

/** Attributes plus signing, as handlers hand them to the engine's response builder. */
export interface HandlerReply {
  cls: 'success' | 'error';
  code?: number;
  attributes: StunAttribute[];
  released?: Allocation;
  created?: Allocation;
  note?: EngineNote;
  bound?: BoundConnection;
}
