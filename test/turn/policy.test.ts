import t from 'tap';
import { parseIp } from '../../src/stun/ip.js';
import { PeerPolicy, RECOMMENDED_DENY, parseCidr, type PeerDecision } from '../../src/turn/policy.js';

/** Bytes of an address, computed by the shared parser so both input paths (text and Buffer) are exercised. */
function bytes(ip: string): Buffer {
  const p = parseIp(ip);
  if (!p) throw new Error(`test bug: ${ip} does not parse`);
  return p.bytes;
}

/** Checks the text and the Buffer path agree, and returns the decision. */
function check(policy: PeerPolicy, ip: string): PeerDecision {
  const fromText = policy.checkIp(ip);
  const fromBytes = policy.checkIp(bytes(ip));
  if (fromText !== fromBytes) throw new Error(`text and Buffer paths disagree for ${ip}`);
  return fromText;
}

// security.md "Peer-address policy" and the CVE table: every one of these must be refused by a default policy.
// [address, why, the rule that must decide]. Teredo (2001::/32) is denied as a whole by default.
const DENIED_BY_DEFAULT: [string, string, string][] = [
  ['127.0.0.1', 'loopback, coturn CVE-2018-4058', 'deny 127.0.0.0/8 (recommended)'],
  ['127.255.255.254', 'loopback, top of /8', 'deny 127.0.0.0/8 (recommended)'],
  ['0.0.0.0', 'reaches localhost on Linux, coturn CVE-2020-26262', 'deny 0.0.0.0/8 (recommended)'],
  ['::', 'reaches localhost on Linux, coturn CVE-2020-26262', 'deny ::/128 (recommended)'],
  ['::1', 'IPv6 loopback', 'deny ::1/128 (recommended)'],
  ['::ffff:127.0.0.1', 'IPv4-mapped loopback, coturn CVE-2026-27624', 'deny 127.0.0.0/8 (recommended)'],
  ['::ffff:7f00:1', 'IPv4-mapped loopback in hex', 'deny 127.0.0.0/8 (recommended)'],
  ['::ffff:0.0.0.0', 'IPv4-mapped this-network', 'deny 0.0.0.0/8 (recommended)'],
  ['::ffff:10.0.0.1', 'IPv4-mapped private', 'deny 10.0.0.0/8 (recommended)'],
  ['::7f00:1', 'IPv4-compatible 127.0.0.1', 'deny 127.0.0.0/8 (recommended)'],
  ['::a9fe:a9fe', 'IPv4-compatible 169.254.169.254', 'deny 169.254.0.0/16 (recommended)'],
  ['::ffff:0:7f00:1', 'IPv4-translated (RFC 2765) 127.0.0.1', 'deny 127.0.0.0/8 (recommended)'],
  ['64:ff9b::7f00:1', 'NAT64 /96 127.0.0.1', 'deny 127.0.0.0/8 (recommended)'],
  ['64:ff9b::a9fe:a9fe', 'NAT64 /96 169.254.169.254', 'deny 169.254.0.0/16 (recommended)'],
  // RFC 6052 §2.2, /48: 127.0.0.1 → bits 48-63 = 7f00, u-octet 0, bits 72-87 = 0001.
  ['64:ff9b:1:7f00:0:100::', 'NAT64 /48 127.0.0.1 (RFC 6052 placement)', 'deny 127.0.0.0/8 (recommended)'],
  ['64:ff9b:1:a00:0:100::', 'NAT64 /48 10.0.0.1 (RFC 6052 placement)', 'deny 10.0.0.0/8 (recommended)'],
  // 64:ff9b:1::a00:1 has 10.0.0.1 in the last 32 bits, i.e. in the /48 suffix, which must be zero: not a /48 form.
  [
    '64:ff9b:1::a00:1',
    'NAT64 /48 with a non-zero suffix',
    'malformed 64:ff9b:1::/48 address (RFC 6052 §2.2: u-octet and suffix must be zero)',
  ],
  ['2002:7f00:1::', '6to4 127.0.0.1', 'deny 127.0.0.0/8 (recommended)'],
  ['2002:a9fe:a9fe:1::1', '6to4 169.254.169.254', 'deny 169.254.0.0/16 (recommended)'],
  // Teredo: server 65.54.227.120 (4136:e378), client 127.0.0.1 XOR ffffffff = 80ff:fffe.
  ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'Teredo, client 127.0.0.1', 'deny 2001::/32 (recommended)'],
  ['2001:0:4136:e378:8000:63bf:f7f7:f7f7', 'Teredo, public client 8.8.8.8', 'deny 2001::/32 (recommended)'],
  ['169.254.169.254', 'cloud metadata (AWS/GCP/Azure/OpenStack)', 'deny 169.254.0.0/16 (recommended)'],
  ['168.63.129.16', 'Azure wire server', 'deny 168.63.129.16/32 (recommended)'],
  ['100.100.100.200', 'Alibaba metadata (CGNAT range)', 'deny 100.64.0.0/10 (recommended)'],
  ['100.127.255.255', 'CGNAT top', 'deny 100.64.0.0/10 (recommended)'],
  ['fd00:ec2::254', 'AWS IMDS over IPv6 (unique local)', 'deny fc00::/7 (recommended)'],
  ['fc00::1', 'unique local, low end', 'deny fc00::/7 (recommended)'],
  ['fe80::1', 'link-local', 'deny fe80::/10 (recommended)'],
  ['febf:ffff::1', 'link-local, top of /10', 'deny fe80::/10 (recommended)'],
  ['ff02::1', 'multicast', 'deny ff00::/8 (recommended)'],
  ['100::1', 'discard', 'deny 100::/64 (recommended)'],
  ['100:1::1', 'reserved 100::/8 beyond discard', 'deny outside 2000::/3 (recommended)'],
  ['2001:db8::1', 'documentation', 'deny 2001:db8::/32 (recommended)'],
  ['3fff::1', 'documentation (RFC 9637)', 'deny 3fff::/20 (recommended)'],
  ['fec0::1', 'site-local (deprecated, still routed in old networks)', 'deny fec0::/10 (recommended)'],
  ['2001:2::1', 'benchmarking (RFC 5180)', 'deny 2001:2::/48 (recommended)'],
  ['2001:10::1', 'ORCHID (deprecated)', 'deny 2001:10::/28 (recommended)'],
  ['2001:20::1', 'ORCHIDv2', 'deny 2001:20::/28 (recommended)'],
  ['5f00::1', 'SRv6 SIDs (RFC 9602)', 'deny outside 2000::/3 (recommended)'],
  ['fbff:ffff::1', 'reserved, just below fc00::/7', 'deny outside 2000::/3 (recommended)'],
  ['100:0:0:1::1', 'reserved, just past 100::/64', 'deny outside 2000::/3 (recommended)'],
  ['1::1', 'reserved 0::/8, no IPv4 inside', 'deny outside 2000::/3 (recommended)'],
  ['0:0:1::1', 'reserved 0::/8 next to the IPv4-compatible /96', 'deny outside 2000::/3 (recommended)'],
  ['64:ff9b:2::1', '64::/16 beyond the NAT64 prefixes', 'deny outside 2000::/3 (recommended)'],
  ['1000::1', 'reserved, outside 2000::/3', 'deny outside 2000::/3 (recommended)'],
  ['4000::1', 'reserved, outside 2000::/3', 'deny outside 2000::/3 (recommended)'],
  ['7f00::1', 'reserved (an IPv4 127.0.0.1 misread as IPv6 would land here)', 'deny outside 2000::/3 (recommended)'],
  ['8000::1', 'reserved, outside 2000::/3', 'deny outside 2000::/3 (recommended)'],
  ['e000::1', 'reserved, outside 2000::/3', 'deny outside 2000::/3 (recommended)'],
  ['fe00::1', 'reserved, between ULA and link-local', 'deny outside 2000::/3 (recommended)'],
  ['10.1.2.3', 'private', 'deny 10.0.0.0/8 (recommended)'],
  ['172.16.0.1', 'private', 'deny 172.16.0.0/12 (recommended)'],
  ['172.31.255.255', 'private, top of /12', 'deny 172.16.0.0/12 (recommended)'],
  ['192.168.1.1', 'private', 'deny 192.168.0.0/16 (recommended)'],
  ['192.0.0.8', 'IETF protocol assignments', 'deny 192.0.0.0/24 (recommended)'],
  ['192.0.2.1', 'documentation', 'deny 192.0.2.0/24 (recommended)'],
  ['198.51.100.7', 'documentation', 'deny 198.51.100.0/24 (recommended)'],
  ['203.0.113.9', 'documentation', 'deny 203.0.113.0/24 (recommended)'],
  ['224.0.0.1', 'multicast', 'deny 224.0.0.0/4 (recommended)'],
  ['239.255.255.250', 'multicast (SSDP)', 'deny 224.0.0.0/4 (recommended)'],
  ['240.0.0.1', 'reserved', 'deny 240.0.0.0/4 (recommended)'],
  // Also inside 240.0.0.0/4; the more specific /32 decides because rules are tried longest prefix first.
  ['255.255.255.255', 'broadcast', 'deny 255.255.255.255/32 (recommended)'],
  ['198.18.0.2', 'benchmark (the test lab range)', 'deny 198.18.0.0/15 (recommended)'],
  ['198.19.255.254', 'benchmark, top of /15', 'deny 198.18.0.0/15 (recommended)'],
];

