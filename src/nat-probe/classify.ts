/**
 * nat-probe's verdicts: pure functions from what the probe observed to what it means.
 *
 * No sockets, no clock: `probe.ts` gathers {@link Observations}, these functions decide. Every
 * verdict that rests on a *missing* answer (filtering, hairpin, lifetime) is only given when enough
 * requests went unanswered for loss to be an unlikely explanation; otherwise the verdict is
 * `unknown` with the reason. A received answer is always trusted (a filter cannot invent one).
 */
import { decodeAddress } from '../stun/attributes/address.js';
import type { TransportAddress } from '../stun/ip.js';

// ------------------------------------------------------------------------------------------------
// Verdict vocabularies (closed sets; the JSON report uses these strings).

/** RFC 4787 §4.1 / RFC 5780 §4.3 mapping behaviour; `none` when there is no NAT. */
export const Mapping = {
  None: 'none',
  EndpointIndependent: 'endpoint-independent',
  AddressDependent: 'address-dependent',
  AddressAndPortDependent: 'address-and-port-dependent',
  Unknown: 'unknown',
} as const;
export type Mapping = (typeof Mapping)[keyof typeof Mapping];

/** RFC 4787 §5 / RFC 5780 §4.4 filtering behaviour (a firewall without NAT filters too). */
export const Filtering = {
  EndpointIndependent: 'endpoint-independent',
  AddressDependent: 'address-dependent',
  AddressAndPortDependent: 'address-and-port-dependent',
  Unknown: 'unknown',
} as const;
export type Filtering = (typeof Filtering)[keyof typeof Filtering];

/** The classic RFC 3489 §10.1 labels. */
export const Rfc3489Type = {
  OpenInternet: 'open-internet',
  FullCone: 'full-cone',
  RestrictedCone: 'restricted-cone',
  PortRestrictedCone: 'port-restricted-cone',
  Symmetric: 'symmetric',
  SymmetricUdpFirewall: 'symmetric-udp-firewall',
  UdpBlocked: 'udp-blocked',
  Unknown: 'unknown',
} as const;
export type Rfc3489Type = (typeof Rfc3489Type)[keyof typeof Rfc3489Type];

/** How the NAT picks external ports (RFC 4787 §4.2.1 port preservation; sequential or random otherwise). */
export const PortAllocation = {
  Preserving: 'preserving',
  Sequential: 'sequential',
  Random: 'random',
  Unknown: 'unknown',
  NotApplicable: 'not-applicable',
} as const;
export type PortAllocation = (typeof PortAllocation)[keyof typeof PortAllocation];

/** RFC 4787 §6 hairpinning: whether a host behind the NAT reaches another one's mapped address. */
export const Hairpin = { Yes: 'yes', No: 'no', Unknown: 'unknown', NotApplicable: 'not-applicable' } as const;
export type Hairpin = (typeof Hairpin)[keyof typeof Hairpin];

/** Whether something on the path rewrites addresses inside UDP payloads (an ALG). */
export const Alg = { Present: 'present', Absent: 'absent', Unknown: 'unknown' } as const;
export type Alg = (typeof Alg)[keyof typeof Alg];

/** Whether a NAT is between this host and the server. */
export const NatPresence = { None: 'none', Nat: 'nat', Unknown: 'unknown' } as const;
export type NatPresence = (typeof NatPresence)[keyof typeof NatPresence];

// ------------------------------------------------------------------------------------------------
// Observations (what probe.ts fills in).

/** The interesting parts of one Binding success response. */
export interface BindingAnswer {
  /** Where the answer came from (the UDP source). */
  source: TransportAddress;
  /** XOR-MAPPED-ADDRESS (RFC 8489 §14.2). */
  xorMapped?: TransportAddress;
  /** MAPPED-ADDRESS (RFC 8489 §14.1), in plain bytes: what a payload-rewriting ALG can change. */
  plainMapped?: TransportAddress;
  /** OTHER-ADDRESS (RFC 5780 §7.4). */
  otherAddress?: TransportAddress;
  /** RESPONSE-ORIGIN (RFC 5780 §7.3). */
  responseOrigin?: TransportAddress;
  /** turnkit's ECHO attribute as it came back (hex), when the server returned it. */
  echo?: string;
}

