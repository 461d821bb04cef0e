/**
 * nat-probe's output: the `--json` report (schema: src/nat-probe/report.schema.json, version
 * {@link SCHEMA_VERSION}; keys are stable, new keys only with a new version) and the text for
 * people, which ends with what the verdict means for calls, in plain words.
 */
import type { TransportAddress } from '../stun/ip.js';
import {
  Alg,
  Filtering,
  Hairpin,
  Mapping,
  NatPresence,
  PortAllocation,
  Rfc3489Type,
  type Exchange,
  type Observations,
  type Verdict,
} from './classify.js';
import { formatAddress, type LifetimeResult } from './probe.js';
import type { TurnResult } from './turn.js';

/** Version of the JSON report's shape. */
export const SCHEMA_VERSION = 1;

/** One test as it went on the wire, for people debugging a verdict. */
export interface TestRecord {
  name: string;
  /** Requests sent (retransmissions included). */
  sent: number;
  /** The mapped address in the answer, or null when none came. */
  mapped: string | null;
  /** Where the answer came from. */
  from: string | null;
  error: number | null;
}

/** The `--json` report. */
export interface NatReport {
  schemaVersion: typeof SCHEMA_VERSION;
  server: string;
  /** `classified`: the server answered; `no-response`: nothing came back over UDP (exit status 3). */
  status: 'classified' | 'no-response';
  local: string;
  mapped: string | null;
  nat: NatPresence;
  rfc5780: boolean;
  otherAddress: string | null;
  mapping: Mapping;
  filtering: Filtering;
  rfc3489: Rfc3489Type;
  portAllocation: PortAllocation;
  portPreserved: boolean | null;
  hairpin: Hairpin;
  alg: Alg;
  algEvidence: string[];
  /** Loss seen on this run (see Verdict.lossEstimate); 0 when no answer needed a retransmission. */
  lossEstimate: number;
  unknownReasons: Record<string, string>;
  lifetime: null | { seconds: number | null; aliveAt: number; deadAt: number | null; maxSeconds: number; complete: boolean };
  turn: null | TurnResult[];
  consequences: string[];
  durationMs: number;
  tests: TestRecord[];
}

function rec(name: string, e: Exchange | undefined): TestRecord | undefined {
  if (!e) return undefined;
  const m = e.answer?.xorMapped ?? e.answer?.plainMapped;
  return {
    name,
    sent: e.sent,
    mapped: m ? formatAddress(m) : null,
    from: e.answer ? formatAddress(e.answer.source) : e.wrongSource ? formatAddress(e.wrongSource) : null,
    error: e.errorCode ?? null,
  };
}

/** Inputs of the report beyond the verdict. */
export interface ReportInput {
  server: string;
  /** `server` resolved, to tell which TURN results reached the same host. */
  serverAddress?: TransportAddress;
  observations: Observations;
  verdict: Verdict;
  otherAddress?: TransportAddress;
  durationMs: number;
  lifetime?: LifetimeResult;
  turn?: TurnResult[];
}

