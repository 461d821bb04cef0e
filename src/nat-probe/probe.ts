/**
 * nat-probe's network side: UDP sockets, Binding requests with RFC 8489 retransmission, and the
 * RFC 5780 tests run in parallel on separate sockets. It only gathers {@link Observations};
 * `classify.ts` decides what they mean.
 *
 * Sockets: M (mapping) talks to the server's four addresses; F (filtering) is fresh and only ever
 * sends to the primary address, so an earlier mapping test cannot open its filter; H (hairpin)
 * sends to M's mapped address. Every request carries turnkit's ECHO attribute with the sending
 * socket's own address, for the ALG check. No FINGERPRINT is sent: an ALG that rewrites the
 * payload would break it, the server would drop the request, and the probe would see nothing.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { AttributeType, MAGIC_COOKIE, MessageClass, Method } from '../stun/constants.js';
import { decodeAddress, decodeXorAddress, encodeAddress } from '../stun/attributes/address.js';
import { decodeErrorCode } from '../stun/attributes/error-code.js';
import { encodeChangeRequest, encodeResponsePort } from '../stun/attributes/nat-behavior.js';
import { decodeMessage, encodeMessage, getAttribute, type StunAttribute, type StunMessage } from '../stun/message.js';
import { ECHO_ATTRIBUTE } from '../stun/server.js';
import type { TransportAddress } from '../stun/ip.js';
import { toTransportAddress } from '../transport/address.js';
import { TurnkitError } from '../errors.js';
import {
  nextLifetimeRound,
  updateLifetimeBounds,
  type BindingAnswer,
  type Exchange,
  type FilteringObservations,
  type HairpinObservations,
  type LifetimeBounds,
  type MappingObservations,
  type Observations,
} from './classify.js';

/** RFC 8489 §6.2.1 retransmission, shortened to fit a few-second budget. */
export const Timing = {
  /** RTO of the very first request, before any round trip is measured (RFC 8489 suggests 500 ms). */
  firstRtoMs: 250,
  /** RTO floor once the round-trip time is known. */
  minRtoMs: 100,
  /** RTO ceiling: doubling stops here, so that a 1.5 s window still holds 6 transmissions. */
  maxRtoMs: 300,
  /** How long a test whose answer may never come (filtering, hairpin) keeps asking. */
  negativeWindowMs: 1500,
} as const;

