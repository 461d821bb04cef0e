import { ErrorCode } from '../../stun/constants.js';
import type { AllocationTable } from '../allocations.js';
import type { HandlerReply, PendingConnect, RequestContext } from '../context.js';
import { prunePermissions } from '../permissions.js';
import { CONNECTION_BIND_TIMEOUT_MS, MAX_CONNECTIONS_PER_ALLOCATION, type TcpConnectionTable } from '../tcp-connections.js';
import { existingAllocation, fail, isReply, peerAddresses } from './common.js';

/**
 * RFC 6062 §5.2 "Receiving a Connect Request": checks the request in the RFC's order (437, 446,
 * 400, 403) and returns the pending connection the transport must now open from the relayed
 * address to the peer; `completeConnect` in the engine answers with CONNECTION-ID or 447.
 */
export function handleConnect(ctx: RequestContext, table: AllocationTable, connections: TcpConnectionTable): HandlerReply | PendingConnect {
  const { request, config, now } = ctx;
  const found = existingAllocation(ctx, table);
  if (isReply(found)) return found;
  const allocation = found;
  // Connect makes sense only for a TCP allocation (coturn answers 403 the same way).
  if (allocation.relayTransport !== 'tcp') return fail(ErrorCode.Forbidden);

  // Exactly one well-formed XOR-PEER-ADDRESS, of the relayed address's family.
  const peers = peerAddresses(request);
  if (!peers || peers.length !== 1) return fail(ErrorCode.BadRequest);
  const peer = peers[0]!;
  if (peer.family !== allocation.relayed.family) return fail(ErrorCode.PeerAddressFamilyMismatch);

  // A connection to this peer address that is being opened, waits for its bind, or is bound: 446.
  if (connections.forPeer(allocation.id, peer)) return fail(ErrorCode.ConnectionAlreadyExists);

  // Local policy (security.md): the deny list, and the server's own listening addresses.
  const decision = config.policy.checkTransportAddress(peer.address, peer.port);
  if (!decision.allowed) {
    return fail(ErrorCode.Forbidden, [], {
      note: { event: 'peer-denied', peer: peer.address, rule: decision.rule, reason: decision.reason },
    });
  }

  // Bounds on what one allocation holds: connections, and the permission a success installs.
  if (connections.countFor(allocation.id) >= MAX_CONNECTIONS_PER_ALLOCATION) return fail(ErrorCode.InsufficientCapacity);
  prunePermissions(allocation, now);
  if (!allocation.permissions.has(peer.address) && allocation.permissions.size >= config.maxPermissions) {
    return fail(ErrorCode.InsufficientCapacity);
  }

  const connection = connections.add(allocation.id, peer, 'connect', now, config.connectionBindTimeoutMs ?? CONNECTION_BIND_TIMEOUT_MS);
  return { ctx, allocation, connection };
}
