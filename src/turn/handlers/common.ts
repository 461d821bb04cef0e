import { AttributeType, ErrorCode } from '../../stun/constants.js';
import { decodeXorAddress } from '../../stun/attributes/address.js';
import type { TransportAddress } from '../../stun/ip.js';
import type { StunAttribute, StunMessage } from '../../stun/message.js';
import { effectiveAttributes } from '../../stun/message.js';
import type { Allocation, AllocationTable } from '../allocations.js';
import { fiveTupleKeyOf, type HandlerReply, type RequestContext } from '../context.js';

/** An error reply with the given code (signed by the engine like every reply to an authenticated request). */
export function fail(code: number, attributes: StunAttribute[] = [], extra: Partial<HandlerReply> = {}): HandlerReply {
  return { cls: 'error', code, attributes, ...extra };
}

/** A success reply. */
export function succeed(attributes: StunAttribute[] = [], extra: Partial<HandlerReply> = {}): HandlerReply {
  return { cls: 'success', attributes, ...extra };
}

/**
 * RFC 8656 §7.3/§9.2/§11.2 common first steps: the request's 5-tuple must have an allocation (437),
 * created by the same user (441).
 */
export function existingAllocation(ctx: RequestContext, table: AllocationTable): Allocation | HandlerReply {
  const { event } = ctx;
  const allocation = table.get(fiveTupleKeyOf(event));
  // An allocation past its lifetime is gone even if the sweep has not removed it yet (RFC 8656 §7.3).
  if (!allocation || allocation.expiresAt <= ctx.now) return fail(ErrorCode.AllocationMismatch);
  if (allocation.username !== ctx.auth.username) return fail(ErrorCode.WrongCredentials);
  return allocation;
}

/** Every XOR-PEER-ADDRESS of a request in order (CreatePermission may carry several); undefined if one is malformed. */
export function peerAddresses(request: StunMessage): TransportAddress[] | undefined {
  const out: TransportAddress[] = [];
  for (const a of effectiveAttributes(request)) {
    if (a.type !== AttributeType.XorPeerAddress) continue;
    const peer = decodeXorAddress(a.value, request.transactionId);
    if (!peer) return undefined;
    out.push(peer);
  }
  return out;
}

/** RFC 8656 §7.2: the lifetime to grant: at least the default, at most the maximum. */
export function desiredLifetime(requested: number | undefined, defaultLifetime: number, maxLifetime: number): number {
  if (requested === undefined) return defaultLifetime;
  return Math.max(defaultLifetime, Math.min(requested, maxLifetime));
}

/** True when the reply is a handler reply rather than an allocation. */
export function isReply(x: Allocation | HandlerReply): x is HandlerReply {
  return 'cls' in x;
}
