import type { HostPort } from '../config.js';
import type { DataPlane, DatagramSocket } from './datagram.js';

/** Receive and send buffer size asked of the kernel: bursts of small datagrams must not overflow it. */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

/** Binds a UDP listener to `hp` on `plane`, with large kernel buffers. */
export function bindUdp(plane: DataPlane, hp: HostPort): Promise<DatagramSocket> {
  return plane.bind(hp.host, hp.port, { bufferBytes: SOCKET_BUFFER_BYTES });
}
