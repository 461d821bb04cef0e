import { randomBytes } from 'node:crypto';
import { encodeXorAddress } from '../../stun/attributes/address.js';
import { AttributeType, MAGIC_COOKIE, MessageClass, Method } from '../../stun/constants.js';
import type { TransportAddress } from '../../stun/ip.js';
import { encodeMessage } from '../../stun/message.js';
import type { Allocation } from '../allocations.js';
import type { EngineNote, TurnEngineConfig } from '../context.js';
import { hasPermission } from '../permissions.js';
import { CONNECTION_BIND_TIMEOUT_MS, MAX_CONNECTIONS_PER_ALLOCATION, type TcpConnection, type TcpConnectionTable } from '../tcp-connections.js';
import { encodeConnectionId } from '../wire/attributes.js';

/** Why an incoming peer connection was refused; label values of `turnkit_tcp_relay_refused_total`. */
export type PeerConnectionRefusal = 'no-allocation' | 'no-permission' | 'peer-denied' | 'duplicate' | 'limit';

/** Every refusal reason, for pre-registering metric labels. */
export const PEER_CONNECTION_REFUSALS: readonly PeerConnectionRefusal[] = ['no-allocation', 'no-permission', 'peer-denied', 'duplicate', 'limit'];

/** What to do with a TCP connection a peer opened to a relayed address. */
export type PeerConnectionOutcome =
  | { ok: true; connection: TcpConnection; indication: Buffer }
  | { ok: false; reason: PeerConnectionRefusal; note?: EngineNote };

/**
 * RFC 6062 §5.3 "Receiving a TCP Connection on a Relayed Transport Address": a peer with a
 * permission (and allowed by the peer policy) gets a CONNECTION-ID, and the client a
 * ConnectionAttempt indication naming it and the peer; anyone else is refused.
 */
export function handlePeerConnection(
  allocation: Allocation | undefined,
  peer: TransportAddress,
  now: number,
  config: TurnEngineConfig,
  connections: TcpConnectionTable,
): PeerConnectionOutcome {
  if (!allocation || allocation.expiresAt <= now || allocation.relayTransport !== 'tcp') return { ok: false, reason: 'no-allocation' };
  if (!hasPermission(allocation, peer.address, now)) return { ok: false, reason: 'no-permission' };
  // A permission installed before a reload tightened the policy does not outrank it.
  const decision = config.policy.checkIp(peer.address);
  if (!decision.allowed) {
    return { ok: false, reason: 'peer-denied', note: { event: 'peer-denied', peer: peer.address, rule: decision.rule, reason: decision.reason } };
  }
  if (connections.forPeer(allocation.id, peer)) return { ok: false, reason: 'duplicate' };
  if (connections.countFor(allocation.id) >= MAX_CONNECTIONS_PER_ALLOCATION) return { ok: false, reason: 'limit' };

  const connection = connections.add(allocation.id, peer, 'peer', now, config.connectionBindTimeoutMs ?? CONNECTION_BIND_TIMEOUT_MS);
  const transactionId = randomBytes(12);
  const indication = encodeMessage({
    method: Method.ConnectionAttempt,
    cls: MessageClass.Indication,
    transactionId,
    cookie: MAGIC_COOKIE,
    attributes: [
      { type: AttributeType.ConnectionId, value: encodeConnectionId(connection.id) },
      { type: AttributeType.XorPeerAddress, value: encodeXorAddress(peer, transactionId) },
    ],
  });
  return { ok: true, connection, indication };
}
