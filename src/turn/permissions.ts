import type { Allocation } from './allocations.js';

/** RFC 8656 §9: a permission lasts 300 seconds unless refreshed. */
export const PERMISSION_LIFETIME_MS = 300_000;

/** RFC 8656 §9.2: installs or refreshes the permission for a peer IP (ports do not matter). */
export function installPermission(allocation: Allocation, peerIp: string, now: number, lifetimeMs = PERMISSION_LIFETIME_MS): void {
  allocation.permissions.set(peerIp, now + lifetimeMs);
}

/** RFC 8656 §9: true while a permission for `peerIp` is installed and unexpired. */
export function hasPermission(allocation: Allocation, peerIp: string, now: number): boolean {
  const expiresAt = allocation.permissions.get(peerIp);
  if (expiresAt === undefined) return false;
  if (expiresAt > now) return true;
  allocation.permissions.delete(peerIp);
  return false;
}

/** Drops expired permissions; called when a request touches the allocation, so no timer is needed. */
export function prunePermissions(allocation: Allocation, now: number): void {
  for (const [ip, expiresAt] of allocation.permissions) if (expiresAt <= now) allocation.permissions.delete(ip);
}
