/**
 * TURN peer-address policy: which peers the relay may send to (RFC 8656 §21, docs: security.md).
 *
 * Pure: no sockets, no clock. `PeerPolicy` is built once from config and then asked per
 * CreatePermission/ChannelBind (`checkIp`) and per relayed packet (`checkTransportAddress`),
 * so rules are compiled to 32-bit words up front and every decision object is preallocated:
 * a check on a Buffer does integer compares only, no string building, no regex, no allocation.
 *
 * How an address is judged:
 * 1. Its own form against the configured rules (longest prefix wins; deny wins a tie), then,
 *    if no configured rule matched, against the recommended deny list; no match = allowed.
 * 2. For an IPv6 address that embeds an IPv4 address (mapped, compatible, NAT64, 6to4,
 *    Teredo), the embedded IPv4 is judged the same way by the IPv4 rules, because that is
 *    where the packet ends up (CVE-2026-27624: ::ffff:127.0.0.1 bypassed a loopback check).
 *    The address is allowed only if every form is allowed, so `allow 127.0.0.0/8` allows
 *    ::ffff:127.0.0.1 too, and `deny 64:ff9b::/96` still disables NAT64 as a whole.
 * 3. For Send/ChannelData, the server's own listening transport addresses are refused first,
 *    whatever the rules say.
 */
import { ConfigError } from '../errors.js';
import { formatIp, parseIp, type IpFamily, type TransportAddress } from '../stun/ip.js';

/** An address range: family, network bytes with the host bits cleared, prefix length, canonical text. */
export interface Cidr {
  readonly family: IpFamily;
  /** Network address (4 or 16 bytes), host bits zeroed. */
  readonly bytes: Buffer;
  readonly prefix: number;
  /** Canonical `address/prefix` text, e.g. `10.0.0.0/8`, `fc00::/7`. */
  readonly text: string;
}

const PREFIX_TEXT = /^(0|[1-9]\d{0,2})$/;

/** Parses `10.0.0.0/8`, `fc00::/7` or a bare IP (= /32 or /128); host bits are masked off; undefined when invalid. */
export function parseCidr(text: string): Cidr | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  const ip = parseIp(slash === -1 ? text : text.slice(0, slash));
  if (!ip) return undefined;
  const max = ip.family === 'IPv4' ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const p = text.slice(slash + 1);
    // Digits only: Number('') is 0 and Number(' 8') is 8, which would accept '1.2.3.4/' and worse.
    if (!PREFIX_TEXT.test(p)) return undefined;
    prefix = Number(p);
    if (prefix > max) return undefined;
  }
  const bytes = Buffer.from(ip.bytes);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.min(8, Math.max(0, prefix - i * 8));
    bytes[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return { family: ip.family, bytes, prefix, text: `${formatIp(bytes)}/${prefix}` };
}

/**
 * The default deny list (security.md "Peer-address policy"), applied unless `denyRecommended: false`.
 * The translated IPv6 forms (::ffff:0:0/96, ::/96, 64:ff9b::/96, 64:ff9b:1::/48, 2002::/16) are not
 * listed because their embedded IPv4 is unwrapped and judged instead; Teredo (2001::/32) is listed,
 * i.e. denied as a whole, and its embedded IPv4s are judged as well when an operator allows it.
 */
export const RECOMMENDED_DENY: readonly string[] = Object.freeze([
  // IPv4
  '0.0.0.0/8',
  '127.0.0.0/8',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10',
  '169.254.0.0/16',
  '168.63.129.16/32',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '255.255.255.255/32',
  // IPv6
  '::/128',
  '::1/128',
  'fc00::/7',
  'fe80::/10',
  'fec0::/10',
  'ff00::/8',
  '2001:db8::/32',
  '3fff::/20',
  '2001:2::/48',
  '2001:10::/28',
  '2001:20::/28',
  '100::/64',
  // Teredo: traffic leaves through a Teredo relay towards a client IPv4:port and a server IPv4
  // that the peer chose; the protocol is obsolete, so nothing legitimate is lost by denying it.
  '2001::/32',
]);

/** Why a peer was refused; a closed set, usable as a metrics label. */
export const PeerDenyReason = {
  /** Matched the recommended deny list (and no configured rule). */
  RecommendedDeny: 'recommended-deny',
  /** Matched a configured `deny` entry more specific than any matching `allow` entry. */
  ConfiguredDeny: 'configured-deny',
  /** The server's own listening address and port. */
  ServerAddress: 'server-address',
  /** Not an IP address, wrong byte length, bad port, or a NAT64 /48 address with non-zero reserved bits. */
  Malformed: 'malformed',
} as const;
/** Why a peer was refused (values of `PeerDenyReason`). */
export type PeerDenyReason = (typeof PeerDenyReason)[keyof typeof PeerDenyReason];

