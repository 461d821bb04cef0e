import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import { plainBindingAnswer } from '../stun/plain-binding.js';
import type { TransportAddress } from '../stun/ip.js';
import type { FastPathCounts } from '../services/metrics.js';
import type { ProjectedChannel, ProjectedPermission } from '../turn/projection.js';
import { toTransportAddress } from './address.js';
import { PortSet } from './port-set.js';

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
   * Tells the fast path which 5-tuple a relay serves, which channels it may relay as ChannelData
   * and which permissions it may use for Send and Data indications without asking (replacing what
   * it was told before); a no-op for the JavaScript plane.
   */
  project(
    relay: DatagramSocket,
    listener: DatagramSocket,
    client: TransportAddress,
    channels: ProjectedChannel[],
    permissions: ProjectedPermission[],
  ): void;
  /**
   * Lets the plane answer plain Binding requests (no attributes) on `listener` itself, before
   * its message handler, with XOR-MAPPED-ADDRESS followed by `suffix` (undefined: the handler
   * answers them all).
   */
  answerBindings(listener: DatagramSocket, suffix: Buffer | undefined): void;
  /** True while a socket of this plane is bound to `host`:`port` (relay port draws skip those). */
  holds(host: string, port: number): boolean;
  /** What the plane did by itself since start: Binding answers, and (native) relayed packets. */
  counts(): PlaneCounts;
  /** Stops the plane after its sockets are closed. */
  close(): Promise<void>;
}

/**
 * dgram resolves every destination through `lookup`, which for the IP literals a server sends to
 * defers each send by a tick; answering them synchronously keeps a send a plain call.
 */
const literalLookup: NonNullable<dgram.SocketOptions['lookup']> = (hostname, options, callback) => {
  const family = net.isIP(hostname);
  if (family !== 0) callback(null, hostname, family);
  else dns.lookup(hostname, options, callback);
};

/** Per-datagram send errors (ICMP unreachable and the like) surface as 'error'; UDP is best effort. */
function ignoreSendError(): void {}

/** A dgram socket's DgramSocket, so that one shared 'message' listener serves every socket. */
const owner = Symbol('turnkit.dgramSocket');
type OwnedSocket = dgram.Socket & { [owner]: DgramSocket };

// One function for all sockets rather than a closure per socket: a relay's closure and its context
// were ~100 bytes of heap for each allocation.
function onDatagram(this: OwnedSocket, data: Buffer, rinfo: dgram.RemoteInfo): void {
  const s = this[owner];
  if (s.bindingSuffix !== undefined && data.length === 20) {
    const answer = plainBindingAnswer(data, rinfo.address, rinfo.port, s.bindingSuffix);
    if (answer) {
      s.counts.bindings++;
      this.send(answer, rinfo.port, rinfo.address);
      return;
    }
  }
  s.handler?.(data, rinfo.address, rinfo.port);
}

class DgramSocket implements DatagramSocket {
  private closed = false;
  /** Set by `answerBindings`: plain Binding requests are answered here with this after XOR-MAPPED-ADDRESS. */
  bindingSuffix: Buffer | undefined;
  /** Where datagrams go (`onMessage`). */
  handler: DatagramHandler | undefined;
  // Plain fields rather than closures from the bind: a closure made there would keep the bind's
  // promise and handlers alive for the socket's lifetime (~600 bytes of heap per relay).
  constructor(
    private readonly socket: dgram.Socket,
    readonly local: TransportAddress,
    readonly counts: { bindings: number },
    private readonly held: PortSet,
    /** The host as bound (the held port's key; `local` drops an IPv6 zone). */
    private readonly host: string,
  ) {
    (socket as OwnedSocket)[owner] = this;
    socket.on('error', ignoreSendError);
  }

  send(data: Buffer, port: number, address: string): void {
    this.socket.send(data, port, address);
  }

  onMessage(handler: DatagramHandler): void {
    if (this.handler === undefined) this.socket.on('message', onDatagram);
    this.handler = handler;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.held.delete(this.host, this.local.port);
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}

/** The pure JavaScript data plane: one `dgram` socket per listener and relay. */
export function jsDataPlane(): DataPlane {
  const counts = { bindings: 0 };
  const held = new PortSet();
  return {
    name: 'js',
    bind(host, port, opts = {}) {
      const ipv6 = host.includes(':');
      // IPv6 sockets are IPv6-only so that IPv4 can bind the same port.
      const socket = dgram.createSocket({ type: ipv6 ? 'udp6' : 'udp4', ipv6Only: ipv6, lookup: literalLookup });
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
          // A relay binds the port it drew: getsockname would only repeat it (and costs ~1 % of an allocation).
          const boundPort = port !== 0 ? port : socket.address().port;
          held.add(host, boundPort);
          resolve(new DgramSocket(socket, toTransportAddress(host, boundPort), counts, held, host));
        });
      });
    },
    project() {},
    answerBindings(listener, suffix) {
      if (listener instanceof DgramSocket) listener.bindingSuffix = suffix;
    },
    holds: (host, port) => held.has(host, port),
    counts: () => ({ toPeerPackets: 0, toPeerBytes: 0, toClientPackets: 0, toClientBytes: 0, bindings: counts.bindings }),
    close: () => Promise.resolve(),
  };
}