/** Builds the JSON report. */
export function buildReport(i: ReportInput): NatReport {
  const { verdict: v, observations: o } = i;
  const tests: TestRecord[] = [];
  const push = (r: TestRecord | undefined): void => {
    if (r) tests.push(r);
  };
  push(rec('mapping.primary', o.mapping.primary));
  push(rec('mapping.alt-ip', o.mapping.altIp));
  push(rec('mapping.alt-ip-port', o.mapping.altBoth));
  push(rec('mapping.alt-port', o.mapping.altPort));
  push(rec('filtering.base', o.filtering?.base));
  push(rec('filtering.change-ip-port', o.filtering?.changeBoth));
  push(rec('filtering.change-port', o.filtering?.changePort));
  if (o.hairpin) {
    tests.push({
      name: 'hairpin',
      sent: o.hairpin.sent,
      mapped: o.hairpin.senderMapped ? formatAddress(o.hairpin.senderMapped) : null,
      from: o.hairpin.source ? formatAddress(o.hairpin.source) : null,
      error: null,
    });
  }
  let lifetime: NatReport['lifetime'] = null;
  if (i.lifetime) {
    const b = i.lifetime.bounds;
    const seconds = b.deadAt !== undefined && i.lifetime.complete ? Math.round(((b.aliveAt + b.deadAt) / 2) * 10) / 10 : null;
    lifetime = { seconds, aliveAt: b.aliveAt, deadAt: b.deadAt ?? null, maxSeconds: i.lifetime.maxSeconds, complete: i.lifetime.complete };
  }
  const report: NatReport = {
    schemaVersion: SCHEMA_VERSION,
    server: i.server,
    status: v.rfc3489 === Rfc3489Type.UdpBlocked ? 'no-response' : 'classified',
    local: formatAddress(o.mapping.local),
    mapped: v.mapped ? formatAddress(v.mapped) : null,
    nat: v.nat,
    rfc5780: v.rfc5780,
    otherAddress: i.otherAddress ? formatAddress(i.otherAddress) : null,
    mapping: v.mapping,
    filtering: v.filtering,
    rfc3489: v.rfc3489,
    portAllocation: v.portAllocation,
    portPreserved: v.portPreserved,
    hairpin: v.hairpin,
    alg: v.alg,
    algEvidence: v.algEvidence,
    lossEstimate: Math.round(v.lossEstimate * 1000) / 1000,
    unknownReasons: { ...v.unknownReasons },
    lifetime,
    turn: i.turn ?? null,
    consequences: [],
    durationMs: i.durationMs,
    tests,
  };
  report.consequences = consequences(report, i.serverAddress ? udpSilence(i.serverAddress, i.turn) : UdpSilence.Untested);
  return report;
}

/** What the TURN attempts tell about a STUN server that did not answer over UDP. */
export const UdpSilence = {
  /** No TURN over TCP or TLS to the server's IP was tried: UDP blocked and server down look the same. */
  Untested: 'untested',
  /** TURN over TCP or TLS to the server's IP was tried and did not work either. */
  StreamFailed: 'stream-failed',
  /** TURN over TCP or TLS to the server's IP worked (and not over UDP): the server is up, UDP is blocked. */
  UdpBlocked: 'udp-blocked',
  /** TURN over UDP to the server's IP worked: UDP gets through, the STUN port is silent. */
  StunSilent: 'stun-silent',
} as const;
export type UdpSilence = (typeof UdpSilence)[keyof typeof UdpSilence];

/**
 * Relates the TURN results to the STUN server by IP (the ports may differ: turns: on 443 is
 * common). Only a working Allocate counts as an answer; a failed one may be a refusal, a timeout
 * or a TLS error, and TurnResult does not say which.
 */
export function udpSilence(server: TransportAddress, turn: readonly TurnResult[] | null | undefined): UdpSilence {
  // URL's host parser writes an IPv6 address one way only (2001:DB8:0::1 → 2001:db8::1).
  const canonical = (ip: string): string => (ip.includes(':') ? new URL(`http://[${ip}]/`).hostname : ip);
  const ip = canonical(server.address);
  const same = (turn ?? []).filter((t) => {
    const host = /^\[(.+)\]:\d+$/.exec(t.server)?.[1] ?? /^([^:]+):\d+$/.exec(t.server)?.[1];
    return host !== undefined && canonical(host) === ip;
  });
  if (same.some((t) => t.ok && t.transport === 'udp')) return UdpSilence.StunSilent;
  const stream = same.filter((t) => t.transport !== 'udp');
  if (stream.some((t) => t.ok)) return UdpSilence.UdpBlocked;
  return stream.length > 0 ? UdpSilence.StreamFailed : UdpSilence.Untested;
}

/** The no-response explanation in one clause, for the CLI's stderr line; `turnGiven`: --turn was used. */
export function noResponseSummary(silence: UdpSilence, turnGiven: boolean): string {
  switch (silence) {
    case UdpSilence.UdpBlocked:
      return 'UDP is blocked on the path; the server is up (TURN over TCP/TLS to it works)';
    case UdpSilence.StunSilent:
      return 'UDP reaches that host (TURN over UDP to it works), so nothing answers STUN on that port; check the port in --server';
    case UdpSilence.StreamFailed:
      return 'and TURN over TCP/TLS to that host did not work either, so the server is down or unreachable from here, or it refused the TURN request; try another server';
    default:
      return (
        'UDP is blocked here or the server is down (they look the same from here); ' +
        (turnGiven ? 'try another server, or TURN over TCP/TLS to this one, to tell them apart' : 'try another server or --turn turns:HOST:443 to tell them apart')
      );
  }
}