/** A policy verdict: `rule` names the deciding rule for logs, `reason` is a bounded metrics label. */
export interface PeerDecision {
  readonly allowed: boolean;
  /** E.g. 'deny 127.0.0.0/8 (recommended)', 'allow 127.0.0.0/8', 'server address 127.0.0.1:3478', 'default allow'. */
  readonly rule: string;
  readonly reason: PeerDenyReason | 'allowed';
}

/** Configuration of a `PeerPolicy`; `allow`/`deny` entries are CIDRs or bare IPs. */
export interface PeerPolicyOptions {
  allow?: string[];
  deny?: string[];
  /** Apply `RECOMMENDED_DENY` (default true). Explicit `allow` entries win over it either way. */
  denyRecommended?: boolean;
  /** The server's listening addresses; 0.0.0.0 / :: mean "any IP of this host" at that port. */
  serverAddresses?: TransportAddress[];
}

/** A rule compiled to words: matches when (word[i] & mask[i]) === net[i] for each word. */
interface CompiledRule {
  readonly v6: boolean;
  readonly prefix: number;
  readonly deny: boolean;
  readonly n0: number;
  readonly n1: number;
  readonly n2: number;
  readonly n3: number;
  readonly m0: number;
  readonly m1: number;
  readonly m2: number;
  readonly m3: number;
  readonly decision: PeerDecision;
}

/** A listening address compiled to words; `wildcard` matches any IP at `port`. */
interface CompiledServerAddress {
  readonly port: number;
  readonly v6: boolean;
  readonly wildcard: boolean;
  readonly n0: number;
  readonly n1: number;
  readonly n2: number;
  readonly n3: number;
  readonly decision: PeerDecision;
}

const DEFAULT_ALLOW: PeerDecision = Object.freeze({ allowed: true, rule: 'default allow', reason: 'allowed' });
const MALFORMED_ADDRESS: PeerDecision = deny('malformed address', PeerDenyReason.Malformed);
const MALFORMED_PORT: PeerDecision = deny('malformed port', PeerDenyReason.Malformed);
/**
 * Recommended too, but not a list entry: IPv6 outside global unicast (2000::/3) that carries no IPv4
 * address. A CIDR entry could not say that, since deny entries are matched before the IPv4-mapped,
 * -compatible and NAT64 forms (inside ::/8 and 64::/16) are unwrapped and judged as IPv4.
 */
const OUTSIDE_GLOBAL_UNICAST: PeerDecision = deny('deny outside 2000::/3 (recommended)', PeerDenyReason.RecommendedDeny);
const MALFORMED_NAT64: PeerDecision = deny(
  'malformed 64:ff9b:1::/48 address (RFC 6052 §2.2: u-octet and suffix must be zero)',
  PeerDenyReason.Malformed,
);

/** What `embeddedIPv4` found: none, some (count in the scratch array), or a form we refuse to guess. */
const NONE = 0;
const MALFORMED = -1;

/** Peer-address policy for a TURN relay: allow/deny lists, the recommended deny list, the server's own addresses. */
export class PeerPolicy {
  /**
   * Rules per family as flat typed arrays (IPv4: net, mask; IPv6: 4 nets, 4 masks) with their decisions
   * at the same index: configured rules first (longest prefix first, deny before allow on equal prefix),
   * then the recommended ones, so the first match decides. Flat arrays keep the per-packet scan tight.
   */
  private readonly words4: Int32Array;
  private readonly decisions4: PeerDecision[];
  private readonly words6: Int32Array;
  private readonly decisions6: PeerDecision[];
  private readonly servers: CompiledServerAddress[];
  /** Whether the recommended rules apply (then also OUTSIDE_GLOBAL_UNICAST). */
  private readonly recommended: boolean;
  /** Reused per call so unwrapping allocates nothing (Teredo has two embedded IPv4s). */
  private readonly scratch = new Int32Array(2);