// Public addresses next to the denied ranges (off-by-one on the masks would catch these).
const ALLOWED_BY_DEFAULT: string[] = [
  '8.8.8.8',
  '1.1.1.1',
  '2606:4700:4700::1111',
  '2a00:1450:4001:80b::200e',
  '::ffff:8.8.8.8',
  '::808:808', // IPv4-compatible 8.8.8.8
  '64:ff9b::808:808', // NAT64 /96 8.8.8.8
  '64:ff9b:1:808:8:800::', // NAT64 /48 8.8.8.8 (a last-32-bits reading would see 0.0.0.0 and deny)
  '2002:808:808::1', // 6to4 8.8.8.8
  '2000::1', // bottom of global unicast 2000::/3
  '3ffe:ffff::1', // top of 2000::/3 below 3fff::/20
  '2001:1::1', // next to benchmarking 2001:2::/48
  '2001:3::1',
  '2001:30::1', // next to ORCHIDv2 2001:20::/28
  '3ffe:ffff::1', // global unicast just below 3fff::/20
  '1.0.0.1',
  '11.0.0.1',
  '100.63.255.255',
  '100.128.0.0',
  '126.255.255.255',
  '128.0.0.1',
  '169.253.255.255',
  '172.15.255.255',
  '172.32.0.0',
  '192.167.255.255',
  '192.169.0.0',
  '198.17.255.255',
  '198.20.0.0',
  '223.255.255.255',
  '2001:db9::1',
];