/** Formats an address as `ip:port` / `[ipv6]:port`. */
export function formatAddress(a: TransportAddress): string {
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** A request's retransmission schedule. */
interface Schedule {
  /** Absolute time (Date.now()) after which no more requests go out and the exchange ends. */
  deadline: number;
  rtoMs: number;
  maxRtoMs: number;
}

type ResponseHandler = (m: StunMessage, from: TransportAddress) => void;

/** A UDP socket that sends STUN requests and routes answers by transaction ID. */
export class ProbeSocket {
  readonly socket: dgram.Socket;
  local!: TransportAddress;
  /** Hex of this socket's ECHO value: its own address, as plain bytes. */
  echoHex = '';
  private readonly pending = new Map<string, ResponseHandler>();
  /** Requests that arrive at this socket (hairpin test), by transaction ID. */
  private readonly requestWatch = new Map<string, (from: TransportAddress) => void>();
  private closed = false;

  private constructor(family: 'udp4' | 'udp6') {
    this.socket = dgram.createSocket(family);
    this.socket.on('message', (data, rinfo) => this.onMessage(data, toTransportAddress(rinfo.address, rinfo.port)));
    this.socket.on('error', () => undefined); // ICMP errors on a connected path: treat as loss
  }

  /**
   * Opens a socket bound to `localAddress` (port 0). A bind failure (e.g. EADDRNOTAVAIL: the
   * address is not on this host) throws ERR_LISTEN_FAILED with the system error as `cause`.
   */
  static async open(localAddress: string): Promise<ProbeSocket> {
    const s = new ProbeSocket(localAddress.includes(':') ? 'udp6' : 'udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        s.socket.once('error', reject);
        s.socket.bind({ address: localAddress, port: 0 }, () => {
          s.socket.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      s.close();
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new TurnkitError('ERR_LISTEN_FAILED', `cannot bind a UDP socket to ${localAddress}: ${code}`, { cause: err });
    }
    const a = s.socket.address();
    s.local = toTransportAddress(a.address, a.port);
    s.echoHex = encodeAddress(s.local).toString('hex');
    return s;
  }

  private onMessage(data: Buffer, from: TransportAddress): void {
    const r = decodeMessage(data);
    if (!r.ok) return;
    const key = r.message.transactionId.toString('hex');
    if (r.message.cls === MessageClass.Request) {
      this.requestWatch.get(key)?.(from);
      return;
    }
    this.pending.get(key)?.(r.message, from);
  }

  /** Calls `fn` with the source of the first request with this transaction ID that reaches us. */
  watchRequest(transactionId: Buffer, fn: (from: TransportAddress) => void): () => void {
    const key = transactionId.toString('hex');
    this.requestWatch.set(key, fn);
    return () => this.requestWatch.delete(key);
  }

  /** Sends raw bytes (errors such as EHOSTUNREACH are loss to us). */
  send(data: Buffer, to: TransportAddress): void {
    if (this.closed) return;
    try {
      this.socket.send(data, to.port, to.address, () => undefined);
    } catch {
      // socket closing
    }
  }

  /**
   * One Binding transaction (RFC 8489 §6.2.1): the same request is retransmitted at RTO, 2·RTO, …
   * (capped) until an answer from `expectFrom` (default: `to`) arrives or the deadline passes. The
   * answer is looked for on `receiver` (default: this socket; RESPONSE-PORT sends it elsewhere).
   */
  transact(
    to: TransportAddress,
    attributes: StunAttribute[],
    schedule: Schedule,
    opts: { expectFrom?: TransportAddress; receiver?: ProbeSocket } = {},
  ): Promise<Exchange> {
    const receiver = opts.receiver ?? this;
    const expectFrom = opts.expectFrom ?? to;
    const transactionId = randomBytes(12);
    const key = transactionId.toString('hex');
    const request = encodeMessage({
      method: Method.Binding,
      cls: MessageClass.Request,
      transactionId,
      cookie: MAGIC_COOKIE,
      attributes: [...attributes, { type: ECHO_ATTRIBUTE, value: Buffer.from(this.echoHex, 'hex') }],
    });
    return new Promise<Exchange>((resolve) => {
      const exchange: Exchange = { sent: 0 };
      let rto = schedule.rtoMs;
      let firstSentAt = 0;
      let retransmit: NodeJS.Timeout | undefined;
      const finish = (): void => {
        clearTimeout(retransmit);
        clearTimeout(end);
        receiver.pending.delete(key);
        resolve(exchange);
      };
      const send = (): void => {
        const now = Date.now();
        if (now >= schedule.deadline) return;
        if (exchange.sent === 0) firstSentAt = now;
        exchange.sent++;
        this.send(request, to);
        retransmit = setTimeout(send, Math.min(rto, Math.max(0, schedule.deadline - now)));
        rto = Math.min(rto * 2, schedule.maxRtoMs);
      };
      const end = setTimeout(finish, Math.max(0, schedule.deadline - Date.now()));
      receiver.pending.set(key, (m, from) => {
        if (m.cls === MessageClass.ErrorResponse) {
          const ec = getAttribute(m, AttributeType.ErrorCode);
          exchange.errorCode = (ec && decodeErrorCode(ec.value)?.code) ?? 0;
          finish();
          return;
        }
        if (m.cls !== MessageClass.SuccessResponse) return;
        if (from.address !== expectFrom.address || from.port !== expectFrom.port) {
          exchange.wrongSource = from;
          return;
        }
        exchange.answer = parseAnswer(m, from);
        if (exchange.sent === 1) exchange.rttMs = Date.now() - firstSentAt;
        finish();
      });
      send();
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}

/** Reads the attributes nat-probe uses from a Binding success response. */
export function parseAnswer(m: StunMessage, source: TransportAddress): BindingAnswer {
  const a: BindingAnswer = { source };
  const xor = getAttribute(m, AttributeType.XorMappedAddress);
  const plain = getAttribute(m, AttributeType.MappedAddress);
  const other = getAttribute(m, AttributeType.OtherAddress) ?? getAttribute(m, AttributeType.ChangedAddress);
  const origin = getAttribute(m, AttributeType.ResponseOrigin) ?? getAttribute(m, AttributeType.SourceAddress);
  const echo = getAttribute(m, ECHO_ATTRIBUTE);
  const x = xor && decodeXorAddress(xor.value, m.transactionId);
  if (x) a.xorMapped = x;
  const p = plain && decodeAddress(plain.value);
  if (p) a.plainMapped = p;
  const o = other && decodeAddress(other.value);
  if (o) a.otherAddress = o;
  const r = origin && decodeAddress(origin.value);
  if (r) a.responseOrigin = r;
  if (echo) a.echo = echo.value.toString('hex');
  return a;
}

/** Addresses of this host's interfaces. */
export function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .map((i) => i?.address)
    .filter((x): x is string => typeof x === 'string');
}

/**
 * The local IP the kernel would send from toward `server` (a connected UDP socket sends nothing).
 * The probe binds its sockets to it, so that the ECHO attribute carries the real private address.
 */
export async function routeSourceAddress(server: TransportAddress): Promise<string> {
  const s = dgram.createSocket(server.family === 'IPv6' ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.connect(server.port, server.address, () => resolve());
    });
    return toTransportAddress(s.address().address, 0).address;
  } finally {
    s.close();
  }
}

/** What a probe run needs. */
export interface ProbeOptions {
  server: TransportAddress;
  /** The whole run's budget (ms). */
  timeoutMs: number;
  localAddress?: string;
}

/** What a probe run gathered. */
export interface ProbeResult {
  observations: Observations;
  /** The server's OTHER-ADDRESS, when it has one. */
  otherAddress?: TransportAddress;
  durationMs: number;
}

/** Runs every test and returns what was seen; never throws on network trouble, only ERR_LISTEN_FAILED for a local address it cannot bind. */
export async function runProbe(opts: ProbeOptions): Promise<ProbeResult> {
  const start = Date.now();
  const deadline = start + opts.timeoutMs;
  const primary = opts.server;
  const localIp = opts.localAddress ?? (await routeSourceAddress(primary).catch(() => (primary.family === 'IPv6' ? '::' : '0.0.0.0')));
  const sockets: ProbeSocket[] = [];
  const open = async (): Promise<ProbeSocket> => {
    const s = await ProbeSocket.open(localIp);
    sockets.push(s);
    return s;
  };
  try {
    const m = await open();
    const echoSent: Record<string, string> = { [formatAddress(m.local)]: m.echoHex };
    // Test I: also tells whether the server speaks RFC 5780 (OTHER-ADDRESS).
    const first = await m.transact(primary, [], { deadline, rtoMs: Timing.firstRtoMs, maxRtoMs: 1000 });
    const mapping: MappingObservations = { local: m.local, primary: first };
    const observations: Observations = { interfaceAddresses: interfaceAddresses(), mapping, echoSent };
    const x1 = first.answer?.xorMapped ?? first.answer?.plainMapped;
    if (!first.answer || !x1) return { observations, durationMs: Date.now() - start };

    const rto = Math.max(Timing.minRtoMs, Math.min(Timing.maxRtoMs, 3 * (first.rttMs ?? 100)));
    const phaseEnd = Math.min(deadline, Date.now() + Math.max(Timing.negativeWindowMs, 6 * rto));
    const schedule: Schedule = { deadline: phaseEnd, rtoMs: rto, maxRtoMs: Timing.maxRtoMs };
    const other = first.answer.otherAddress;
    const result: ProbeResult = { observations, durationMs: 0 };
    if (other) result.otherAddress = other;

    const tasks: Promise<unknown>[] = [];
    if (other) {
      const altIp = { ...other, port: primary.port };
      const altPort = { ...primary, port: other.port };
      // Mapping tests (RFC 5780 §4.3) on M.
      tasks.push(
        m.transact(altIp, [], schedule).then((e) => (mapping.altIp = e)),
        m.transact(other, [], schedule).then((e) => (mapping.altBoth = e)),
        m.transact(altPort, [], schedule).then((e) => (mapping.altPort = e)),
      );
      // Filtering tests (RFC 5780 §4.4) on a fresh socket F that only sends to the primary address.
      tasks.push(
        open().then(async (f) => {
          echoSent[formatAddress(f.local)] = f.echoHex;
          const [base, changeBoth, changePort] = await Promise.all([
            f.transact(primary, [], schedule),
            f.transact(primary, [{ type: AttributeType.ChangeRequest, value: encodeChangeRequest({ changeIp: true, changePort: true }) }], schedule, { expectFrom: other }),
            f.transact(primary, [{ type: AttributeType.ChangeRequest, value: encodeChangeRequest({ changeIp: false, changePort: true }) }], schedule, { expectFrom: altPort }),
          ]);
          const filtering: FilteringObservations = { local: f.local, base, changeBoth, changePort };
          observations.filtering = filtering;
        }),
      );
    }
    // Hairpin (RFC 4787 §6): H sends to M's mapped address; H's own mapping is learned in parallel.
    tasks.push(
      open().then(async (h) => {
        echoSent[formatAddress(h.local)] = h.echoHex;
        const [own, hp] = await Promise.all([h.transact(primary, [], schedule), hairpinTest(h, m, x1, schedule)]);
        const hx = own.answer?.xorMapped ?? own.answer?.plainMapped;
        hp.senderLocal = h.local;
        if (hx) {
          hp.senderMapped = hx;
          observations.extraMappings = [...(observations.extraMappings ?? []), { local: h.local, mapped: hx }];
        }
        observations.hairpin = hp;
      }),
    );
    await Promise.all(tasks);
    result.durationMs = Date.now() - start;
    return result;
  } finally {
    for (const s of sockets) s.close();
  }
}

/** Sends Binding requests from `sender` to `target` (the receiver's mapped address) until `receiver` sees one. */
function hairpinTest(sender: ProbeSocket, receiver: ProbeSocket, target: TransportAddress, schedule: Schedule): Promise<HairpinObservations> {
  const transactionId = randomBytes(12);
  const request = encodeMessage({ method: Method.Binding, cls: MessageClass.Request, transactionId, cookie: MAGIC_COOKIE, attributes: [] });
  return new Promise((resolve) => {
    const obs: HairpinObservations = { sent: 0, received: false };
    let rto = schedule.rtoMs;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      clearTimeout(end);
      unwatch();
      resolve(obs);
    };
    const unwatch = receiver.watchRequest(transactionId, (from) => {
      obs.received = true;
      obs.source = from;
      finish();
    });
    const send = (): void => {
      const now = Date.now();
      if (now >= schedule.deadline) return;
      obs.sent++;
      sender.send(request, target);
      timer = setTimeout(send, Math.min(rto, Math.max(0, schedule.deadline - now)));
      rto = Math.min(rto * 2, schedule.maxRtoMs);
    };
    const end = setTimeout(finish, Math.max(0, schedule.deadline - Date.now()));
    send();
  });
}

// ------------------------------------------------------------------------------------------------
// Binding lifetime (RFC 5780 §4.6).

/** Result of the lifetime search. */
export interface LifetimeResult {
  bounds: LifetimeBounds;
  maxSeconds: number;
  /** True when the search narrowed the interval to its resolution (or reached the maximum). */
  complete: boolean;
  /** Rounds run. */
  rounds: number;
}

/**
 * How long an idle binding survives. Each candidate idle time T gets a fresh socket X that makes
 * a binding with one Binding request, stays silent for T, and then another socket Y asks the
 * server (RESPONSE-PORT = X's external port) to answer toward X's binding from the address X
 * contacted. The answer reaches X only if the binding is still there. Candidates of one round run
 * in parallel; the rounds narrow the interval (doubling, then k-section), so the total time stays
 * below about twice `maxSeconds`.
 */
export async function probeLifetime(
  opts: ProbeOptions & { maxSeconds: number; progress?: (line: string) => void; maxRounds?: number },
): Promise<LifetimeResult> {
  const primary = opts.server;
  const localIp = opts.localAddress ?? (await routeSourceAddress(primary));
  let bounds: LifetimeBounds = { aliveAt: 0 };
  const maxRounds = opts.maxRounds ?? 4;
  let rounds = 0;
  for (; rounds < maxRounds; rounds++) {
    const plan = nextLifetimeRound(bounds, opts.maxSeconds);
    if (plan.length === 0) break;
    opts.progress?.(`lifetime: round ${rounds + 1}: testing idle times ${plan.join(', ')} s (up to ${Math.max(...plan)} s)`);
    const results = new Map<number, boolean | undefined>();
    await Promise.all(
      plan.map(async (t) => {
        const alive = await lifetimeTrial(primary, localIp, t);
        results.set(t, alive);
        opts.progress?.(`lifetime: idle ${t} s: ${alive === undefined ? 'no verdict' : alive ? 'binding alive' : 'binding gone'}`);
      }),
    );
    bounds = updateLifetimeBounds(bounds, results);
  }
  const complete = nextLifetimeRound(bounds, opts.maxSeconds).length === 0;
  return { bounds, maxSeconds: opts.maxSeconds, complete, rounds };
}

/** One lifetime trial: true alive, false gone, undefined when the binding could not be made. */
async function lifetimeTrial(primary: TransportAddress, localIp: string, idleSeconds: number): Promise<boolean | undefined> {
  const x = await ProbeSocket.open(localIp);
  const y = await ProbeSocket.open(localIp);
  try {
    const made = await x.transact(primary, [], { deadline: Date.now() + 3000, rtoMs: 200, maxRtoMs: 800 });
    const xm = made.answer?.xorMapped ?? made.answer?.plainMapped;
    if (!xm) return undefined;
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const check = await y.transact(
      primary,
      [{ type: AttributeType.ResponsePort, value: encodeResponsePort(xm.port) }],
      { deadline: Date.now() + Timing.negativeWindowMs, rtoMs: 150, maxRtoMs: Timing.maxRtoMs },
      { receiver: x },
    );
    if (check.answer) return true;
    if (check.errorCode !== undefined) return undefined;
    return check.sent >= 4 ? false : undefined;
  } finally {
    x.close();
    y.close();
  }
}
