import { Method } from '../stun/constants.js';
import type { TransportAddress } from '../stun/ip.js';
import type { Allocation } from './allocations.js';

/** A channel the engine lets a fast data path relay by itself, until `validUntil` (ms). */
export interface ProjectedChannel {
  channel: number;
  peer: TransportAddress;
  validUntil: number;
}

/**
 * The successful requests after which an allocation's channels may have changed (new binding,
 * refreshed binding, permission or lifetime), so a fast path's projection is renewed.
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