  /** Compiles the rules; throws a ConfigError naming the entry when a CIDR or server address is invalid. */
  constructor(options: PeerPolicyOptions = {}) {
    const configured: CompiledRule[] = [];
    for (const [list, isDeny] of [
      [options.allow, false],
      [options.deny, true],
    ] as const) {
      const name = isDeny ? 'deny' : 'allow';
      if (list === undefined) continue;
      if (!Array.isArray(list)) throw new ConfigError(`peer policy: "${name}" must be a list of CIDRs`);
      for (const entry of list) {
        const cidr = parseCidr(entry);
        if (!cidr) {
          throw new ConfigError(
            `peer policy: ${name} entry ${JSON.stringify(entry)} is not a valid CIDR or IP address (e.g. 10.0.0.0/8, fc00::/7, 192.0.2.1)`,
          );
        }
        const reason = isDeny ? PeerDenyReason.ConfiguredDeny : 'allowed';
        configured.push(compileRule(cidr, isDeny, `${name} ${cidr.text}`, reason));
      }
    }
    const recommended =
      options.denyRecommended === false
        ? []
        : RECOMMENDED_DENY.map((text) =>
            compileRule(parseCidr(text)!, true, `deny ${text} (recommended)`, PeerDenyReason.RecommendedDeny),
          );
    const byFamily = (rules: CompiledRule[], v6: boolean) =>
      rules
        .filter((r) => r.v6 === v6)
        // Longest prefix first; on equal prefix deny first, so "deny wins a tie" is just "first match wins".
        .sort((a, b) => b.prefix - a.prefix || Number(b.deny) - Number(a.deny));
    const rules4 = [...byFamily(configured, false), ...byFamily(recommended, false)];
    const rules6 = [...byFamily(configured, true), ...byFamily(recommended, true)];
    this.words4 = Int32Array.from(rules4.flatMap((r) => [r.n0, r.m0]));
    this.decisions4 = rules4.map((r) => r.decision);
    this.words6 = Int32Array.from(rules6.flatMap((r) => [r.n0, r.n1, r.n2, r.n3, r.m0, r.m1, r.m2, r.m3]));
    this.decisions6 = rules6.map((r) => r.decision);
    this.servers = (options.serverAddresses ?? []).map(compileServerAddress);
    this.recommended = options.denyRecommended !== false;
  }

  /**
   * The ports at which `checkTransportAddress` refuses `ip` although `checkIp` allows it: the
   * server's own listening ports that land on this IP (empty when none do).
   */
  refusedServerPorts(ip: string): number[] {
    const ports = new Set<number>();
    for (const s of this.servers) if (!this.checkTransportAddress(ip, s.port).allowed) ports.add(s.port);
    return [...ports];
  }

  /** Judges a peer IP (text, or 4/16 bytes) for CreatePermission/ChannelBind, where permissions are per IP (RFC 8656 §9). */
  checkIp(ip: string | Uint8Array): PeerDecision {
    const b = toBytes(ip);
    if (!b) return MALFORMED_ADDRESS;
    if (b.length === 4) return this.judge4(word(b, 0)) ?? DEFAULT_ALLOW;
    return this.judge6(word(b, 0), word(b, 4), word(b, 8), word(b, 12));
  }

  /**
   * Judges a peer transport address for Send/ChannelData: `checkIp`, after refusing the server's own
   * listening addresses (a client must not make the server talk to itself). The server's IP at any
   * other port stays allowed when the IP is, since clients on one server relay to each other's relayed
   * addresses.
   */
  checkTransportAddress(ip: string | Uint8Array, port: number): PeerDecision {
    const b = toBytes(ip);
    if (!b) return MALFORMED_ADDRESS;
    // Port 0 cannot be sent to (the kernel rejects it), so it is no legitimate peer either.
    if (!Number.isInteger(port) || port < 1 || port > 0xffff) return MALFORMED_PORT;
    if (b.length === 4) {
      const x = word(b, 0);
      const hit = this.serverHit(port, false, x, 0, 0, 0, x, 1);
      return hit ?? this.judge4(x) ?? DEFAULT_ALLOW;
    }
    const w0 = word(b, 0);
    const w1 = word(b, 4);
    const w2 = word(b, 8);
    const w3 = word(b, 12);
    if (this.servers.length > 0) {
      const n = embeddedIPv4(w0, w1, w2, w3, this.scratch);
      const hit = this.serverHit(port, true, w0, w1, w2, w3, n > 0 ? this.scratch[0]! : 0, n);
      if (hit) return hit;
    }
    return this.judge6(w0, w1, w2, w3);
  }