t.test('recommended deny list: every security.md case is refused by default', async (t) => {
  const policy = new PeerPolicy();
  for (const [ip, why, rule] of DENIED_BY_DEFAULT) {
    const d = check(policy, ip);
    t.equal(d.allowed, false, `${ip} (${why}) denied`);
    t.equal(d.rule, rule, `${ip} decided by ${rule}`);
    t.equal(d.reason, rule.startsWith('malformed') ? 'malformed' : 'recommended-deny', `${ip} reason`);
  }
});

t.test('public addresses are allowed by default, in native and embedded forms', async (t) => {
  const policy = new PeerPolicy();
  for (const ip of ALLOWED_BY_DEFAULT) {
    t.same(check(policy, ip), { allowed: true, rule: 'default allow', reason: 'allowed' }, `${ip} allowed`);
  }
});

t.test('RECOMMENDED_DENY is exactly the security.md list, in canonical form', async (t) => {
  t.same([...RECOMMENDED_DENY].sort(), [
    '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '168.63.129.16/32', '169.254.0.0/16',
    '172.16.0.0/12', '192.0.0.0/24', '192.0.2.0/24', '192.168.0.0/16', '198.18.0.0/15', '198.51.100.0/24',
    '203.0.113.0/24', '224.0.0.0/4', '240.0.0.0/4', '255.255.255.255/32',
    '::/128', '::1/128', 'fc00::/7', 'fe80::/10', 'fec0::/10', 'ff00::/8', '2001:db8::/32', '3fff::/20', '2001:2::/48',
    '2001:10::/28', '2001:20::/28', '100::/64', '2001::/32',
  ].sort());
  for (const entry of RECOMMENDED_DENY) t.equal(parseCidr(entry)?.text, entry, `${entry} is canonical`);
  t.ok(Object.isFrozen(RECOMMENDED_DENY), 'cannot be edited by a caller at run time');
});