/** The no-response consequence, from what the TURN attempts showed. */
function noResponseConsequence(silence: UdpSilence, turnGiven: boolean): string {
  switch (silence) {
    case UdpSilence.UdpBlocked:
      return 'No STUN answer over UDP, but TURN over TCP/TLS to the same server works: the server is up, so UDP is blocked on the path. Calls will need TURN over TCP or TLS.';
    case UdpSilence.StunSilent:
      return 'No STUN answer over UDP, but TURN over UDP to the same host works: UDP gets through, and nothing answers STUN at the --server address; check its port.';
    case UdpSilence.StreamFailed:
      return 'No STUN answer over UDP, and TURN over TCP/TLS to the same server did not work either (see the TURN lines): the server is down or unreachable from here, or it refused the TURN request. Try another STUN server.';
    default:
      return (
        'No STUN answer over UDP: either this network blocks UDP or the server is down; from here the two look the same. ' +
        (turnGiven
          ? 'Try another STUN server, or TURN over TCP/TLS to this same server: if that works, UDP is blocked and calls will need TURN over TCP or TLS.'
          : 'Try another STUN server, or a TURN server over TCP/TLS (--turn turns:HOST:443 …): if that works, UDP is blocked and calls will need TURN over TCP or TLS.')
      );
  }
}

/**
 * What the verdict means for calls, one sentence each, most important first. `silence` (from
 * {@link udpSilence}) picks the explanation when nothing answered over UDP.
 */
export function consequences(
  r: Pick<NatReport, 'status' | 'nat' | 'mapping' | 'filtering' | 'rfc3489' | 'hairpin' | 'alg' | 'lifetime' | 'turn' | 'rfc5780'>,
  silence: UdpSilence = UdpSilence.Untested,
): string[] {
  const out: string[] = [];
  if (r.status === 'no-response') out.push(noResponseConsequence(silence, r.turn !== null));
  if (r.alg === Alg.Present) {
    out.push(
      'A router on the path rewrites IP addresses inside UDP payloads (an "ALG", often a SIP helper). It corrupts STUN and SIP messages and is what NAT Slipstreaming abuses to open ports into your network. ' +
        'Fix: turn off "SIP ALG" / "SIP helper" / "application layer gateway" on the router.',
    );
  }
  switch (r.rfc3489) {
    case Rfc3489Type.OpenInternet:
      out.push('This host has a public address and nothing filters UDP: peers can reach it directly.');
      break;
    case Rfc3489Type.SymmetricUdpFirewall:
      out.push('No NAT, but a firewall only lets in answers to what this host sent: direct calls work when both sides send first (ICE does this); peers behind symmetric NATs may need TURN.');
      break;
    case Rfc3489Type.FullCone:
      out.push('Anyone who learns the mapped address can send to it: direct calls work with peers behind any NAT.');
      break;
    case Rfc3489Type.RestrictedCone:
    case Rfc3489Type.PortRestrictedCone:
      out.push('Direct calls work with peers that have a public address or a cone NAT (ICE punches the hole); direct calls to peers behind symmetric NATs will need TURN.');
      break;
    case Rfc3489Type.Symmetric:
      out.push(
        r.mapping === Mapping.AddressDependent
          ? 'The NAT gives each remote IP its own public port, so the address a STUN server sees is not the one peers will see: direct calls to peers behind port-restricted or symmetric NATs will need TURN.'
          : 'The NAT picks a new public port for every destination, so the address a STUN server sees is useless to peers: direct calls to peers behind port-restricted or symmetric NATs will need TURN.',
      );
      break;
    default:
      break;
  }
  if (r.status === 'classified' && !r.rfc5780) {
    out.push('The server has one address only (no RFC 5780 OTHER-ADDRESS), so mapping and filtering could not be tested; use a server started with --alt-address (turnkit) for the full picture.');
  }
  if (r.hairpin === Hairpin.No) {
    out.push('Devices behind this NAT cannot reach each other through its public address (no hairpinning); ICE usually connects them over the LAN instead.');
  }
  if (r.lifetime?.deadAt != null && r.lifetime.deadAt <= 30) {
    out.push(`Idle UDP bindings disappear after ${r.lifetime.aliveAt}–${r.lifetime.deadAt} s: keep-alives must come more often than that (ICE's default of 15 s may be too slow${r.lifetime.deadAt <= 15 ? '' : ' on a busy NAT'}).`);
  }
  if (r.turn) {
    const ok = r.turn.filter((t) => t.ok).map((t) => t.transport.toUpperCase());
    const bad = r.turn.filter((t) => !t.ok).map((t) => t.transport.toUpperCase());
    if (ok.length > 0) out.push(`TURN works over ${ok.join(', ')}: calls that cannot go direct can be relayed.`);
    if (bad.length > 0) out.push(`TURN failed over ${bad.join(', ')}${ok.length === 0 ? ': calls that cannot go direct will fail' : ''}.`);
  }
  return out;
}

