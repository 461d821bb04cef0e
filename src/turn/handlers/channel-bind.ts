import { AttributeType, ErrorCode } from '../../stun/constants.js';
import { getAttribute } from '../../stun/message.js';
import { relaysFamily, type AllocationTable } from '../allocations.js';
import { bindChannel, channelBindConflict, pruneChannels } from '../channels.js';
import type { HandlerReply, RequestContext } from '../context.js';
import { installPermission, prunePermissions } from '../permissions.js';
import { isBindableChannel } from '../wire/channel-data.js';
import { decodeChannelNumber } from '../wire/attributes.js';
import { existingAllocation, fail, isReply, peerAddresses, succeed } from './common.js';

/**
 * RFC 8656 §11.2 "Receiving a ChannelBind Request": binds (or refreshes) a channel number to a
 * peer transport address, and installs or refreshes the permission for the peer's IP.
 */
export function handleChannelBind(ctx: RequestContext, table: AllocationTable): HandlerReply {
  const { request, config, now } = ctx;
  const found = existingAllocation(ctx, table);
  if (isReply(found)) return found;
  const allocation = found;
  // RFC 6062 §5: a TCP allocation relays over peer data connections, never over channels (403 as coturn).
  if (allocation.relayTransport === 'tcp') return fail(ErrorCode.Forbidden);

  // CHANNEL-NUMBER in 0x4000–0x4FFF and exactly one usable XOR-PEER-ADDRESS, else 400.
  const channelAttr = getAttribute(request, AttributeType.ChannelNumber);
  const channel = channelAttr ? decodeChannelNumber(channelAttr.value) : undefined;
  if (channel === undefined || !isBindableChannel(channel)) return fail(ErrorCode.BadRequest);
  const peers = peerAddresses(request);
  if (!peers || peers.length === 0) return fail(ErrorCode.BadRequest);
  const peer = peers[0]!;

  if (!relaysFamily(allocation, peer.family)) return fail(ErrorCode.PeerAddressFamilyMismatch);
  // The port is known here, so the server's own listening ports are refused too.
  const decision = config.policy.checkTransportAddress(peer.address, peer.port);
  if (!decision.allowed) {
    return fail(ErrorCode.Forbidden, [], {
      note: { event: 'peer-denied', peer: peer.address, rule: decision.rule, reason: decision.reason },
    });
  }

  // The channel must not stand for another peer, nor the peer have another channel: 400.
  pruneChannels(allocation, now);
  if (channelBindConflict(allocation, channel, peer, now)) return fail(ErrorCode.BadRequest);

  prunePermissions(allocation, now);
  if (!allocation.permissions.has(peer.address) && allocation.permissions.size >= config.maxPermissions) {
    return fail(ErrorCode.InsufficientCapacity);
  }
  bindChannel(allocation, channel, peer, now);
  installPermission(allocation, peer.address, now);
  return succeed();
}
