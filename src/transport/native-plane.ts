import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { formatIp, type TransportAddress } from '../stun/ip.js';
import { toTransportAddress } from './address.js';
import type { ProjectedChannel, ProjectedPermission } from '../turn/projection.js';
import type { BindOptions, DataPlane, DatagramHandler, DatagramSocket, PlaneCounts } from './datagram.js';
import { PortSet } from './port-set.js';

/** Where `npm run build` puts the compiled addon (scripts/build-native.mjs), relative to this module. */
const ADDON_URL = new URL('../../native/dataplane.node', import.meta.url);

/** The addon's functions (native/dataplane.c documents each). */
interface Addon {
  create(onBatch: (batch: Buffer) => void): unknown;
  open(plane: unknown, kind: number, ip: string, port: number, bufferBytes: number): [number, number, number] | number;
  close(plane: unknown, index: number): void;
  send(plane: unknown, index: number, data: Buffer, ip: string, port: number): number;
  route(plane: unknown, relay: number, listener: number, ip: string, port: number): number;
  channels(plane: unknown, relay: number, numbers: number[], ips: string[], ports: number[], validUntil: number[]): number;
  permissions(plane: unknown, relay: number, ips: string[], validUntil: number[], refusedPorts: number[]): number;
  bindingTemplate(plane: unknown, listener: number, suffix: Buffer | null): number;
  stats(plane: unknown): number[];
  destroy(plane: unknown): void;
}

const KIND_LISTENER = 1;
const KIND_RELAY = 2;
/** Bytes before each datagram in a slow-path record (see to_slow_path in native/dataplane.c). */
const RECORD_HEADER = 32;
/** Refused ports the addon keeps per permission (DENIED_PORTS in native/dataplane.c). */
const REFUSED_PORTS = 2;

/** Why the native data plane cannot load here, or undefined when it can. */
export function nativePlaneUnavailable(): string | undefined {
  const path = fileURLToPath(ADDON_URL);
  if (!existsSync(path)) return `${path} is not built (npm run build compiles it when gcc and the Node headers are present)`;
  try {
    loadAddon();
    return undefined;
  } catch (err) {
    return `${path} does not load: ${(err as Error).message}`;
  }
}

let addon: Addon | undefined;
function loadAddon(): Addon {
  addon ??= createRequire(import.meta.url)(fileURLToPath(ADDON_URL)) as Addon;
  return addon;
}

