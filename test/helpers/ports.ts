// Ports for tests that cannot bind port 0 themselves (a server under test
// told its port on the command line, RFC 5780 port / port+1 pairs).
// A port found free can be taken before the test binds it; the kernel's
// random ephemeral choice makes that rare, and callers should retry on
// EADDRINUSE rather than trust these as reservations.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server } from 'node:net';

/** Options of {@link freePort}. */
export interface FreePortOptions {
  /** Loopback address to check (default 127.0.0.1; ::1 works too). */
  host?: string;
  /** Check UDP (default true). */
  udp?: boolean;
  /** Check TCP (default true). */
  tcp?: boolean;
  /** Candidates to try before giving up (default 50). */
  attempts?: number;
}

/** Tries to bind UDP on host:port; resolves with the open socket, or null if taken. */
function bindUdp(host: string, port: number): Promise<UdpSocket | null> {
  return new Promise((resolve) => {
    const s = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', ipv6Only: isIPv6(host) });
    s.once('error', () => {
      s.close();
      resolve(null);
    });
    s.bind({ address: host, port, exclusive: true }, () => resolve(s));
  });
}

/** Tries to listen on TCP host:port; resolves with the open server, or null if taken. */
function bindTcp(host: string, port: number): Promise<Server | null> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(null));
    s.listen({ host, port, exclusive: true }, () => resolve(s));
  });
}

/** Closes whatever probe sockets were opened. */
async function closeAll(socks: Array<UdpSocket | Server | null>): Promise<void> {
  await Promise.all(
    socks.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (!s) return resolve();
          s.close(() => resolve());
        }),
    ),
  );
}

/** Whether every (host, port, protocol) combination can be bound right now. */
async function allFree(hosts: readonly string[], ports: readonly number[], udp: boolean, tcp: boolean): Promise<boolean> {
  // keep every probe open until all are checked, so N and N+1 are free together
  const opened: Array<UdpSocket | Server | null> = [];
  try {
    for (const host of hosts) {
      for (const port of ports) {
        if (port < 1 || port > 65535) return false;
        if (udp) {
          const s = await bindUdp(host, port);
          opened.push(s);
          if (!s) return false;
        }
        if (tcp) {
          const s = await bindTcp(host, port);
          opened.push(s);
          if (!s) return false;
        }
      }
    }
    return true;
  } finally {
    await closeAll(opened);
  }
}

/** A candidate port chosen by the kernel (UDP bind to port 0), so parallel tests rarely pick the same one. */
async function kernelPort(host: string): Promise<number> {
  const s = await bindUdp(host, 0);
  if (!s) throw new Error(`cannot bind UDP on ${host}`);
  const { port } = s.address();
  await closeAll([s]);
  return port;
}

/** A port free for both UDP and TCP on one loopback address (servers that speak both on one port, like STUN). */
export async function freePort(opts: FreePortOptions = {}): Promise<number> {
  const { host = '127.0.0.1', udp = true, tcp = true, attempts = 50 } = opts;
  for (let i = 0; i < attempts; i++) {
    const port = await kernelPort(host);
    if (await allFree([host], [port], udp, tcp)) return port;
  }
  throw new Error(`no port free for ${[udp && 'UDP', tcp && 'TCP'].filter(Boolean).join('+')} on ${host} after ${attempts} tries`);
}

/** Options of {@link freePortPair}. */
export interface FreePortPairOptions {
  /** Addresses on which both ports must be free (default 127.0.0.1 and 127.0.0.2: RFC 5780 needs two IPs). */
  hosts?: readonly string[];
  /** Candidates to try before giving up (default 50). */
  attempts?: number;
}

/**
 * A port N such that N and N+1 are free for UDP and TCP on every host
 * (default 127.0.0.1 and 127.0.0.2), for RFC 5780 servers that listen on
 * primary/alternate address × primary/alternate port.
 */
export async function freePortPair(opts: FreePortPairOptions = {}): Promise<number> {
  const { hosts = ['127.0.0.1', '127.0.0.2'], attempts = 50 } = opts;
  const first = hosts[0];
  if (first === undefined) throw new Error('freePortPair: no hosts');
  for (let i = 0; i < attempts; i++) {
    const port = await kernelPort(first);
    if (port >= 65535) continue;
    if (await allFree(hosts, [port, port + 1], true, true)) return port;
  }
  throw new Error(`no free port pair on ${hosts.join(', ')} after ${attempts} tries`);
}