t.test('outside 2000::/3: denied as recommended; an allow entry or denyRecommended: false lifts it; embedded IPv4 is judged as IPv4', async (t) => {
  t.equal(check(new PeerPolicy(), '4000::1').rule, 'deny outside 2000::/3 (recommended)');
  t.same(check(new PeerPolicy({ allow: ['4000::/2'] }), '4000::1'), { allowed: true, rule: 'allow 4000::/2', reason: 'allowed' }, 'an allow entry wins');
  t.equal(check(new PeerPolicy({ denyRecommended: false }), '4000::1').allowed, true, 'denyRecommended: false');
  for (const ip of ['::ffff:8.8.8.8', '::808:808', '64:ff9b::808:808']) t.equal(check(new PeerPolicy(), ip).allowed, true, `${ip}: public IPv4 inside, allowed`);
  t.equal(check(new PeerPolicy(), '64:ff9b::a00:1').rule, 'deny 10.0.0.0/8 (recommended)', 'private IPv4 inside: its own rule decides');
});

t.test('denyRecommended: false drops the list but keeps configured rules and malformed checks', async (t) => {
  const policy = new PeerPolicy({ denyRecommended: false, deny: ['8.8.8.0/24'] });
  t.equal(check(policy, '127.0.0.1').allowed, true, '127.0.0.1 allowed');
  t.equal(check(policy, '::ffff:10.0.0.1').allowed, true, 'mapped private allowed');
  t.equal(check(policy, '2001:0:4136:e378:8000:63bf:fefe:fefe').allowed, true, 'Teredo (client 1.1.1.1) allowed');
  t.equal(check(policy, '8.8.8.8').reason, 'configured-deny', 'configured deny still applies');
  t.equal(check(policy, '64:ff9b::808:808').reason, 'configured-deny', 'and through NAT64');
  t.equal(check(policy, '64:ff9b:1::a00:1').reason, 'malformed', 'an unplaceable NAT64 /48 stays refused');
  t.equal(policy.checkIp('nonsense').reason, 'malformed');
});

t.test('allow 127.0.0.0/8 wins over the recommended list, in every form of the address', async (t) => {
  const policy = new PeerPolicy({ allow: ['127.0.0.0/8'] });
  const allow = { allowed: true, rule: 'allow 127.0.0.0/8', reason: 'allowed' };
  t.same(check(policy, '127.0.0.1'), allow, '127.0.0.1');
  t.same(check(policy, '::ffff:127.0.0.1'), allow, '::ffff:127.0.0.1 (judged unwrapped)');
  t.same(check(policy, '::7f00:1'), allow, 'IPv4-compatible');
  t.same(check(policy, '64:ff9b::7f00:1'), allow, 'NAT64 /96');
  t.same(check(policy, '64:ff9b:1:7f00:0:100::'), allow, 'NAT64 /48');
  t.same(check(policy, '2002:7f00:1::'), allow, '6to4');
  t.same(check(policy, '10.0.0.1'), { allowed: false, rule: 'deny 10.0.0.0/8 (recommended)', reason: 'recommended-deny' });
  t.equal(check(policy, '::ffff:10.0.0.1').allowed, false, 'mapped 10.0.0.1 still denied');
  t.equal(check(policy, '::1').rule, 'deny ::1/128 (recommended)', 'an IPv4 allow does not open IPv6 loopback');
  t.equal(check(policy, '2001:0:4136:e378:8000:63bf:80ff:fffe').allowed, false, 'nor Teredo as a whole');
  // When both the wrapper and the embedded IPv4 match an allow, the log names the IPv4 rule.
  const both = new PeerPolicy({ allow: ['::ffff:0:0/96', '127.0.0.0/8'] });
  t.equal(check(both, '::ffff:127.0.0.1').rule, 'allow 127.0.0.0/8', 'the embedded rule is the one named');
});

t.test('::1 and :: are judged as themselves, not as the IPv4-compatible 0.0.0.1 and 0.0.0.0', async (t) => {
  // Found with a real IPv6 relay: `--allow-peer ::1` still refused ::1 by "deny 0.0.0.0/8".
  const policy = new PeerPolicy({ allow: ['::1/128'] });
  t.same(check(policy, '::1'), { allowed: true, rule: 'allow ::1/128', reason: 'allowed' }, 'allow ::1 means ::1');
  t.equal(check(policy, '::').rule, 'deny ::/128 (recommended)', ':: stays denied, by its own rule');
  t.equal(check(policy, '::2').rule, 'deny 0.0.0.0/8 (recommended)', '::2 is still the IPv4-compatible 0.0.0.2');
  t.equal(check(policy, '::7f00:1').rule, 'deny 127.0.0.0/8 (recommended)', 'and ::7f00:1 still 127.0.0.1');
  const dflt = new PeerPolicy();
  t.equal(check(dflt, '::1').rule, 'deny ::1/128 (recommended)', 'default: ::1 denied as IPv6 loopback');
  t.equal(check(dflt, '::').rule, 'deny ::/128 (recommended)');
  const v4only = new PeerPolicy({ allow: ['0.0.0.0/8'] });
  t.equal(check(v4only, '::1').allowed, false, 'allowing 0.0.0.0/8 does not open ::1');
});