/** One request/response exchange, with its retransmissions. */
export interface Exchange {
  /** How many times the request was sent (first transmission included). */
  sent: number;
  /** The answer, if one came (from the expected source). */
  answer?: BindingAnswer;
  /** An error response's code (e.g. 420 when the server does not do CHANGE-REQUEST). */
  errorCode?: number;
  /** An answer that came from an address it should not have (e.g. a server ignoring CHANGE-REQUEST). */
  wrongSource?: TransportAddress;
  /** Round-trip time of the answered transmission, when known. */
  rttMs?: number;
}

/** RFC 5780 §4.3 mapping test: one socket, Binding to the server's four addresses. */
export interface MappingObservations {
  local: TransportAddress;
  /** Test I: to the primary address. */
  primary: Exchange;
  /** Primary IP, alternate port. */
  altPort?: Exchange;
  /** Test II: alternate IP, primary port. */
  altIp?: Exchange;
  /** Test III: alternate IP and port. */
  altBoth?: Exchange;
}

/** RFC 5780 §4.4 filtering test: a fresh socket that only ever sends to the primary address. */
export interface FilteringObservations {
  local: TransportAddress;
  base: Exchange;
  /** Test II: CHANGE-REQUEST change IP and port. */
  changeBoth: Exchange;
  /** Test III: CHANGE-REQUEST change port. */
  changePort: Exchange;
}

/** Hairpin test: a second local socket sends to the first one's mapped address. */
export interface HairpinObservations {
  /** Datagrams sent to the mapped address. */
  sent: number;
  received: boolean;
  /** The source the first socket saw the hairpinned datagram come from. */
  source?: TransportAddress;
  /** The sender's own mapped address (to tell a public from an internal source). */
  senderMapped?: TransportAddress;
  senderLocal?: TransportAddress;
}

/** Everything one nat-probe run observed. */
export interface Observations {
  /** Addresses of this host's interfaces. */
  interfaceAddresses: readonly string[];
  mapping: MappingObservations;
  filtering?: FilteringObservations;
  hairpin?: HairpinObservations;
  /** Hex of the ECHO value each socket sent (its own local address), by local `ip:port`. */
  echoSent?: Readonly<Record<string, string>>;
  /** Further mappings seen (other sockets' Test I), in the order they were made, for port allocation. */
  extraMappings?: readonly { local: TransportAddress; mapped: TransportAddress }[];
}

// ------------------------------------------------------------------------------------------------
// The verdict.

/** Why a part of the verdict is `unknown`; also used for notes. */
export interface Verdict {
  nat: NatPresence;
  /** The primary mapped address (Test I). */
  mapped?: TransportAddress;
  /** Whether the server offered RFC 5780 (OTHER-ADDRESS in Test I). */
  rfc5780: boolean;
  mapping: Mapping;
  filtering: Filtering;
  rfc3489: Rfc3489Type;
  portAllocation: PortAllocation;
  /** Test I's external port equals the local port; null when unanswered. */
  portPreserved: boolean | null;
  hairpin: Hairpin;
  alg: Alg;
  /** What showed an ALG (empty when none did). */
  algEvidence: string[];
  /**
   * Round-trip loss seen on this run (0..1): the share of the answered requests' transmissions
   * that went unanswered. 0 when no answer needed a retransmission, and when nothing was answered.
   */
  lossEstimate: number;
  /** For each `unknown` (key: mapping, filtering, rfc3489, hairpin, portAllocation, alg), why. */
  unknownReasons: Partial<Record<'mapping' | 'filtering' | 'rfc3489' | 'hairpin' | 'portAllocation' | 'alg', string>>;
}