  /** The server-address decision when (port, address or one of its `count` embedded IPv4s) is a listening address. */
  private serverHit(
    port: number,
    v6: boolean,
    w0: number,
    w1: number,
    w2: number,
    w3: number,
    firstV4: number,
    count: number,
  ): PeerDecision | undefined {
    for (const s of this.servers) {
      if (s.port !== port) continue;
      // :: listens dual-stack on Linux by default, so it covers IPv4 peers too; 0.0.0.0 covers any
      // peer that lands on an IPv4 address, including through an embedded form.
      if (s.wildcard && (s.v6 || !v6 || count > 0)) return s.decision;
      if (s.v6) {
        if (v6 && s.n0 === w0 && s.n1 === w1 && s.n2 === w2 && s.n3 === w3) return s.decision;
      } else if (!v6) {
        if (s.n0 === w0) return s.decision;
      } else {
        if (count > 0 && s.n0 === firstV4) return s.decision;
        if (count > 1 && s.n0 === this.scratch[1]) return s.decision;
      }
    }
    return undefined;
  }

  /** First (= longest-prefix) configured match, else recommended match, else undefined (default allow). */
  private judge4(x: number): PeerDecision | undefined {
    const w = this.words4;
    for (let i = 0; i < w.length; i += 2) if ((x & w[i + 1]!) === w[i]) return this.decisions4[i >> 1];
    return undefined;
  }

  /** Judges an IPv6 address as itself and through every IPv4 address it embeds; all must be allowed. */
  private judge6(w0: number, w1: number, w2: number, w3: number): PeerDecision {
    const own = this.match6(w0, w1, w2, w3);
    if (own && !own.allowed) return own;
    const n = embeddedIPv4(w0, w1, w2, w3, this.scratch);
    if (n === MALFORMED) return MALFORMED_NAT64;
    let explicitAllow: PeerDecision | undefined;
    for (let i = 0; i < n; i++) {
      const d = this.judge4(this.scratch[i]!);
      if (d && !d.allowed) return d;
      explicitAllow ??= d;
    }
    // Name the most telling rule: an allow on the embedded IPv4 says more than one on the wrapper.
    const decided = explicitAllow ?? own;
    if (decided) return decided;
    if (n === NONE && this.recommended && w0 >>> 29 !== 1) return OUTSIDE_GLOBAL_UNICAST;
    return DEFAULT_ALLOW;
  }

  /** Like judge4, for the IPv6 address itself. */
  private match6(w0: number, w1: number, w2: number, w3: number): PeerDecision | undefined {
    const w = this.words6;
    for (let i = 0; i < w.length; i += 8) {
      if (
        (w0 & w[i + 4]!) === w[i] &&
        (w1 & w[i + 5]!) === w[i + 1] &&
        (w2 & w[i + 6]!) === w[i + 2] &&
        (w3 & w[i + 7]!) === w[i + 3]
      ) {
        return this.decisions6[i >> 3];
      }
    }
    return undefined;
  }
}

/**
 * Writes the IPv4 addresses an IPv6 address embeds into `out` (as int32) and returns how many,
 * or MALFORMED for a 64:ff9b:1::/48 address whose bit placement we cannot trust.
 */
function embeddedIPv4(w0: number, w1: number, w2: number, w3: number, out: Int32Array): number {
  if (w0 === 0 && w1 === 0) {
    // ::/96 IPv4-compatible (RFC 4291 §2.5.5.1, ::7f00:1 = 127.0.0.1), ::ffff:0:0/96 IPv4-mapped
    // (§2.5.5.2), and ::ffff:0:0:0/96 IPv4-translated (RFC 2765 §2.1, obsolete but cheap to cover).
    // :: and ::1 lie inside ::/96 but are the unspecified and loopback addresses, not IPv4 ones: they
    // are judged as themselves, so that an operator's `allow ::1` means ::1 and not 0.0.0.1.
    if (w2 === 0 && (w3 === 0 || w3 === 1)) return NONE;
    if (w2 === 0 || w2 === 0x0000ffff || w2 === (0xffff0000 | 0)) {
      out[0] = w3;
      return 1;
    }
    return NONE;
  }
  if (w0 === 0x0064ff9b) {
    // 64:ff9b::/96 well-known NAT64 prefix (RFC 6052 §2.1): IPv4 in the last 32 bits.
    if (w1 === 0 && w2 === 0) {
      out[0] = w3;
      return 1;
    }
    // 64:ff9b:1::/48 local-use NAT64 (RFC 8215) as a /48 prefix, RFC 6052 §2.2: IPv4 bits 0-15 at
    // address bits 48-63, the u-octet (bits 64-71, must be zero), IPv4 bits 16-31 at bits 72-87,
    // suffix (bits 88-127, zero). A non-zero u-octet or suffix is no /48 form; it likely means a
    // longer prefix deployed inside the /48 that puts the IPv4 elsewhere, so refuse rather than guess.
    if (w1 >>> 16 === 0x0001) {
      if (w2 >>> 24 !== 0 || (w2 & 0xff) !== 0 || w3 !== 0) return MALFORMED;
      out[0] = ((w1 & 0xffff) << 16) | ((w2 >>> 8) & 0xffff);
      return 1;
    }
    return NONE;
  }
  if (w0 >>> 16 === 0x2002) {
    // 2002::/16 6to4 (RFC 3056 §2): IPv4 at bits 16-47.
    out[0] = (w0 << 16) | (w1 >>> 16);
    return 1;
  }
  if (w0 === 0x20010000) {
    // 2001::/32 Teredo (RFC 4380 §4): client IPv4 = last 32 bits XOR 0xffffffff, server IPv4 at
    // bits 32-63. Both receive packets (the server during qualification/bubbles), so judge both.
    out[0] = ~w3;
    out[1] = w1;
    return 2;
  }
  return NONE;
}

