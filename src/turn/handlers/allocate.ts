import { AddressFamily, AttributeType, ErrorCode } from '../../stun/constants.js';
import { encodeXorAddress } from '../../stun/attributes/address.js';
import { encodeErrorCode } from '../../stun/attributes/error-code.js';
import { getAttribute, type StunAttribute } from '../../stun/message.js';
import type { IpFamily, TransportAddress } from '../../stun/ip.js';
import type { AllocationTable, QuotaBreach } from '../allocations.js';
import type { EngineNote, HandlerReply, PendingAllocation, RequestContext } from '../context.js';
import { fiveTupleKeyOf, fiveTupleOf } from '../context.js';
import type { ReservationTable } from '../reservations.js';
import {
  ADDITIONAL_ADDRESS_FAMILY_DRAFT,
  TransportProtocol,
  decodeAddressFamily,
  decodeEvenPort,
  decodeLifetime,
  decodeRequestedTransport,
  encodeLifetime,
} from '../wire/attributes.js';
import { desiredLifetime, fail, succeed } from './common.js';

/** Families by the REQUESTED-ADDRESS-FAMILY octet. */
const FAMILY: Record<number, IpFamily> = { [AddressFamily.IPv4]: 'IPv4', [AddressFamily.IPv6]: 'IPv6' };

/** The answer when the server as a whole has no room: 508, or 300 Try Alternate (RFC 8489 §10). */
export type CapacityRefusal = (note?: EngineNote) => HandlerReply;

/**
 * RFC 8656 §7.2 "Receiving an Allocate Request", steps 2–8 (step 1, authentication, is done by the
 * engine for every TURN request). Returns a reply for every refusal, or the pending allocation the
 * transport must open a relay (two for a dual allocation) for; `completeAllocate` then builds the
 * success response.
 */
export function handleAllocate(
  ctx: RequestContext,
  table: AllocationTable,
  reservations: ReservationTable,
  quotaBreach: (username: string, clientIp: string) => QuotaBreach | undefined,
  full: CapacityRefusal,
): HandlerReply | PendingAllocation {
  const { request, event, config, now } = ctx;

  // Step 2: the 5-tuple must not already have an allocation (a retransmit never gets here: the
  // engine answers it from the transaction cache).
  if (table.get(fiveTupleKeyOf(event))) {
    return fail(ErrorCode.AllocationMismatch);
  }

  // Step 3: REQUESTED-TRANSPORT must be present: UDP, or TCP (RFC 6062 §5.1) over a TCP or TLS
  // control connection only, and without the UDP-only EVEN-PORT, RESERVATION-TOKEN, DONT-FRAGMENT.
  const transportAttr = getAttribute(request, AttributeType.RequestedTransport);
  const protocol = transportAttr ? decodeRequestedTransport(transportAttr.value) : undefined;
  if (protocol === undefined) return fail(ErrorCode.BadRequest);
  if (protocol !== TransportProtocol.UDP && protocol !== TransportProtocol.TCP) return fail(ErrorCode.UnsupportedTransportProtocol);
  if (protocol === TransportProtocol.TCP) {
    if (event.transport === 'udp') return fail(ErrorCode.BadRequest);
    const udpOnly = [AttributeType.EvenPort, AttributeType.ReservationToken, AttributeType.DontFragment];
    if (udpOnly.some((type) => getAttribute(request, type))) return fail(ErrorCode.BadRequest);
  }

  // Step 4: DONT-FRAGMENT is honoured as Linux sends UDP with DF set by default (path MTU discovery).

  // Step 5: RESERVATION-TOKEN excludes EVEN-PORT, REQUESTED- and ADDITIONAL-ADDRESS-FAMILY. The
  // token is only looked at here; it is used up last, once nothing can refuse the request any more.
  const tokenAttr = getAttribute(request, AttributeType.ReservationToken);
  const evenAttr = getAttribute(request, AttributeType.EvenPort);
  const familyAttr = getAttribute(request, AttributeType.RequestedAddressFamily);
  const additionalAttr =
    getAttribute(request, AttributeType.AdditionalAddressFamily) ?? getAttribute(request, ADDITIONAL_ADDRESS_FAMILY_DRAFT);
  let reserved: TransportAddress | undefined;
  if (tokenAttr) {
    if (evenAttr || familyAttr || additionalAttr || tokenAttr.value.length !== 8) return fail(ErrorCode.BadRequest);
    reserved = reservations.peek(tokenAttr.value, now);
    if (!reserved) return fail(ErrorCode.InsufficientCapacity);
  }

  // Step 6: EVEN-PORT asks for an even relay port, and perhaps the next one reserved.
  let evenPort: PendingAllocation['evenPort'];
  if (evenAttr) {
    evenPort = decodeEvenPort(evenAttr.value);
    if (!evenPort) return fail(ErrorCode.BadRequest);
    // Step 8: a reservation (R bit) cannot go with a dual allocation.
    if (evenPort.reserveNext && additionalAttr) return fail(ErrorCode.BadRequest);
  }

  // REQUESTED-ADDRESS-FAMILY (RFC 8656 §7.2): IPv4 by default; a family we cannot relay gets 440,
  // and so does a request without the attribute when this server relays no IPv4.
  let family: IpFamily = reserved?.family ?? 'IPv4';
  if (familyAttr) {
    if (additionalAttr) return fail(ErrorCode.BadRequest);
    const value = decodeAddressFamily(familyAttr.value);
    if (value === undefined) return fail(ErrorCode.BadRequest);
    const f = FAMILY[value];
    if (!f) return fail(ErrorCode.AddressFamilyNotSupported);
    family = f;
  }
  if (!reserved && !config.relayFamilies.has(family)) return fail(ErrorCode.AddressFamilyNotSupported);
  let additional: PendingAllocation['additional'];
  if (additionalAttr) {
    // ADDITIONAL-ADDRESS-FAMILY may only ask for IPv6 on top of the default IPv4 (RFC 8656 §14.8).
    if (decodeAddressFamily(additionalAttr.value) !== AddressFamily.IPv6) return fail(ErrorCode.BadRequest);
    // Without IPv6 relays the IPv4 half is still granted, with ADDRESS-ERROR-CODE for the IPv6 half.
    // RFC 6062 TCP relays are single-family here, so their IPv6 half is refused the same way (not
    // as a capacity problem).
    const dual = config.relayFamilies.has('IPv6') && protocol !== TransportProtocol.TCP;
    additional = dual ? { family: 'IPv6' } : { family: 'IPv6', refused: ErrorCode.AddressFamilyNotSupported };
  }

  // Step 7: quotas, counting Allocates still waiting for their relay. Per user and per client IP:
  // 486; the server as a whole: 508 (or 300 to an alternate server). A dual allocation counts once.
  const breach = quotaBreach(ctx.auth.username, event.source.address);
  if (breach === 'total') return full({ event: 'quota', which: breach });
  if (breach) return fail(ErrorCode.AllocationQuotaReached, [], { note: { event: 'quota', which: breach } });

  const lifetimeAttr = getAttribute(request, AttributeType.Lifetime);
  const requested = lifetimeAttr ? decodeLifetime(lifetimeAttr.value) : undefined;
  if (lifetimeAttr && requested === undefined) return fail(ErrorCode.BadRequest);
  const lifetime = desiredLifetime(requested, config.defaultLifetime, config.maxLifetime);
  let reservedPort: PendingAllocation['reservedPort'];
  if (tokenAttr && reserved) {
    reservations.take(tokenAttr.value, now);
    reservedPort = { address: reserved, token: Buffer.from(tokenAttr.value) };
  }
  const pending: PendingAllocation = { ctx, family, lifetime };
  if (additional) pending.additional = additional;
  if (evenPort) pending.evenPort = evenPort;
  if (reservedPort) pending.reservedPort = reservedPort;
  if (protocol === TransportProtocol.TCP) pending.relayTransport = 'tcp';
  return pending;
}