/**
 * The largest chance, under the run's {@link doubtLoss}, that all transmissions of an unanswered
 * request were lost, for which the missing answer is still taken as "filtered". 1e-3 with 6 tries
 * allows a round-trip loss of about 30 % (10 % each way is 19 %).
 */
export const NEGATIVE_CONFIDENCE = 1e-3;
/** An unanswered request counts as filtered only after at least this many transmissions. */
export const MIN_NEGATIVE_TRIES = 4;

/** Two transport addresses are the same IP and port. */
export function sameAddress(a: TransportAddress | undefined, b: TransportAddress | undefined): boolean {
  return !!a && !!b && a.address === b.address && a.port === b.port;
}

/** The mapped address of an answer: XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS. */
export function mappedOf(a: BindingAnswer | undefined): TransportAddress | undefined {
  return a?.xorMapped ?? a?.plainMapped;
}

/** What a run's answered requests tell about packet loss. */
export interface LossEvidence {
  /** Transmissions of the requests that were answered. */
  sent: number;
  /** Of those, the ones that went unanswered (each retransmission before the answer is one). */
  lost: number;
}

/**
 * Loss evidence from all exchanges. Unanswered exchanges do not count: their silence may be
 * filtering, which is what the tests ask about.
 */
export function lossEvidence(exchanges: readonly (Exchange | undefined)[]): LossEvidence {
  let sent = 0;
  let lost = 0;
  for (const e of exchanges) {
    if (!e?.answer) continue;
    sent += e.sent;
    lost += e.sent - 1;
  }
  return { sent, lost };
}

/** The loss that was seen: lost over sent, 0 without any answered transmission. */
export function observedLoss(l: LossEvidence): number {
  return l.sent === 0 ? 0 : l.lost / l.sent;
}

/**
 * The loss rate a missing answer is judged against: the mean under a Jeffreys prior (half a
 * failure in one try), never the bare observation. A short clean run has seen too little to claim
 * zero loss, and zero would make any silence look like filtering; with no evidence at all it is
 * 0.5. It is never reported as loss.
 */
export function doubtLoss(l: LossEvidence): number {
  return (l.lost + 0.5) / (l.sent + 1);
}

/** Why a missing answer cannot be trusted, or undefined when it can. */
export function negativeDoubt(e: Exchange | undefined, loss: LossEvidence): string | undefined {
  if (!e) return 'not tested';
  if (e.answer) return undefined;
  if (e.errorCode !== undefined) return `the server answered with error ${e.errorCode}`;
  if (e.wrongSource) return `the answer came from ${fmt(e.wrongSource)}, not the address asked for (the server ignores CHANGE-REQUEST?)`;
  if (e.sent < MIN_NEGATIVE_TRIES) return `only ${e.sent} request(s) went out before the time ran out`;
  if (doubtLoss(loss) ** e.sent > NEGATIVE_CONFIDENCE) {
    const seen =
      loss.lost > 0
        ? `${loss.lost} of ${loss.sent} transmissions of answered requests went unanswered (about ${Math.round(observedLoss(loss) * 100)} % loss)`
        : `only ${loss.sent} answered transmission(s) to measure loss by`;
    return `no answer to ${e.sent} requests, but ${seen}, so that may be chance`;
  }
  return undefined;
}

