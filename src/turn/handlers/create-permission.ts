import { ErrorCode } from '../../stun/constants.js';
import { relaysFamily, type AllocationTable } from '../allocations.js';
import type { HandlerReply, RequestContext } from '../context.js';
import { installPermission, prunePermissions } from '../permissions.js';
import { existingAllocation, fail, isReply, peerAddresses, succeed } from './common.js';

/**
 * RFC 8656 §9.2 "Receiving a CreatePermission Request": installs or refreshes a permission for the
 * IP of every XOR-PEER-ADDRESS — all of them or none (a single refused peer refuses the request).
 */
export function handleCreatePermission(ctx: RequestContext, table: AllocationTable): HandlerReply {
  const { request, config, now } = ctx;
  const found = existingAllocation(ctx, table);
  if (isReply(found)) return found;
  const allocation = found;

  // At least one XOR-PEER-ADDRESS, each well-formed.
  const peers = peerAddresses(request);
  if (!peers || peers.length === 0) return fail(ErrorCode.BadRequest);

  for (const peer of peers) {
    // Each peer must be of a relayed address's family: 443.
    if (!relaysFamily(allocation, peer.family)) return fail(ErrorCode.PeerAddressFamilyMismatch);
    // The peer-address policy (security.md): refused peers get 403.
    const decision = config.policy.checkIp(peer.address);
    if (!decision.allowed) {
      return fail(ErrorCode.Forbidden, [], {
        note: { event: 'peer-denied', peer: peer.address, rule: decision.rule, reason: decision.reason },
      });
    }
  }

  // A bound on permissions per allocation keeps one client from growing server memory: 508.
  prunePermissions(allocation, now);
  const fresh = new Set(peers.map((p) => p.address).filter((ip) => !allocation.permissions.has(ip)));
  if (allocation.permissions.size + fresh.size > config.maxPermissions) return fail(ErrorCode.InsufficientCapacity);

  for (const peer of peers) installPermission(allocation, peer.address, now);
  return succeed();
}