t.test('NAT64 /48 follows RFC 6052 §2.2 bit placement', async (t) => {
  const policy = new PeerPolicy({ allow: ['10.0.0.0/8'] });
  // 10.0.0.1: bits 48-63 = 0a00, u-octet (64-71) = 00, bits 72-87 = 0001, suffix zero.
  t.same(check(policy, '64:ff9b:1:a00:0:100::'), { allowed: true, rule: 'allow 10.0.0.0/8', reason: 'allowed' });
  // The same IPv4 in the last 32 bits is not a /48 form; allowing 10/8 must not make it pass.
  t.equal(check(policy, '64:ff9b:1::a00:1').reason, 'malformed', 'last-32-bits placement refused');
  // A non-zero u-octet is no /48 form either, even though bits 48-63/72-87 would read 8.8.8.8.
  t.equal(check(policy, '64:ff9b:1:808:ff08:800::').reason, 'malformed', 'non-zero u-octet refused');
  t.equal(check(policy, '64:ff9b:1:808:8:800:0:1').reason, 'malformed', 'non-zero suffix refused');
  t.equal(check(policy, '64:ff9b:1:c0a8:1:100::').rule, 'deny 192.168.0.0/16 (recommended)', '192.168.1.1');
  // Outside 64:ff9b:1::/48 nothing is unwrapped: 64:ff9b:2::/48 is plain IPv6 (reserved, outside 2000::/3).
  t.equal(check(policy, '64:ff9b:2::7f00:1').rule, 'deny outside 2000::/3 (recommended)', '64:ff9b:2:: is not NAT64');
});

t.test('Teredo: denied as a whole by default; when allowed, client and server IPv4 are judged', async (t) => {
  const policy = new PeerPolicy({ allow: ['2001::/32'] });
  t.same(
    check(policy, '2001:0:4136:e378:8000:63bf:f7f7:f7f7'),
    { allowed: true, rule: 'allow 2001::/32', reason: 'allowed' },
    'public server 65.54.227.120, public client 8.8.8.8',
  );
  t.equal(check(policy, '2001:0:4136:e378:8000:63bf:80ff:fffe').rule, 'deny 127.0.0.0/8 (recommended)', 'client 127.0.0.1');
  // RFC 4380 / Wikipedia example: client 192.0.2.45 (3fff:fdd2 XOR ffff:ffff).
  t.equal(check(policy, '2001:0:4136:e378:8000:63bf:3fff:fdd2').rule, 'deny 192.0.2.0/24 (recommended)', 'client 192.0.2.45');
  t.equal(check(policy, '2001:0:a00:1:8000:63bf:f7f7:f7f7').rule, 'deny 10.0.0.0/8 (recommended)', 'server 10.0.0.1');
  // Without the XOR the client 127.0.0.1 below would read as 80.255.255.254 (public) and pass.
  t.equal(check(new PeerPolicy({ allow: ['2001::/32'], deny: ['127.0.0.1'] }), '2001:0:4136:e378:8000:63bf:80ff:fffe').reason, 'configured-deny');
});

