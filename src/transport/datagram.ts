import dgram from 'node:dgram';
import type { TransportAddress } from '../stun/ip.js';
import type { FastPathCounts } from '../services/metrics.js';
import type { ProjectedChannel } from '../turn/projection.js';
import { toTransportAddress } from './address.js';

/** Receives one datagram: its bytes and the sender's IP and port. */
export type DatagramHandler = (data: Buffer, address: string, port: number) => void;

/** One bound UDP socket of a data plane: a listener or a relay. */
export interface DatagramSocket {
  /** The address it is bound to. */
  readonly local: TransportAddress;
  /** Sends one datagram; failures are the kernel's to report and are not retried (UDP). */
  send(data: Buffer, port: number, address: string): void;
  /** Sets the one receiver of its datagrams. */
  onMessage(handler: DatagramHandler): void;
  /** Closes it; resolves once closed (idempotent). */
  close(): Promise<void>;
}

/** Options of a bind: kernel buffer sizes; `relay` marks a relay socket (one per allocation). */
export interface BindOptions {
  bufferBytes?: number;
  relay?: boolean;
}

/** What the data plane did itself (the native fast path): relayed packets and bytes, Binding answers. */
export type PlaneCounts = FastPathCounts;

/**
 * Where UDP datagrams are moved: the pure JavaScript `dgram` plane, or the native one (a batched
 * recvmmsg/sendmmsg I/O thread that relays ChannelData of projected channels itself). Everything
 * above this interface is the same for both.
 */
export interface DataPlane {
  readonly name: 'js' | 'native';
  /** Binds a UDP socket; rejects with the bind error (EADDRINUSE and the like, `code` set). */
  bind(host: string, port: number, opts?: BindOptions): Promise<DatagramSocket>;
  /**
   * Tells the fast path which 5-tuple a relay serves and which channels it may relay without
   * asking (replacing what it was told before); a no-op for the JavaScript plane.
   */
  project(relay: DatagramSocket, listener: DatagramSocket, client: TransportAddress, channels: ProjectedChannel[]): void;
  /**
   * Lets the fast path answer plain Binding requests (no attributes) on `listener` itself, with
   * XOR-MAPPED-ADDRESS followed by `suffix` (undefined: JavaScript answers them all); a no-op for
   * the JavaScript plane.
   */
  answerBindings(listener: DatagramSocket, suffix: Buffer | undefined): void;
  /** What the fast path did by itself since start (zero for the JavaScript plane). */
  counts(): PlaneCounts;
  /** Stops the plane after its sockets are closed. */
  close(): Promise<void>;
}

class DgramSocket implements DatagramSocket {
  private closed = false;
  constructor(
    private readonly socket: dgram.Socket,
    readonly local: TransportAddress,
  ) {
    socket.on('error', () => {
      // Per-datagram send errors (ICMP unreachable and the like) surface here; UDP is best effort.
    });
  }

  send(data: Buffer, port: number, address: string): void {
    this.socket.send(data, port, address);
  }

  onMessage(handler: DatagramHandler): void {
    this.socket.on('message', (data, rinfo) => handler(data, rinfo.address, rinfo.port));
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}

const ZERO: PlaneCounts = Object.freeze({ toPeerPackets: 0, toPeerBytes: 0, toClientPackets: 0, toClientBytes: 0, bindings: 0 });

/** The pure JavaScript data plane: one `dgram` socket per listener and relay. */
export function jsDataPlane(): DataPlane {
  return {
    name: 'js',
    bind(host, port, opts = {}) {
      const ipv6 = host.includes(':');
      // IPv6 sockets are IPv6-only so that IPv4 can bind the same port.
      const socket = dgram.createSocket({ type: ipv6 ? 'udp6' : 'udp4', ipv6Only: ipv6 });
      return new Promise((resolve, reject) => {
        const onError = (err: Error): void => {
          socket.close();
          reject(err);
        };
        socket.once('error', onError);
        socket.bind({ address: host, port, exclusive: true }, () => {
          socket.off('error', onError);
          if (opts.bufferBytes) {
            try {
              socket.setRecvBufferSize(opts.bufferBytes);
              socket.setSendBufferSize(opts.bufferBytes);
            } catch {
              // The kernel caps buffer sizes (net.core.rmem_max); the default still works, only burstier loss.
            }
          }
          const a = socket.address();
          resolve(new DgramSocket(socket, toTransportAddress(a.address, a.port)));
        });
      });
    },
    project() {},
    answerBindings() {},
    counts: () => ZERO,
    close: () => Promise.resolve(),
  };
}
