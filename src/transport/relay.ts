import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import type { TransportAddress } from '../stun/ip.js';
import { toTransportAddress } from './address.js';

/** The inclusive range relay ports are drawn from (`--relay-ports`). */
export interface PortRange {
  min: number;
  max: number;
}

/** How many random ports to try before giving up (508) when the range is nearly full. */
const BIND_ATTEMPTS = 32;

/** A bound relay socket and its address. */
export interface RelaySocket {
  socket: dgram.Socket;
  address: TransportAddress;
}

function bindOnce(ip: string, port: number): Promise<RelaySocket | undefined> {
  const socket = dgram.createSocket({ type: ip.includes(':') ? 'udp6' : 'udp4', ipv6Only: ip.includes(':') });
  return new Promise((resolve) => {
    socket.once('error', () => {
      socket.close();
      resolve(undefined);
    });
    socket.bind({ address: ip, port, exclusive: true }, () => {
      socket.removeAllListeners('error');
      const a = socket.address();
      resolve({ socket, address: toTransportAddress(a.address, a.port) });
    });
  });
}

/**
 * Opens a relay socket on `ip` at a port drawn with crypto randomness from `range` (predictable relay
 * ports help attackers; coturn CVE-2025-69217). With `even`, only even ports; with `reserveNext`,
 * the next-higher port is bound too and returned as `reserved` (RFC 8656 §14.6 EVEN-PORT R bit).
 */
export async function openRelay(
  ip: string,
  range: PortRange,
  opts: { even?: boolean; reserveNext?: boolean } = {},
): Promise<{ relay: RelaySocket; reserved?: RelaySocket } | undefined> {
  for (let i = 0; i < BIND_ATTEMPTS; i++) {
    let port = randomInt(range.min, range.max + 1);
    if (opts.even && port % 2 === 1) port = port === range.max ? port - 1 : port + 1;
    if (opts.even && (port < range.min || port % 2 === 1)) continue;
    if (opts.reserveNext && port + 1 > range.max) continue;
    const relay = await bindOnce(ip, port);
    if (!relay) continue;
    if (!opts.reserveNext) return { relay };
    const reserved = await bindOnce(ip, port + 1);
    if (reserved) return { relay, reserved };
    relay.socket.close();
  }
  return undefined;
}
