import { hostname } from 'node:os';
import { isWildcard, type ServerConfig } from '../config.js';
import type { ListenerInfo } from '../transport/runtime.js';

/** Brackets an IPv6 literal for use in a URI. */
function uriHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** True when turnUris can only name this machine's host name (nothing configured, wildcard listeners). */
export function uriHostIsGuess(config: ServerConfig, listeners: readonly ListenerInfo[]): boolean {
  return !config.publicHost && !config.externalIp && !listeners.some((l) => l.role === 'primary' && !isWildcard(l.address));
}

/**
 * The TURN URIs (RFC 7065) the credential service hands out: the public host name, else the
 * external IP, else the first specific listen address, else the host name; one URI per transport
 * that is actually listening (turns: only with TLS).
 */
export function turnUris(config: ServerConfig, listeners: readonly ListenerInfo[]): string[] {
  const primary = listeners.filter((l) => l.role === 'primary');
  const specific = primary.find((l) => !isWildcard(l.address))?.address;
  const host = uriHost(config.publicHost ?? config.externalIp?.public ?? specific ?? hostname());
  const port = (t: ListenerInfo['transport']): number | undefined => primary.find((l) => l.transport === t)?.port;
  const uris: string[] = [];
  const udp = port('udp');
  const tcp = port('tcp');
  const tls = port('tls');
  if (udp) uris.push(`turn:${host}:${udp}?transport=udp`);
  if (tcp) uris.push(`turn:${host}:${tcp}?transport=tcp`);
  if (tls) uris.push(`turns:${host}:${tls}?transport=tcp`);
  return uris;
}