/** A bind failure shaped like Node's own (`code` = EADDRINUSE and so on). */
function bindError(errno: number, host: string, port: number): Error {
  const name = Object.entries(constants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`;
  return Object.assign(new Error(`bind ${name} ${host}:${port}`), { code: name, errno: -errno });
}

class NativeSocket implements DatagramSocket {
  handler: DatagramHandler | undefined;
  closed = false;
  constructor(
    private readonly plane: NativePlane,
    readonly index: number,
    readonly generation: number,
    readonly local: TransportAddress,
    /** The host as bound (the held port's key; `local` drops an IPv6 zone). */
    readonly host: string,
  ) {}

  send(data: Buffer, port: number, address: string): void {
    if (!this.closed) this.plane.addon.send(this.plane.handle, this.index, data, address, port);
  }

  onMessage(handler: DatagramHandler): void {
    this.handler = handler;
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.plane.forget(this);
    }
    return Promise.resolve();
  }
}

class NativePlane implements DataPlane {
  readonly name = 'native' as const;
  readonly addon = loadAddon();
  readonly handle: unknown;
  private readonly sockets: Array<NativeSocket | undefined> = [];
  /** The port of every open socket, for `holds`. */
  private readonly held = new PortSet();
  private stopped = false;

  constructor() {
    this.handle = this.addon.create((batch) => this.deliver(batch));
  }

  bind(host: string, port: number, opts: BindOptions = {}): Promise<DatagramSocket> {
    if (this.stopped) return Promise.reject(new Error('the data plane is stopped'));
    const r = this.addon.open(this.handle, opts.relay ? KIND_RELAY : KIND_LISTENER, host, port, opts.bufferBytes ?? 0);
    if (typeof r === 'number') return Promise.reject(bindError(-r, host, port));
    const [index, boundPort, generation] = r;
    const socket = new NativeSocket(this, index, generation, toTransportAddress(host, boundPort), host);
    this.sockets[index] = socket;
    this.held.add(host, boundPort);
    return Promise.resolve(socket);
  }

  holds(host: string, port: number): boolean {
    return this.held.has(host, port);
  }

  forget(socket: NativeSocket): void {
    this.held.delete(socket.host, socket.local.port);
    if (this.sockets[socket.index] === socket) this.sockets[socket.index] = undefined;
    if (!this.stopped) this.addon.close(this.handle, socket.index);
  }

  project(relay: DatagramSocket, listener: DatagramSocket, client: TransportAddress, channels: ProjectedChannel[], permissions: ProjectedPermission[]): void {
    if (!(relay instanceof NativeSocket) || !(listener instanceof NativeSocket) || relay.closed || this.stopped) return;
    this.addon.route(this.handle, relay.index, listener.index, client.address, client.port);
    this.addon.channels(
      this.handle,
      relay.index,
      channels.map((c) => c.channel),
      channels.map((c) => c.peer.address),
      channels.map((c) => c.peer.port),
      channels.map((c) => c.validUntil),
    );
    // A permission with more refused ports than the addon holds stays with the engine.
    const kept = permissions.filter((p) => p.refusedPorts.length <= REFUSED_PORTS);
    this.addon.permissions(
      this.handle,
      relay.index,
      kept.map((p) => p.peerIp),
      kept.map((p) => p.validUntil),
      kept.flatMap((p) => Array.from({ length: REFUSED_PORTS }, (_, i) => p.refusedPorts[i] ?? 0)),
    );
  }

  answerBindings(listener: DatagramSocket, suffix: Buffer | undefined): void {
    if (!(listener instanceof NativeSocket) || listener.closed || this.stopped) return;
    this.addon.bindingTemplate(this.handle, listener.index, suffix ?? null);
  }

  counts(): PlaneCounts {
    if (this.stopped) return this.last;
    const s = this.addon.stats(this.handle);
    this.last = { toPeerPackets: s[0]!, toPeerBytes: s[1]!, toClientPackets: s[2]!, toClientBytes: s[3]!, bindings: s[8]! };
    return this.last;
  }
  private last: PlaneCounts = { toPeerPackets: 0, toPeerBytes: 0, toClientPackets: 0, toClientBytes: 0, bindings: 0 };

  close(): Promise<void> {
    if (!this.stopped) {
      this.counts();
      this.stopped = true;
      this.addon.destroy(this.handle);
    }
    return Promise.resolve();
  }

  /** Slow-path datagrams from the I/O thread: each goes to its socket's handler, in order. */
  private deliver(batch: Buffer): void {
    let off = 0;
    while (off + RECORD_HEADER <= batch.length) {
      const index = batch.readUInt32LE(off);
      const generation = batch.readUInt32LE(off + 4);
      const port = batch.readUInt16LE(off + 8);
      const v4 = batch[off + 10] === 4;
      const length = batch.readUInt32LE(off + 28);
      const ip = off + 12;
      const start = off + RECORD_HEADER;
      off = start + ((length + 3) & ~3);
      const socket = this.sockets[index];
      if (!socket || socket.generation !== generation || !socket.handler) continue;
      const address = v4 ? `${batch[ip]}.${batch[ip + 1]}.${batch[ip + 2]}.${batch[ip + 3]}` : formatIp(batch.subarray(ip, ip + 16));
      socket.handler(batch.subarray(start, start + length), address, port);
    }
  }
}

/** The native data plane (throws when the addon is not built or does not load). */
export function nativeDataPlane(): DataPlane {
  return new NativePlane();
}