function compileRule(cidr: Cidr, isDeny: boolean, rule: string, reason: PeerDenyReason | 'allowed'): CompiledRule {
  const b = cidr.bytes;
  const v6 = cidr.family === 'IPv6';
  const words = v6 ? 4 : 1;
  const n = [0, 0, 0, 0];
  const m = [0, 0, 0, 0];
  for (let i = 0; i < words; i++) {
    const bits = Math.min(32, Math.max(0, cidr.prefix - i * 32));
    // `<< 32` is `<< 0` in JS, hence the special case for a full word.
    m[i] = bits === 0 ? 0 : bits === 32 ? -1 : (-1 << (32 - bits)) | 0;
    n[i] = word(b, i * 4) & m[i]!;
  }
  return {
    v6,
    prefix: cidr.prefix,
    deny: isDeny,
    n0: n[0]!,
    n1: n[1]!,
    n2: n[2]!,
    n3: n[3]!,
    m0: m[0]!,
    m1: m[1]!,
    m2: m[2]!,
    m3: m[3]!,
    decision: reason === 'allowed' ? Object.freeze({ allowed: true, rule, reason }) : deny(rule, reason),
  };
}

function compileServerAddress(a: TransportAddress, index: number): CompiledServerAddress {
  const where = `peer policy: serverAddresses[${index}]`;
  const ip = a && typeof a.address === 'string' ? parseIp(a.address) : undefined;
  if (!ip) throw new ConfigError(`${where} address ${JSON.stringify(a?.address)} is not an IP address`);
  // Port 0 would be the configured "any port", not the bound one, and would silently match nothing.
  if (!Number.isInteger(a.port) || a.port < 1 || a.port > 0xffff) {
    throw new ConfigError(`${where} port ${JSON.stringify(a.port)} is not a bound port number (1-65535)`);
  }
  let v6 = ip.family === 'IPv6';
  let b = ip.bytes;
  // A listener given as ::ffff:a.b.c.d is the IPv4 listener a.b.c.d; peers are compared unwrapped.
  if (v6 && word(b, 0) === 0 && word(b, 4) === 0 && word(b, 8) === 0x0000ffff) {
    v6 = false;
    b = b.subarray(12);
  }
  const wildcard = b.every((x) => x === 0);
  const text = v6 ? `[${formatIp(b)}]:${a.port}` : `${formatIp(b)}:${a.port}`;
  return {
    port: a.port,
    v6,
    wildcard,
    n0: word(b, 0),
    n1: v6 ? word(b, 4) : 0,
    n2: v6 ? word(b, 8) : 0,
    n3: v6 ? word(b, 12) : 0,
    decision: deny(`server address ${text}${wildcard ? ' (any local IP)' : ''}`, PeerDenyReason.ServerAddress),
  };
}

function deny(rule: string, reason: PeerDenyReason): PeerDecision {
  return Object.freeze({ allowed: false, rule, reason });
}

/** Text or 4/16 bytes → 4/16 bytes; undefined for anything else (never throws on peer input). */
function toBytes(ip: string | Uint8Array): Uint8Array | undefined {
  if (typeof ip === 'string') return parseIp(ip)?.bytes;
  if (ip instanceof Uint8Array && (ip.length === 4 || ip.length === 16)) return ip;
  return undefined;
}

/** The big-endian 32-bit word at `off`, as int32 (so it compares with `&` results directly). */
function word(b: Uint8Array, off: number): number {
  return (b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!;
}
