import { Method } from '../stun/constants.js';
import type { TransportAddress } from '../stun/ip.js';
import type { Allocation } from './allocations.js';
import type { PeerPolicy } from './policy.js';

/** A channel the engine lets a fast data path relay by itself, until `validUntil` (ms). */
export interface ProjectedChannel {
  channel: number;
  peer: TransportAddress;
  validUntil: number;
}

/**
 * A permission a fast path may use for Send and Data indications until `validUntil` (ms), except
 * toward `refusedPorts` of that IP, which the peer policy refuses (the server's own ports).
 */
export interface ProjectedPermission {
  peerIp: string;
  validUntil: number;
  refusedPorts: number[];
}

/**
 * The successful requests after which an allocation's channels or permissions may have changed
 * (new or refreshed binding or permission, new lifetime), so a fast path's projection is renewed.
 */
export const PROJECTED_METHODS: ReadonlySet<number> = new Set([Method.ChannelBind, Method.CreatePermission, Method.Refresh]);

/**
 * What a fast path may relay without asking the engine: each channel binding, usable until the
 * earliest of its own expiry, its peer's permission expiry and the allocation's (RFC 8656 §12: a
 * binding is used only while its permission lasts). Past that the fast path must ask again.
 */
export function projectedChannels(allocation: Allocation): ProjectedChannel[] {
  const out: ProjectedChannel[] = [];
  for (const b of allocation.channelsByNumber.values()) {
    const permission = allocation.permissions.get(b.peer.address) ?? 0;
    const validUntil = Math.min(b.expiresAt, permission, allocation.expiresAt);
    if (validUntil > 0) out.push({ channel: b.channel, peer: b.peer, validUntil });
  }
  return out;
}

/**
 * What a fast path may relay as Send and Data indications without asking: each permission, usable
 * until the earliest of its expiry and the allocation's, for peer IPs the policy allows now (a
 * reload may have changed it). A Send indication's port is judged per packet by the engine
 * (`checkTransportAddress`); for an allowed IP that refuses only the server's own listening ports,
 * so those travel with the permission.
 */
export function projectedPermissions(allocation: Allocation, policy: PeerPolicy): ProjectedPermission[] {
  const out: ProjectedPermission[] = [];
  for (const [peerIp, expiresAt] of allocation.permissions) {
    const validUntil = Math.min(expiresAt, allocation.expiresAt);
    if (validUntil > 0 && policy.checkIp(peerIp).allowed) out.push({ peerIp, validUntil, refusedPorts: policy.refusedServerPorts(peerIp) });
  }
  return out;
}