t.test('configured allow/deny: longest prefix wins, deny wins a tie', async (t) => {
  const narrowDeny = new PeerPolicy({ allow: ['10.0.0.0/8'], deny: ['10.1.0.0/16'] });
  t.same(check(narrowDeny, '10.1.2.3'), { allowed: false, rule: 'deny 10.1.0.0/16', reason: 'configured-deny' });
  t.same(check(narrowDeny, '10.2.0.1'), { allowed: true, rule: 'allow 10.0.0.0/8', reason: 'allowed' });
  t.equal(check(narrowDeny, '::ffff:10.1.2.3').reason, 'configured-deny', 'mapped form too');

  const narrowAllow = new PeerPolicy({ deny: ['10.0.0.0/8'], allow: ['10.1.0.0/16'] });
  t.same(check(narrowAllow, '10.1.2.3'), { allowed: true, rule: 'allow 10.1.0.0/16', reason: 'allowed' });
  t.same(check(narrowAllow, '10.2.0.1'), { allowed: false, rule: 'deny 10.0.0.0/8', reason: 'configured-deny' });

  for (const [allow, deny] of [
    [['10.0.0.0/8'], ['10.0.0.0/8']],
    [['10.0.0.0/8', '10.9.0.0/16'], ['10.0.0.0/8']],
  ]) {
    const d = check(new PeerPolicy({ allow, deny }), '10.0.0.1');
    t.same(d, { allowed: false, rule: 'deny 10.0.0.0/8', reason: 'configured-deny' }, `tie with allow ${allow}`);
  }

  const pub = new PeerPolicy({ deny: ['8.8.8.0/24'] });
  t.same(check(pub, '8.8.8.8'), { allowed: false, rule: 'deny 8.8.8.0/24', reason: 'configured-deny' });
  t.equal(check(pub, '::ffff:8.8.8.8').reason, 'configured-deny', 'mapped form');
  t.equal(check(pub, '8.8.4.4').allowed, true, 'neighbour /24 allowed');
  t.equal(check(pub, '127.0.0.1').reason, 'recommended-deny', 'recommended list still applies');

  const v6 = new PeerPolicy({ allow: ['fd00:ec2::254'], deny: ['2606:4700::/32', '64:ff9b::/96'] });
  t.same(check(v6, 'fd00:ec2::254'), { allowed: true, rule: 'allow fd00:ec2::254/128', reason: 'allowed' });
  t.equal(check(v6, 'fd00:ec2::253').reason, 'recommended-deny', 'the neighbour stays denied');
  t.same(check(v6, '2606:4700:4700::1111'), { allowed: false, rule: 'deny 2606:4700::/32', reason: 'configured-deny' });
  t.equal(check(v6, '64:ff9b::808:808').rule, 'deny 64:ff9b::/96', 'denying the NAT64 prefix disables NAT64');

  const everything = new PeerPolicy({ allow: ['0.0.0.0/0'], deny: ['127.0.0.1/32'] });
  t.equal(check(everything, '10.0.0.1').allowed, true, '/0 allow matches every IPv4');
  t.equal(check(everything, '127.0.0.1').reason, 'configured-deny', 'a /32 deny beats a /0 allow');
  t.equal(check(everything, 'fe80::1').reason, 'recommended-deny', 'an IPv4 /0 does not touch IPv6');
});

t.test('server addresses are refused for Send/ChannelData, even when the IP is allowed', async (t) => {
  const policy = new PeerPolicy({
    allow: ['127.0.0.0/8'],
    serverAddresses: [{ family: 'IPv4', address: '127.0.0.1', port: 3478 }],
  });
  t.same(policy.checkTransportAddress('127.0.0.1', 3478), {
    allowed: false,
    rule: 'server address 127.0.0.1:3478',
    reason: 'server-address',
  });
  t.equal(policy.checkTransportAddress(bytes('127.0.0.1'), 3478).reason, 'server-address', 'Buffer path');
  t.equal(policy.checkTransportAddress('::ffff:127.0.0.1', 3478).reason, 'server-address', 'IPv4-mapped form');
  t.equal(policy.checkTransportAddress('64:ff9b::7f00:1', 3478).reason, 'server-address', 'NAT64 form');
  t.same(policy.checkTransportAddress('127.0.0.1', 50000), { allowed: true, rule: 'allow 127.0.0.0/8', reason: 'allowed' }, 'a relay port of the same IP');
  t.equal(policy.checkTransportAddress('127.0.0.2', 3478).allowed, true, 'another allowed IP at the same port');
  t.equal(policy.checkIp('127.0.0.1').allowed, true, 'permissions are per IP, so checkIp ignores ports');
  t.equal(policy.checkTransportAddress('10.0.0.1', 50000).reason, 'recommended-deny', 'the IP rules still apply');
});

