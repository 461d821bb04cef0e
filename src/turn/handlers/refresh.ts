import { AddressFamily, AttributeType, ErrorCode } from '../../stun/constants.js';
import { getAttribute } from '../../stun/message.js';
import { relaysFamily, type AllocationTable } from '../allocations.js';
import type { HandlerReply, RequestContext } from '../context.js';
import { decodeAddressFamily, decodeLifetime, encodeLifetime } from '../wire/attributes.js';
import { desiredLifetime, existingAllocation, fail, isReply, succeed } from './common.js';

/**
 * RFC 8656 §7.3 "Receiving a Refresh Request": extends the allocation, or deletes it when the
 * requested lifetime is 0. A retransmitted Refresh for an allocation it already deleted is answered
 * from the engine's transaction cache, so the client sees success, not 437.
 */
export function handleRefresh(ctx: RequestContext, table: AllocationTable): HandlerReply {
  const { request, config, now } = ctx;
  const found = existingAllocation(ctx, table);
  if (isReply(found)) return found;
  const allocation = found;

  // A REQUESTED-ADDRESS-FAMILY the allocation has no relay of: 443. The relays of a dual allocation
  // live and die together, so naming either family refreshes (or deletes) both.
  const familyAttr = getAttribute(request, AttributeType.RequestedAddressFamily);
  if (familyAttr) {
    const family = decodeAddressFamily(familyAttr.value);
    const named = family === AddressFamily.IPv4 ? 'IPv4' : family === AddressFamily.IPv6 ? 'IPv6' : undefined;
    if (!named || !relaysFamily(allocation, named)) return fail(ErrorCode.PeerAddressFamilyMismatch);
  }

  const lifetimeAttr = getAttribute(request, AttributeType.Lifetime);
  const requested = lifetimeAttr ? decodeLifetime(lifetimeAttr.value) : undefined;
  if (lifetimeAttr && requested === undefined) return fail(ErrorCode.BadRequest);
  if (requested === 0) {
    table.delete(allocation);
    return succeed([{ type: AttributeType.Lifetime, value: encodeLifetime(0) }], { released: allocation });
  }
  const lifetime = desiredLifetime(requested, config.defaultLifetime, config.maxLifetime);
  table.refresh(allocation, now + lifetime * 1000);
  return succeed([{ type: AttributeType.Lifetime, value: encodeLifetime(lifetime) }]);
}