function fmt(a: TransportAddress): string {
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** Whether the mapped address is one of this host's own: no NAT on the path (RFC 5780 §4.3). */
export function classifyNatPresence(mapped: TransportAddress | undefined, local: TransportAddress, interfaceAddresses: readonly string[]): NatPresence {
  if (!mapped) return NatPresence.Unknown;
  if (sameAddress(mapped, local)) return NatPresence.None;
  // A socket bound to the wildcard reports 0.0.0.0/::; compare with the interface list then.
  if (interfaceAddresses.includes(mapped.address) && mapped.port === local.port) return NatPresence.None;
  return NatPresence.Nat;
}

/**
 * RFC 5780 §4.3: Test I (primary) vs Test II (alternate IP, same port): equal → endpoint-independent.
 * Otherwise Test III (alternate IP and port) vs Test II: equal → address-dependent, else
 * address-and-port-dependent. The fourth address (primary IP, alternate port) is a consistency
 * check: under EIM and ADM it must equal Test I.
 */
export function classifyMapping(m: MappingObservations, nat: NatPresence): { mapping: Mapping; reason?: string } {
  if (nat === NatPresence.None) return { mapping: Mapping.None };
  const x1 = mappedOf(m.primary.answer);
  if (!x1) return { mapping: Mapping.Unknown, reason: 'no answer to Test I' };
  if (!m.altIp && !m.altBoth) {
    return { mapping: Mapping.Unknown, reason: 'the server has no alternate address (RFC 5780 OTHER-ADDRESS); mapping needs a server with two IPs' };
  }
  const x2 = mappedOf(m.altIp?.answer);
  if (!x2) return { mapping: Mapping.Unknown, reason: 'no answer from the alternate IP (Test II)' };
  const xp = mappedOf(m.altPort?.answer);
  if (sameAddress(x1, x2)) {
    if (xp && !sameAddress(xp, x1)) {
      return { mapping: Mapping.Unknown, reason: `inconsistent: same mapping for another IP but not for another port (${fmt(x1)} vs ${fmt(xp)})` };
    }
    return { mapping: Mapping.EndpointIndependent };
  }
  const x3 = mappedOf(m.altBoth?.answer);
  if (!x3) return { mapping: Mapping.Unknown, reason: 'no answer from the alternate IP and port (Test III)' };
  if (sameAddress(x2, x3)) {
    if (xp && !sameAddress(xp, x1)) {
      return { mapping: Mapping.Unknown, reason: `inconsistent: the mapping changed with the port toward the primary IP (${fmt(x1)} vs ${fmt(xp)}) but not toward the alternate IP` };
    }
    return { mapping: Mapping.AddressDependent };
  }
  return { mapping: Mapping.AddressAndPortDependent };
}

/**
 * RFC 5780 §4.4: an answer to "change IP and port" (Test II) → endpoint-independent; else an answer
 * to "change port" (Test III) → address-dependent; neither → address-and-port-dependent. The
 * negatives must be trustworthy (see {@link negativeDoubt}); answers from the wrong source or
 * error responses mean the server cannot run the test.
 */
export function classifyFiltering(f: FilteringObservations | undefined, loss: LossEvidence): { filtering: Filtering; reason?: string } {
  if (!f) return { filtering: Filtering.Unknown, reason: 'the server has no alternate address (RFC 5780 OTHER-ADDRESS); filtering needs CHANGE-REQUEST' };
  if (f.changeBoth.answer) return { filtering: Filtering.EndpointIndependent };
  if (f.changeBoth.errorCode !== undefined || f.changePort.errorCode !== undefined) {
    return { filtering: Filtering.Unknown, reason: `the server refused CHANGE-REQUEST (error ${f.changeBoth.errorCode ?? f.changePort.errorCode})` };
  }
  const doubtBoth = negativeDoubt(f.changeBoth, loss);
  if (f.changePort.answer) {
    if (doubtBoth) return { filtering: Filtering.Unknown, reason: `change-port answered, change-IP-and-port not: ${doubtBoth}` };
    return { filtering: Filtering.AddressDependent };
  }
  if (!f.base.answer) return { filtering: Filtering.Unknown, reason: 'the filtering socket got no answer at all' };
  const doubtPort = negativeDoubt(f.changePort, loss);
  if (doubtBoth || doubtPort) return { filtering: Filtering.Unknown, reason: doubtBoth ?? doubtPort };
  return { filtering: Filtering.AddressAndPortDependent };
}

/**
 * RFC 3489 §10.1's decision tree, fed with the RFC 5780 results:
 * no answer → UDP blocked; no NAT → open internet if Test II (change IP+port) is answered, else
 * symmetric UDP firewall; behind a NAT → full cone if Test II is answered, else symmetric if the
 * mapping changes with the destination, else restricted if Test III (change port) is answered,
 * else port-restricted. As in RFC 3489, an address-dependent mapping is "symmetric".
 */
export function classifyRfc3489(
  answered: boolean,
  nat: NatPresence,
  mapping: Mapping,
  filtering: Filtering,
): { rfc3489: Rfc3489Type; reason?: string } {
  if (!answered) return { rfc3489: Rfc3489Type.UdpBlocked };
  if (filtering === Filtering.Unknown) {
    return { rfc3489: Rfc3489Type.Unknown, reason: 'filtering is unknown, and RFC 3489 decides on it first' };
  }
  if (nat === NatPresence.None) {
    return { rfc3489: filtering === Filtering.EndpointIndependent ? Rfc3489Type.OpenInternet : Rfc3489Type.SymmetricUdpFirewall };
  }
  if (filtering === Filtering.EndpointIndependent) return { rfc3489: Rfc3489Type.FullCone };
  if (mapping === Mapping.Unknown) return { rfc3489: Rfc3489Type.Unknown, reason: 'mapping is unknown' };
  if (mapping !== Mapping.EndpointIndependent) return { rfc3489: Rfc3489Type.Symmetric };
  return { rfc3489: filtering === Filtering.AddressDependent ? Rfc3489Type.RestrictedCone : Rfc3489Type.PortRestrictedCone };
}

/** Largest gap between sorted external ports still called "sequential". */
export const SEQUENTIAL_MAX_GAP = 8;

/**
 * RFC 4787 §4.2: port preservation when every mapping kept the local port; else, over at least three
 * distinct external ports, sequential when they sit within a few ports of each other, else random.
 */
export function classifyPortAllocation(
  nat: NatPresence,
  mappings: readonly { local: TransportAddress; mapped: TransportAddress }[],
): { portAllocation: PortAllocation; reason?: string } {
  if (nat === NatPresence.None) return { portAllocation: PortAllocation.NotApplicable };
  if (nat === NatPresence.Unknown || mappings.length === 0) return { portAllocation: PortAllocation.Unknown, reason: 'no mapping seen' };
  if (mappings.every((m) => m.mapped.port === m.local.port)) {
    if (mappings.length >= 2) return { portAllocation: PortAllocation.Preserving };
    return { portAllocation: PortAllocation.Unknown, reason: 'only one mapping seen' };
  }
  const ports = [...new Set(mappings.map((m) => m.mapped.port))].sort((a, b) => a - b);
  if (ports.length < 3) return { portAllocation: PortAllocation.Unknown, reason: `only ${ports.length} distinct external port(s) seen` };
  const maxGap = Math.max(...ports.slice(1).map((p, i) => p - ports[i]!));
  return { portAllocation: maxGap <= SEQUENTIAL_MAX_GAP ? PortAllocation.Sequential : PortAllocation.Random };
}

/** Hairpinning: received → yes; not received after enough tries → no; no NAT → not applicable. */
export function classifyHairpin(h: HairpinObservations | undefined, nat: NatPresence, loss: LossEvidence): { hairpin: Hairpin; reason?: string } {
  if (nat === NatPresence.None) return { hairpin: Hairpin.NotApplicable };
  if (!h) return { hairpin: Hairpin.Unknown, reason: 'not tested' };
  if (h.received) return { hairpin: Hairpin.Yes };
  const doubt = negativeDoubt({ sent: h.sent }, loss);
  // Hairpinned datagrams never cross the lossy outside link, but a NAT that drops them is the
  // question here; use the same standard of proof as for filtering.
  if (doubt) return { hairpin: Hairpin.Unknown, reason: doubt };
  return { hairpin: Hairpin.No };
}

/**
 * ALG detection: the ECHO attribute must come back as sent (an outbound rewriter changes the local
 * address in it), and MAPPED-ADDRESS must equal XOR-MAPPED-ADDRESS (an inbound rewriter changes
 * the plain one, never the XORed one). Any difference → present.
 */
export function classifyAlg(
  answers: readonly { local: TransportAddress; answer: BindingAnswer }[],
  echoSent: Readonly<Record<string, string>>,
): { alg: Alg; evidence: string[]; reason?: string } {
  const evidence: string[] = [];
  let checks = 0;
  for (const { local, answer } of answers) {
    if (answer.xorMapped && answer.plainMapped) {
      checks++;
      if (!sameAddress(answer.xorMapped, answer.plainMapped)) {
        evidence.push(`MAPPED-ADDRESS ${fmt(answer.plainMapped)} differs from XOR-MAPPED-ADDRESS ${fmt(answer.xorMapped)} (rewritten on the way in)`);
      }
    }
    const sent = echoSent[fmt(local)];
    if (sent !== undefined && answer.echo !== undefined) {
      checks++;
      if (answer.echo !== sent) {
        const show = (hex: string): string => {
          const a = decodeAddress(Buffer.from(hex, 'hex'));
          return a ? fmt(a) : `0x${hex}`;
        };
        evidence.push(`the local address sent in the ECHO attribute came back changed (${show(sent)} → ${show(answer.echo)}; rewritten on the way out)`);
      }
    }
  }
  const unique = [...new Set(evidence)];
  if (unique.length > 0) return { alg: Alg.Present, evidence: unique };
  if (checks === 0) {
    return { alg: Alg.Unknown, evidence: [], reason: 'the server returned neither MAPPED-ADDRESS with XOR-MAPPED-ADDRESS nor the ECHO attribute' };
  }
  return { alg: Alg.Absent, evidence: [] };
}

/** Every answered exchange of a run, with the socket it was made on. */
function allAnswers(o: Observations): { local: TransportAddress; answer: BindingAnswer }[] {
  const out: { local: TransportAddress; answer: BindingAnswer }[] = [];
  const m = o.mapping;
  for (const e of [m.primary, m.altPort, m.altIp, m.altBoth]) if (e?.answer) out.push({ local: m.local, answer: e.answer });
  if (o.filtering) {
    const f = o.filtering;
    for (const e of [f.base, f.changeBoth, f.changePort]) if (e.answer) out.push({ local: f.local, answer: e.answer });
  }
  return out;
}

/** The whole verdict from one run's observations. */
export function classify(o: Observations): Verdict {
  const m = o.mapping;
  const mapped = mappedOf(m.primary.answer);
  const answered = mapped !== undefined || (o.filtering?.base.answer !== undefined);
  const exchanges = [m.primary, m.altPort, m.altIp, m.altBoth, o.filtering?.base, o.filtering?.changeBoth, o.filtering?.changePort];
  const loss = lossEvidence(exchanges);
  const unknownReasons: Verdict['unknownReasons'] = {};

  if (!answered) {
    return {
      nat: NatPresence.Unknown,
      rfc5780: false,
      mapping: Mapping.Unknown,
      filtering: Filtering.Unknown,
      rfc3489: Rfc3489Type.UdpBlocked,
      portAllocation: PortAllocation.Unknown,
      portPreserved: null,
      hairpin: Hairpin.Unknown,
      alg: Alg.Unknown,
      algEvidence: [],
      lossEstimate: observedLoss(loss),
      unknownReasons: { mapping: 'no STUN answer', filtering: 'no STUN answer', hairpin: 'no STUN answer', portAllocation: 'no STUN answer', alg: 'no STUN answer' },
    };
  }
  const nat = classifyNatPresence(mapped, m.local, o.interfaceAddresses);
  const rfc5780 = m.primary.answer?.otherAddress !== undefined;
  const mp = classifyMapping(m, nat);
  if (mp.reason) unknownReasons.mapping = mp.reason;
  const fl = classifyFiltering(o.filtering, loss);
  if (fl.reason) unknownReasons.filtering = fl.reason;
  const r3 = classifyRfc3489(true, nat, mp.mapping, fl.filtering);
  if (r3.reason) unknownReasons.rfc3489 = r3.reason;

  const mappings: { local: TransportAddress; mapped: TransportAddress }[] = [];
  for (const e of [m.primary, m.altIp, m.altBoth, m.altPort]) {
    const x = mappedOf(e?.answer);
    if (x) mappings.push({ local: m.local, mapped: x });
  }
  const fx = mappedOf(o.filtering?.base.answer);
  if (o.filtering && fx) mappings.push({ local: o.filtering.local, mapped: fx });
  for (const x of o.extraMappings ?? []) mappings.push(x);
  const pa = classifyPortAllocation(nat, mappings);
  if (pa.reason) unknownReasons.portAllocation = pa.reason;

  const hp = classifyHairpin(o.hairpin, nat, loss);
  if (hp.reason) unknownReasons.hairpin = hp.reason;
  const alg = classifyAlg(allAnswers(o), o.echoSent ?? {});
  if (alg.reason) unknownReasons.alg = alg.reason;

  const verdict: Verdict = {
    nat,
    rfc5780,
    mapping: mp.mapping,
    filtering: fl.filtering,
    rfc3489: r3.rfc3489,
    portAllocation: pa.portAllocation,
    portPreserved: mapped ? mapped.port === m.local.port : null,
    hairpin: hp.hairpin,
    alg: alg.alg,
    algEvidence: alg.evidence,
    lossEstimate: observedLoss(loss),
    unknownReasons,
  };
  if (mapped) verdict.mapped = mapped;
  return verdict;
}

// ------------------------------------------------------------------------------------------------
// Binding lifetime search (RFC 5780 §4.6), as a pure plan: which idle times to try next.

/** What is known so far about how long an idle binding lives. */
export interface LifetimeBounds {
  /** Longest idle time (s) after which the binding was seen alive (0: none yet). */
  aliveAt: number;
  /** Shortest idle time (s) after which it was seen gone; undefined: none yet. */
  deadAt?: number;
}

/**
 * The idle times (seconds) to test in the next round, all in parallel on fresh sockets. Without an
 * upper bound yet: doubling steps up to `maxSeconds`. With one: `k` points splitting the interval,
 * until it is narrower than `resolution`; then nothing (the search is over).
 */
export function nextLifetimeRound(b: LifetimeBounds, maxSeconds: number, k = 3, resolution = 2): number[] {
  if (b.deadAt === undefined) {
    if (b.aliveAt >= maxSeconds) return [];
    const out: number[] = [];
    for (let t = Math.max(1, b.aliveAt * 2 || 1); t < maxSeconds; t *= 2) out.push(t);
    out.push(maxSeconds);
    return out.filter((t) => t > b.aliveAt);
  }
  const width = b.deadAt - b.aliveAt;
  if (width <= resolution) return [];
  const out: number[] = [];
  for (let i = 1; i <= k; i++) {
    const t = Math.round((b.aliveAt + (width * i) / (k + 1)) * 10) / 10;
    if (t > b.aliveAt && t < b.deadAt && !out.includes(t)) out.push(t);
  }
  return out;
}

/** Folds one round's results (idle time → binding still alive, or undefined when unsure) into the bounds. */
export function updateLifetimeBounds(b: LifetimeBounds, results: ReadonlyMap<number, boolean | undefined>): LifetimeBounds {
  let aliveAt = b.aliveAt;
  const dead: number[] = b.deadAt === undefined ? [] : [b.deadAt];
  for (const [t, alive] of results) {
    if (alive === true && t > aliveAt) aliveAt = t;
    if (alive === false) dead.push(t);
  }
  // A lost probe looks like a gone binding, so "alive" wins: only deaths after the last alive count.
  const after = dead.filter((t) => t > aliveAt);
  const out: LifetimeBounds = { aliveAt };
  if (after.length > 0) out.deadAt = Math.min(...after);
  return out;
}
