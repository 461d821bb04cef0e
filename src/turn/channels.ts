import type { TransportAddress } from '../stun/ip.js';
import type { Allocation } from './allocations.js';

/** RFC 8656 §11: a channel binding lasts 600 seconds unless refreshed. */
export const CHANNEL_LIFETIME_MS = 600_000;

/** RFC 8656 §11: after a binding expires, neither its number nor its peer may be rebound elsewhere for 5 minutes. */
export const CHANNEL_QUARANTINE_MS = 300_000;

/** One channel binding: a number standing for a peer transport address. */
export interface ChannelBinding {
  channel: number;
  peer: TransportAddress;
  /** Usable until then. */
  expiresAt: number;
}

/** Why a ChannelBind cannot be honoured (RFC 8656 §11.2: both answer 400). */
export type ChannelBindConflict = 'channel-in-use' | 'peer-bound-elsewhere';

/** The binding (usable or not) indexed for the peer `ip`:`port`, if any. */
function peerEntry(allocation: Allocation, ip: string, port: number): ChannelBinding | undefined {
  const e = allocation.channelsByPeer.get(ip);
  if (e === undefined) return undefined;
  if (e instanceof Map) return e.get(port);
  return e.peer.port === port ? e : undefined;
}

/** Indexes `binding` under its peer, replacing what that peer address had. */
function indexPeer(allocation: Allocation, binding: ChannelBinding): void {
  const { address, port } = binding.peer;
  const e = allocation.channelsByPeer.get(address);
  if (e instanceof Map) e.set(port, binding);
  else if (e === undefined || e.peer.port === port) allocation.channelsByPeer.set(address, binding);
  else allocation.channelsByPeer.set(address, new Map([[e.peer.port, e], [port, binding]]));
}

/** Drops the index entry of the peer address `peer`; an IP left with one port goes back to a plain entry. */
function unindexPeer(allocation: Allocation, peer: TransportAddress): void {
  const e = allocation.channelsByPeer.get(peer.address);
  if (e instanceof Map) {
    e.delete(peer.port);
    if (e.size <= 1) {
      const last = e.values().next().value;
      if (last === undefined) allocation.channelsByPeer.delete(peer.address);
      else allocation.channelsByPeer.set(peer.address, last);
    }
  } else if (e !== undefined && e.peer.port === peer.port) {
    allocation.channelsByPeer.delete(peer.address);
  }
}

/** True while the binding is kept (usable or quarantined). */
function kept(b: ChannelBinding, now: number): boolean {
  return b.expiresAt + CHANNEL_QUARANTINE_MS > now;
}

/**
 * RFC 8656 §11.2: checks that `channel` is not bound to another peer and that `peer` is not bound
 * to another channel (including bindings in their quarantine after expiry).
 */
export function channelBindConflict(allocation: Allocation, channel: number, peer: TransportAddress, now: number): ChannelBindConflict | undefined {
  const existing = allocation.channelsByNumber.get(channel);
  if (existing && kept(existing, now) && (existing.peer.address !== peer.address || existing.peer.port !== peer.port)) {
    return 'channel-in-use';
  }
  const other = peerEntry(allocation, peer.address, peer.port);
  if (other && kept(other, now) && other.channel !== channel) return 'peer-bound-elsewhere';
  return undefined;
}

/** Binds or refreshes `channel` to `peer` (call channelBindConflict first). */
export function bindChannel(allocation: Allocation, channel: number, peer: TransportAddress, now: number, lifetimeMs = CHANNEL_LIFETIME_MS): void {
  const stale = allocation.channelsByNumber.get(channel);
  if (stale) unindexPeer(allocation, stale.peer);
  const binding: ChannelBinding = { channel, peer, expiresAt: now + lifetimeMs };
  allocation.channelsByNumber.set(channel, binding);
  indexPeer(allocation, binding);
}

/** The usable binding for a channel number (client → peer direction), if any. */
export function bindingForChannel(allocation: Allocation, channel: number, now: number): ChannelBinding | undefined {
  const b = allocation.channelsByNumber.get(channel);
  return b && b.expiresAt > now ? b : undefined;
}

/** The usable channel for a peer (peer → client direction), if any; no string is built per packet. */
export function channelForPeer(allocation: Allocation, ip: string, port: number, now: number): ChannelBinding | undefined {
  const b = peerEntry(allocation, ip, port);
  return b && b.expiresAt > now ? b : undefined;
}

/** Forgets bindings past their quarantine; called when a request touches the allocation. */
export function pruneChannels(allocation: Allocation, now: number): void {
  for (const [n, b] of allocation.channelsByNumber) {
    if (!kept(b, now)) {
      allocation.channelsByNumber.delete(n);
      unindexPeer(allocation, b.peer);
    }
  }
}
