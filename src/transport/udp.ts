import dgram from 'node:dgram';
import type { HostPort } from '../config.js';
import type { TransportAddress } from '../stun/ip.js';
import { toTransportAddress } from './address.js';

/** A bound UDP socket and the address it is bound to. */
export interface UdpListener {
  socket: dgram.Socket;
  local: TransportAddress;
}

/** Receive and send buffer size asked of the kernel: bursts of small datagrams must not overflow it. */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

/** Binds a UDP socket to `hp`; IPv6 sockets are IPv6-only so that IPv4 can bind the same port. */
export function bindUdp(hp: HostPort): Promise<UdpListener> {
  const ipv6 = hp.host.includes(':');
  const socket = dgram.createSocket({ type: ipv6 ? 'udp6' : 'udp4', ipv6Only: ipv6 });
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind({ address: hp.host, port: hp.port, exclusive: true }, () => {
      socket.off('error', onError);
      try {
        socket.setRecvBufferSize(SOCKET_BUFFER_BYTES);
        socket.setSendBufferSize(SOCKET_BUFFER_BYTES);
      } catch {
        // The kernel caps buffer sizes (net.core.rmem_max); the default still works, only burstier loss.
      }
      const a = socket.address();
      resolve({ socket, local: toTransportAddress(a.address, a.port) });
    });
  });
}

/** Closes a UDP socket, resolving once it is closed (idempotent). */
export function closeUdp(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve();
    }
  });
}