t.test('wildcard server addresses match any IP at that port', async (t) => {
  const v4 = new PeerPolicy({ serverAddresses: [{ family: 'IPv4', address: '0.0.0.0', port: 3478 }] });
  for (const ip of ['8.8.8.8', '1.1.1.1', '::ffff:8.8.8.8', '64:ff9b::808:808']) {
    t.same(v4.checkTransportAddress(ip, 3478), {
      allowed: false,
      rule: 'server address 0.0.0.0:3478 (any local IP)',
      reason: 'server-address',
    }, `${ip}:3478`);
  }
  t.equal(v4.checkTransportAddress('8.8.8.8', 3479).allowed, true, 'other ports allowed');
  t.equal(v4.checkTransportAddress('2606:4700:4700::1111', 3478).allowed, true, 'a 0.0.0.0 listener does not cover native IPv6');

  const v6 = new PeerPolicy({ serverAddresses: [{ family: 'IPv6', address: '::', port: 5349 }] });
  t.equal(v6.checkTransportAddress('2606:4700:4700::1111', 5349).rule, 'server address [::]:5349 (any local IP)');
  t.equal(v6.checkTransportAddress('8.8.8.8', 5349).reason, 'server-address', ':: is dual-stack, so IPv4 too');
  t.equal(v6.checkTransportAddress('8.8.8.8', 3478).allowed, true, 'other ports allowed');
});

t.test('IPv6 server addresses', async (t) => {
  const policy = new PeerPolicy({
    denyRecommended: false,
    serverAddresses: [
      { family: 'IPv6', address: '2001:db8::1', port: 3478 },
      { family: 'IPv6', address: '::ffff:192.0.2.7', port: 3478 },
    ],
  });
  t.equal(policy.checkTransportAddress('2001:db8::1', 3478).rule, 'server address [2001:db8::1]:3478');
  t.equal(policy.checkTransportAddress('2001:db8::2', 3478).allowed, true, 'another IPv6 host');
  t.equal(policy.checkTransportAddress('2001:db8::1', 3479).allowed, true, 'another port');
  t.equal(policy.checkTransportAddress('192.0.2.7', 3478).rule, 'server address 192.0.2.7:3478', 'mapped listener = IPv4 listener');
  t.equal(policy.checkTransportAddress('::ffff:192.0.2.7', 3478).reason, 'server-address');
  t.equal(policy.checkTransportAddress('192.0.2.8', 3478).allowed, true);
  // 808:808:: starts with the bytes of 8.8.8.8; an IPv4 peer must never be compared with an IPv6 listener.
  const v6only = new PeerPolicy({ serverAddresses: [{ family: 'IPv6', address: '808:808::', port: 3478 }] });
  t.equal(v6only.checkTransportAddress('808:808::', 3478).reason, 'server-address');
  t.equal(v6only.checkTransportAddress('8.8.8.8', 3478).allowed, true, 'IPv4 8.8.8.8 is not [808:808::]');
});

t.test('malformed peers are refused, never thrown on', async (t) => {
  const policy = new PeerPolicy({ allow: ['0.0.0.0/0', '::/0'], denyRecommended: false });
  const malformed = { allowed: false, rule: 'malformed address', reason: 'malformed' };
  for (const ip of ['nonsense', '', '1.2.3', '1.2.3.4.5', '256.0.0.1', 'fe80::1%eth0', '1.2.3.4/32', ' 8.8.8.8']) {
    t.same(policy.checkIp(ip), malformed, JSON.stringify(ip));
    t.same(policy.checkTransportAddress(ip, 3478), malformed, `${JSON.stringify(ip)} with a port`);
  }
  for (const len of [0, 3, 5, 15, 17]) {
    t.same(policy.checkIp(Buffer.alloc(len, 8)), malformed, `${len}-byte buffer`);
    t.same(policy.checkTransportAddress(Buffer.alloc(len, 8), 3478), malformed, `${len}-byte buffer with a port`);
  }
  t.equal(policy.checkIp(new Uint8Array([8, 8, 8, 8])).allowed, true, 'a plain Uint8Array of 4 bytes is fine');
  for (const port of [0, -1, 65536, 1.5, Number.NaN]) {
    t.same(policy.checkTransportAddress('8.8.8.8', port), { allowed: false, rule: 'malformed port', reason: 'malformed' }, `port ${port}`);
  }
  t.equal(policy.checkTransportAddress('8.8.8.8', 65535).allowed, true, 'port 65535 is fine');
});

t.test('decisions on a Buffer are preallocated (no per-packet allocation)', async (t) => {
  const policy = new PeerPolicy({ allow: ['10.0.0.0/8'], serverAddresses: [{ family: 'IPv4', address: '0.0.0.0', port: 3478 }] });
  for (const ip of ['8.8.8.8', '10.0.0.1', '127.0.0.1', '::ffff:127.0.0.1', '2606:4700:4700::1111']) {
    const a = policy.checkTransportAddress(bytes(ip), 40000);
    t.equal(policy.checkTransportAddress(bytes(ip), 40001), a, `${ip}: same decision object`);
    t.ok(Object.isFrozen(a), `${ip}: a caller cannot alter a shared decision`);
  }
});

