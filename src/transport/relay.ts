import { randomInt } from 'node:crypto';
import type { TransportAddress } from '../stun/ip.js';
import type { DataPlane, DatagramSocket } from './datagram.js';

/** The inclusive range relay ports are drawn from (`--relay-ports`). */
export interface PortRange {
  min: number;
  max: number;
}

/** How many random ports to try to bind before giving up (508) when the range is nearly full. */
const BIND_ATTEMPTS = 32;
/**
 * How many random draws at most: a draw of a port the plane already holds costs no bind (and no
 * failed bind, whose error object alone costs more than an allocation's HMACs), so it is not an attempt.
 */
const MAX_DRAWS = 1024;

/** A bound relay socket and its address. */
export interface RelaySocket {
  socket: DatagramSocket;
  address: TransportAddress;
}

function bindOnce(plane: DataPlane, ip: string, port: number): Promise<RelaySocket | undefined> {
  return plane.bind(ip, port, { relay: true }).then(
    (socket) => ({ socket, address: socket.local }),
    () => undefined,
  );
}

/**
 * Opens a relay socket on `ip` at a port drawn with crypto randomness from `range` (predictable relay
 * ports help attackers; coturn CVE-2025-69217). With `even`, only even ports; with `reserveNext`,
 * the next-higher port is bound too and returned as `reserved` (RFC 8656 §14.6 EVEN-PORT R bit).
 */
export async function openRelay(
  plane: DataPlane,
  ip: string,
  range: PortRange,
  opts: { even?: boolean; reserveNext?: boolean } = {},
): Promise<{ relay: RelaySocket; reserved?: RelaySocket } | undefined> {
  for (let draws = 0, binds = 0; binds < BIND_ATTEMPTS && draws < MAX_DRAWS; draws++) {
    // randomInt answers a heap number; stored in a TransportAddress it would turn every object of
    // that shape's port field into a boxed double (16 bytes more each, three per allocation).
    let port = randomInt(range.min, range.max + 1) | 0;
    if (opts.even && port % 2 === 1) port = port === range.max ? port - 1 : port + 1;
    if (opts.even && (port < range.min || port % 2 === 1)) continue;
    if (opts.reserveNext && port + 1 > range.max) continue;
    if (plane.holds(ip, port) || (opts.reserveNext && plane.holds(ip, port + 1))) continue;
    binds++;
    const relay = await bindOnce(plane, ip, port);
    if (!relay) continue;
    if (!opts.reserveNext) return { relay };
    const reserved = await bindOnce(plane, ip, port + 1);
    if (reserved) return { relay, reserved };
    await relay.socket.close();
  }
  return undefined;
}