const WORDS: Record<string, string> = {
  none: 'none (no NAT)',
  'endpoint-independent': 'endpoint-independent',
  'address-dependent': 'address-dependent',
  'address-and-port-dependent': 'address-and-port-dependent',
  unknown: 'unknown',
  'open-internet': 'Open Internet',
  'full-cone': 'Full Cone',
  'restricted-cone': 'Restricted Cone',
  'port-restricted-cone': 'Port Restricted Cone',
  symmetric: 'Symmetric',
  'symmetric-udp-firewall': 'Symmetric UDP Firewall',
  'udp-blocked': 'UDP Blocked',
};

/** Renders the report as text for people. */
export function formatReport(r: NatReport): string {
  const why = (k: string): string => (r.unknownReasons[k] ? ` (${r.unknownReasons[k]})` : '');
  const lines = [`server:            ${r.server}${r.otherAddress ? `, alternate ${r.otherAddress}` : ''}`, `local address:     ${r.local}`];
  if (r.status === 'no-response') {
    // Whether the server is up is for "What this means" to say: it weighs the TURN results.
    lines.push('mapped address:    (no answer)', 'RFC 3489 type:     UDP Blocked (no STUN answer over UDP; see below)');
  } else {
    lines.push(
      `mapped address:    ${r.mapped ?? '(none)'}`,
      `NAT:               ${r.nat === 'none' ? 'no (the server sees this host\'s own address)' : r.nat === 'nat' ? 'yes' : 'unknown'}`,
      `mapping:           ${WORDS[r.mapping]}${why('mapping')}`,
      `filtering:         ${WORDS[r.filtering]}${why('filtering')}`,
      `RFC 3489 type:     ${WORDS[r.rfc3489]}${r.mapping === Mapping.AddressDependent ? ' (address-dependent mapping; RFC 3489 has no name for it)' : ''}${why('rfc3489')}`,
      `port allocation:   ${r.portAllocation}${r.portPreserved === null ? '' : r.portPreserved ? ', local port kept' : ', local port not kept'}${why('portAllocation')}`,
      `hairpinning:       ${r.hairpin}${why('hairpin')}`,
      `address-rewriting ALG: ${r.alg === Alg.Present ? 'address-rewriting ALG present' : r.alg === Alg.Absent ? 'none seen' : 'unknown'}${why('alg')}`,
    );
    for (const e of r.algEvidence) lines.push(`  - ${e}`);
  }
  if (r.lifetime) {
    const l = r.lifetime;
    lines.push(
      `binding lifetime:  ${l.deadAt === null ? `more than ${l.aliveAt} s (tested up to ${l.maxSeconds} s)` : `between ${l.aliveAt} and ${l.deadAt} s idle${l.seconds !== null ? ` (about ${l.seconds} s)` : ''}`}`,
    );
  }
  for (const t of r.turn ?? []) {
    lines.push(`TURN ${t.transport.toUpperCase().padEnd(4)} ${t.server}: ${t.ok ? `ok, relayed address ${t.relayed}` : `failed: ${t.error}`}`);
  }
  if (r.status === 'classified' && r.lossEstimate > 0) {
    lines.push(`packet loss:       about ${Math.max(1, Math.round(r.lossEstimate * 100))} % (requests that went unanswered and were sent again)`);
  }
  lines.push(`time:              ${r.durationMs} ms`);
  if (r.consequences.length > 0) {
    lines.push('', 'What this means:');
    for (const c of r.consequences) lines.push(`  * ${c}`);
  }
  return lines.join('\n');
}