/** A relay the transport opened: the address it is bound to and the one XOR-RELAYED-ADDRESS advertises. */
export interface OpenedRelay {
  relayed: TransportAddress;
  advertised: TransportAddress;
}

/**
 * The relay the transport opened for a pending allocation, or why it could not: `refused` is 440
 * when no address of the family is usable, else 508 (no free port). For a dual allocation,
 * `additional` is the second relay, or why that one could not be opened.
 */
export type RelayOpened =
  | (OpenedRelay & { ok: true; reservationToken?: Buffer; additional?: OpenedRelay | { refused: number } })
  | { ok: false; refused?: number };

/** RFC 8656 ADDRESS-ERROR-CODE (attribute 0x8001): family, reserved octet, then class, number and reason as in ERROR-CODE. */
function addressErrorCode(family: IpFamily, code: number): StunAttribute {
  const familyOctet = family === 'IPv4' ? AddressFamily.IPv4 : AddressFamily.IPv6;
  return { type: AttributeType.AddressErrorCode, value: Buffer.concat([Buffer.from([familyOctet, 0]), encodeErrorCode(code).subarray(2)]) };
}

/** RFC 8656 §7.2 step 8 and the success response: creates the allocation once its relay(s) are open. */
export function completeAllocate(pending: PendingAllocation, opened: RelayOpened, table: AllocationTable, full: CapacityRefusal): HandlerReply {
  const { ctx } = pending;
  if (!opened.ok) {
    const code = opened.refused ?? ErrorCode.InsufficientCapacity;
    return code === ErrorCode.InsufficientCapacity ? full() : fail(code);
  }
  const { event } = ctx;
  if (table.get(fiveTupleKeyOf(event))) return fail(ErrorCode.AllocationMismatch);
  const second = opened.additional && 'relayed' in opened.additional ? opened.additional : undefined;
  const allocation = table.create({
    fiveTuple: fiveTupleOf(ctx.event),
    username: ctx.auth.username,
    relayed: opened.relayed,
    advertised: opened.advertised,
    ...(second ? { additional: { relayed: second.relayed, advertised: second.advertised } } : {}),
    expiresAt: ctx.now + pending.lifetime * 1000,
    createdAt: ctx.now,
    ...(pending.relayTransport ? { relayTransport: pending.relayTransport } : {}),
  });
  const tx = ctx.request.transactionId;
  // RFC 8656 §7.2: a dual allocation carries one XOR-RELAYED-ADDRESS per family, IPv4 first.
  const attributes: StunAttribute[] = [{ type: AttributeType.XorRelayedAddress, value: encodeXorAddress(allocation.advertised, tx) }];
  if (second) attributes.push({ type: AttributeType.XorRelayedAddress, value: encodeXorAddress(second.advertised, tx) });
  attributes.push({ type: AttributeType.Lifetime, value: encodeLifetime(pending.lifetime) });
  if (opened.reservationToken) attributes.push({ type: AttributeType.ReservationToken, value: opened.reservationToken });
  if (pending.additional && !second) {
    // RFC 8656 §7.2: the IPv4 relay is granted; the IPv6 one is refused inside the success response.
    const refused = pending.additional.refused ?? (opened.additional && 'refused' in opened.additional ? opened.additional.refused : ErrorCode.InsufficientCapacity);
    attributes.push(addressErrorCode(pending.additional.family, refused));
  }
  attributes.push({ type: AttributeType.XorMappedAddress, value: encodeXorAddress(ctx.event.source, tx) });
  return succeed(attributes, { created: allocation });
}