t.test('constructor rejects unusable entries with a message naming them', async (t) => {
  const cases: [ConstructorParameters<typeof PeerPolicy>[0], RegExp][] = [
    [{ allow: ['10.0.0.0/33'] }, /allow entry "10\.0\.0\.0\/33"/],
    [{ deny: ['nope'] }, /deny entry "nope"/],
    [{ deny: ['8.8.8.8', '::/129'] }, /deny entry "::\/129"/],
    [{ serverAddresses: [{ family: 'IPv4', address: 'localhost', port: 3478 }] }, /serverAddresses\[0\] address "localhost"/],
    [{ serverAddresses: [{ family: 'IPv4', address: '127.0.0.1', port: 70000 }] }, /serverAddresses\[0\] port 70000/],
    [{ serverAddresses: [{ family: 'IPv4', address: '127.0.0.1', port: 0 }] }, /serverAddresses\[0\] port 0 is not a bound port/],
  ];
  for (const [options, message] of cases) {
    t.throws(() => new PeerPolicy(options), { code: 'ERR_CONFIG_INVALID', message }, JSON.stringify(options));
  }
  t.doesNotThrow(() => new PeerPolicy({ allow: [], deny: [], serverAddresses: [] }), 'empty lists are fine');
});

t.test('parseCidr', async (t) => {
  const ok: [string, string, 'IPv4' | 'IPv6', number, string][] = [
    ['10.0.0.0/8', '10.0.0.0/8', 'IPv4', 8, '0a000000'],
    ['10.1.2.3/8', '10.0.0.0/8', 'IPv4', 8, '0a000000'],
    ['172.31.255.255/12', '172.16.0.0/12', 'IPv4', 12, 'ac100000'],
    ['100.127.1.1/10', '100.64.0.0/10', 'IPv4', 10, '64400000'],
    ['8.8.8.8/0', '0.0.0.0/0', 'IPv4', 0, '00000000'],
    ['1.2.3.4', '1.2.3.4/32', 'IPv4', 32, '01020304'],
    ['1.2.3.4/32', '1.2.3.4/32', 'IPv4', 32, '01020304'],
    ['1.2.3.255/31', '1.2.3.254/31', 'IPv4', 31, '010203fe'],
    ['fc00::/7', 'fc00::/7', 'IPv6', 7, 'fc' + '0'.repeat(30)],
    ['fdff::1/7', 'fc00::/7', 'IPv6', 7, 'fc' + '0'.repeat(30)],
    ['febf::1/10', 'fe80::/10', 'IPv6', 10, 'fe80' + '0'.repeat(28)],
    ['2001:DB8::/32', '2001:db8::/32', 'IPv6', 32, '20010db8' + '0'.repeat(24)],
    ['::1', '::1/128', 'IPv6', 128, '0'.repeat(31) + '1'],
    ['::/0', '::/0', 'IPv6', 0, '0'.repeat(32)],
    ['2001:db8::ffff/127', '2001:db8::fffe/127', 'IPv6', 127, '20010db8' + '0'.repeat(20) + 'fffe'],
    // Text follows the shared RFC 5952 formatter (mixed notation for IPv4-mapped).
    ['::ffff:10.0.0.1/104', '::ffff:10.0.0.0/104', 'IPv6', 104, '0'.repeat(20) + 'ffff0a000000'],
  ];
  for (const [input, text, family, prefix, hex] of ok) {
    const c = parseCidr(input);
    t.same(c && { text: c.text, family: c.family, prefix: c.prefix, hex: c.bytes.toString('hex') }, { text, family, prefix, hex }, input);
  }
  for (const bad of [
    '1.2.3.4/33', '::/129', '1.2.3.4/', '/8', '1.2.3.4/-1', '1.2.3.4/+8', '1.2.3.4/ 8', '1.2.3.4/8 ', '1.2.3.4/08',
    '1.2.3.4/1e1', '1.2.3.4/8/8', '1.2.3.4/0x8', 'nonsense', '', '1.2.3/8', 'fe80::1%eth0/64', '10.0.0.0/8.0',
  ]) {
    t.equal(parseCidr(bad), undefined, `${JSON.stringify(bad)} rejected`);
  }
});
