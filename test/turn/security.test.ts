/**
 * Regression tests for /work/shared/reference/security.md: one block per row of the "Past TURN-server
 * vulnerabilities" table, plus the peer-policy cases (server's own address, cloud metadata, IPv6
 * forms) and the stunner pentest tool's checks. Each test asserts the engine's decision (error code
 * or drop reason), with a control showing the same request succeeds for an acceptable peer.
 *
 * The "default" engine is built the way the daemon builds it: src/transport/turn-setup.ts
 * turnEngineConfig() from the config DEFAULTS (so its peer policy is the default one), with users
 * and quotas set explicitly.
 */
import t from 'tap';
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { DEFAULTS, type ServerConfig } from '../../src/config.js';
import { AttributeType } from '../../src/stun/constants.js';
import type { TransportAddress } from '../../src/stun/ip.js';
import { getAttribute } from '../../src/stun/message.js';
import { SOFTWARE_MAX_BYTES } from '../../src/stun/server.js';
import { openRelay, type RelaySocket } from '../../src/transport/relay.js';
import { jsDataPlane } from '../../src/transport/datagram.js';
import { turnEngineConfig } from '../../src/transport/turn-setup.js';
import type { TurnEngineConfig } from '../../src/turn/context.js';
import { DEFAULT_UNAUTH_LIMIT } from '../../src/turn/engine.js';
import { NONCE_LENGTH, NonceIssuer } from '../../src/turn/nonce.js';
import {
  PEER_A,
  PEER_B,
  REALM,
  SERVER,
  T0,
  TurnTestClient,
  USERS,
  allocateRequest,
  appendAttributes,
  bindingRequest,
  createPermissionRequest,
  makeEngine,
  newClientAddress,
  requestedFamily,
  responseOf,
  textAttr,
  verdict,
  xorPeer,
} from '../helpers/turn-client.js';

const S = 1000;


interface Opts {
  allowPeers?: string[];
  serverAddresses?: TransportAddress[];
  ipv6?: boolean;
  software?: string | null;
  quotas?: ServerConfig['quotas'];
}

/** The daemon's TURN config for DEFAULTS plus users, explicit quotas and the given listeners. */
function defaultConfig(o: Opts = {}): TurnEngineConfig {
  const server: ServerConfig = {
    ...DEFAULTS,
    realm: REALM,
    users: { ...USERS },
    secrets: [],
    allowPeers: o.allowPeers ?? [],
    denyPeers: [],
    software: o.software === undefined ? 'turnkit' : o.software,
    quotas: o.quotas ?? { perUser: 10, perClientIp: 100, total: 0 },
    defaultLifetime: 600,
    maxLifetime: 3600,
    maxPermissions: 64,
    nonceLifetime: 600,
  };
  const config = turnEngineConfig(server, o.serverAddresses ?? [SERVER], new NonceIssuer({ usernameAnonymity: false }));
  if (o.ipv6) config.relayFamilies = new Set(['IPv4', 'IPv6']);
  return config;
}

function engineWith(o: Opts = {}) {
  const config = defaultConfig(o);
  const engine = makeEngine(config);
  const client = (opts: ConstructorParameters<typeof TurnTestClient>[1] = {}) => new TurnTestClient(engine, opts);
  return { config, engine, client };
}

/** An allocated client (IPv4 relay, or IPv6 when asked). */
function allocated(o: Opts = {}, family: 'IPv4' | 'IPv6' = 'IPv4') {
  const e = engineWith(o);
  const c = e.client();
  c.allocate(T0, family === 'IPv6' ? { extra: [requestedFamily(2)] } : {});
  return { ...e, c };
}

const v4 = (address: string, port = 5000): TransportAddress => ({ family: 'IPv4', address, port });
const v6 = (address: string, port = 5000): TransportAddress => ({ family: 'IPv6', address, port });

/** CreatePermission and ChannelBind verdicts for one peer on a fresh allocation each (channels/permissions do not interfere). */
function verdictsFor(peer: TransportAddress, o: Opts = {}) {
  const family = peer.family;
  if (family === 'IPv6') o = { ...o, ipv6: true };
  const a = allocated(o, family);
  const perm = a.c.createPermission(T0 + S, [peer]);
  const b = allocated(o, family);
  const bind = b.c.channelBind(T0 + S, 0x4000, peer);
  return { perm, bind, a, b };
}

// -------------------------------------------------------------------------------------------------
// Row: loopback peer (coturn CVE-2018-4058)

t.test('CVE-2018-4058: loopback peers → 403 on CreatePermission and ChannelBind (default policy)', async (t) => {
  for (const ip of ['127.0.0.1', '127.0.0.2', '127.255.255.254']) {
    const { perm, bind, a } = verdictsFor(v4(ip));
    t.equal(verdict(perm), 403, `CreatePermission ${ip}`);
    t.equal(verdict(bind), 403, `ChannelBind ${ip}`);
    t.equal(perm.kind === 'respond' ? perm.note?.event : undefined, 'peer-denied', 'counted as peer-denied');
    t.equal(verdict(a.c.sendTo(T0 + 2 * S, v4(ip), Buffer.from('x'))), 'relay-drop:no-permission', `Send to ${ip} dropped`);
    t.equal(a.engine.handlePeerPacket(a.c.allocation!, ip, 5000, Buffer.from('x'), T0 + 2 * S).kind, 'relay-drop', `packets from ${ip} dropped`);
  }
  // Control: a public peer is allowed by the same policy, so the 403s are about the address.
  const { perm, bind } = verdictsFor(v4('8.8.8.8'));
  t.equal(verdict(perm), 'success', 'control: 8.8.8.8 CreatePermission');
  t.equal(verdict(bind), 'success', 'control: 8.8.8.8 ChannelBind');
});

// -------------------------------------------------------------------------------------------------
// Row: 0.0.0.0 and :: (coturn CVE-2020-26262)

t.test('CVE-2020-26262: 0.0.0.0/8 → 403; :: refused on an IPv4 relay and 403 on an IPv6 relay', async (t) => {
  for (const ip of ['0.0.0.0', '0.1.2.3']) {
    const { perm, bind } = verdictsFor(v4(ip));
    t.equal(verdict(perm), 403, `CreatePermission ${ip}`);
    t.equal(verdict(bind), 403, `ChannelBind ${ip}`);
  }
  {
    // XOR-PEER-ADDRESS :: on an IPv4 allocation: 443 (family) or 403 (policy); either refuses it.
    const { perm, bind } = verdictsFor(v6('::'));
    // verdictsFor allocates IPv6 for an IPv6 peer; do the IPv4-relay case by hand.
    const a = allocated();
    const p4 = verdict(a.c.createPermission(T0 + S, [v6('::')]));
    const b4 = verdict(a.c.channelBind(T0 + S, 0x4000, v6('::')));
    t.ok(p4 === 403 || p4 === 443, `IPv4 relay, CreatePermission :: refused (${p4})`);
    t.ok(b4 === 403 || b4 === 443, `IPv4 relay, ChannelBind :: refused (${b4})`);
    t.equal(a.c.allocation!.permissions.size, 0, 'no permission installed');
    t.equal(verdict(perm), 403, 'IPv6 relay, CreatePermission :: → 403');
    t.equal(verdict(bind), 403, 'IPv6 relay, ChannelBind :: → 403');
  }
  const control = verdictsFor(v6('2606:4700::1111'), { ipv6: true });
  t.equal(verdict(control.perm), 'success', 'control: a global IPv6 peer is allowed on an IPv6 relay');
});

// -------------------------------------------------------------------------------------------------
// Row: IPv4-mapped IPv6 peer (coturn CVE-2026-27624) and the other IPv6 forms

t.test('CVE-2026-27624: ::ffff:127.0.0.1 refused; every IPv6 form of a denied IPv4 → 403', async (t) => {
  {
    const a = allocated();
    const p = verdict(a.c.createPermission(T0 + S, [v6('::ffff:127.0.0.1')]));
    const b = verdict(a.c.channelBind(T0 + S, 0x4000, v6('::ffff:127.0.0.1')));
    t.ok(p === 403 || p === 443, `IPv4 relay: CreatePermission refused (${p})`);
    t.ok(b === 403 || b === 443, `IPv4 relay: ChannelBind refused (${b})`);
  }
  const forms: Array<[string, string]> = [
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:7f00:2', 'IPv4-mapped loopback, hex'],
    ['::ffff:0.0.0.0', 'IPv4-mapped this-network'],
    ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['::7f00:1', 'IPv4-compatible loopback'],
    ['64:ff9b::7f00:1', 'NAT64 loopback'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 metadata'],
    ['2002:7f00:1::1', '6to4 loopback'],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'Teredo (client 127.0.0.1)'],
    ['::1', 'IPv6 loopback'],
    ['fe80::1', 'link-local'],
    ['fd00:ec2::254', 'AWS IMDS over IPv6 (unique local)'],
    ['ff02::1', 'multicast'],
  ];
  for (const [ip, what] of forms) {
    const { perm, bind } = verdictsFor(v6(ip), { ipv6: true });
    t.equal(verdict(perm), 403, `CreatePermission ${ip} (${what})`);
    t.equal(verdict(bind), 403, `ChannelBind ${ip} (${what})`);
  }
});

// -------------------------------------------------------------------------------------------------
// Row: attributes after MESSAGE-INTEGRITY

t.test('attributes appended after MESSAGE-INTEGRITY are ignored, not honoured', async (t) => {
  const { c, engine } = allocated({ allowPeers: ['198.18.0.0/15'] });
  // A signed CreatePermission for PEER_A with XOR-PEER-ADDRESSes appended after MI: a loopback peer
  // (would turn the answer into 403 if honoured) and PEER_B (would get a permission if honoured).
  const req = createPermissionRequest(c.creds(), [PEER_A]);
  const tampered = appendAttributes(req.data, [xorPeer(v4('127.0.0.1'), req.transactionId), xorPeer(PEER_B, req.transactionId)]);
  const out = c.send(tampered, T0 + S);
  t.equal(verdict(out), 'success', 'the signed part is honoured');
  t.ok(c.signedByMe(responseOf(out)));
  const alloc = c.allocation!;
  t.equal(engine.handlePeerPacket(alloc, PEER_A.address, 1, Buffer.from('x'), T0 + 2 * S).kind, 'to-client', 'PEER_A permitted');
  t.equal(engine.handlePeerPacket(alloc, PEER_B.address, 1, Buffer.from('x'), T0 + 2 * S).kind, 'relay-drop', 'appended PEER_B not permitted');
  t.same([...alloc.permissions.keys()], [PEER_A.address]);

  // Without MI the same appended attributes are simply part of an unsigned request: 401.
  const unsigned = allocateRequest(undefined).data;
  t.equal(verdict(c.send(appendAttributes(unsigned, [xorPeer(PEER_B, req.transactionId)]), T0 + S)), 401);
});

// -------------------------------------------------------------------------------------------------
// Row: predictable nonces / relay ports (coturn CVE-2025-69217)

t.test('nonces: unpredictable, bound to the client IP and the server key', async (t) => {
  const { engine, client, config } = engineWith();
  const c = client();
  const seen = new Set<string>();
  // 15 stays under the per-source limit on unauthenticated answers (DEFAULT_UNAUTH_LIMIT.burst).
  const n = Math.min(15, DEFAULT_UNAUTH_LIMIT.burst - 2);
  for (let i = 0; i < n; i++) {
    const nonce = textAttr(responseOf(c.send(allocateRequest(undefined).data, T0)), AttributeType.Nonce)!;
    t.equal(nonce.length, NONCE_LENGTH);
    seen.add(nonce);
    if (i === 0) t.equal(config.nonces.check(nonce, T0, c.source.address), 'valid');
  }
  t.equal(seen.size, n, `${n} challenges at the same instant from one IP: ${n} different nonces`);

  // A nonce issued to one IP does not authenticate requests from another (→ 438, nothing allocated).
  const other = client({ source: newClientAddress('198.51.100.99') });
  other.nonce = c.nonce;
  t.equal(verdict(other.requestAllocation(T0)), 438, 'nonce of another IP');
  // A nonce with one character changed is not ours.
  const forged = client();
  forged.nonce = c.nonce!.slice(0, -1) + (c.nonce!.endsWith('A') ? 'B' : 'A');
  t.equal(verdict(forged.requestAllocation(T0)), 438, 'tampered nonce');
  // The key is random per issuer: another server's nonces are not accepted.
  const foreign = new NonceIssuer().mint(T0, c.source.address);
  t.equal(config.nonces.check(foreign, T0, c.source.address), 'invalid', 'a nonce minted under another random key');
  t.equal(engine.allocations.size, 0);
});

/** Opens relays in a small random range of high ports on 127.0.0.1 and closes them at teardown. */
function relayRange(t: Tap) {
  const min = 20000 + 2 * randomInt(0, 19000);
  const range = { min, max: min + 63 };
  const open: RelaySocket[] = [];
  const plane = jsDataPlane();
  t.teardown(async () => {
    await Promise.all(open.map((r) => r.socket.close()));
  });
  return {
    range,
    async open(opts: { even?: boolean; reserveNext?: boolean } = {}) {
      const r = await openRelay(plane, '127.0.0.1', range, opts);
      if (r) open.push(r.relay, ...(r.reserved ? [r.reserved] : []));
      return r;
    },
    async close(r: RelaySocket) {
      open.splice(open.indexOf(r), 1);
      await r.socket.close();
    },
  };
}
type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

t.test('relay ports: drawn at random from the configured range; EVEN-PORT even; R bit holds port+1', async (t) => {
  const rr = relayRange(t);
  const inRange = (p: number) => p >= rr.range.min && p <= rr.range.max;
  const a = await rr.open();
  const b = await rr.open();
  t.ok(a && b, 'two relays opened');
  if (!a || !b) return;
  t.ok(inRange(a.relay.address.port) && inRange(b.relay.address.port), `ports ${a.relay.address.port}, ${b.relay.address.port} in ${rr.range.min}-${rr.range.max}`);
  t.not(a.relay.address.port, b.relay.address.port);
  t.equal(a.relay.address.address, '127.0.0.1');

  // Open and close 16 times: a sequential or lowest-free allocator would hand out the same port or
  // a run of neighbours; random draws from 64 ports give at least 4 different ones (P(fewer) < 1e-15).
  const ports: number[] = [];
  for (let i = 0; i < 16; i++) {
    const r = await rr.open();
    if (!r) continue;
    ports.push(r.relay.address.port);
    await rr.close(r.relay);
  }
  t.equal(ports.length, 16);
  t.ok(new Set(ports).size >= 4, `varied ports: ${ports.join(',')}`);
  t.ok(ports.every(inRange));

  for (let i = 0; i < 8; i++) {
    const r = await rr.open({ even: true });
    t.ok(r && r.relay.address.port % 2 === 0 && inRange(r.relay.address.port), `EVEN-PORT → even (${r?.relay.address.port})`);
  }

  const held = await rr.open({ even: true, reserveNext: true });
  t.ok(held?.reserved, 'reserved socket returned');
  if (held?.reserved) {
    t.equal(held.relay.address.port % 2, 0);
    t.equal(held.reserved.address.port, held.relay.address.port + 1, 'R bit: port + 1 bound too');
    const busy = await new Promise<string>((resolve) => {
      const s = dgram.createSocket('udp4');
      s.once('error', (e: NodeJS.ErrnoException) => {
        s.close();
        resolve(e.code ?? 'error');
      });
      s.bind({ address: '127.0.0.1', port: held.reserved!.address.port, exclusive: true }, () => s.close(() => resolve('bound')));
    });
    t.equal(busy, 'EADDRINUSE', 'the reserved port is really held');
  }
});

// -------------------------------------------------------------------------------------------------
// Row: ChannelData length lie (stunner "memoryleak")

t.test('stunner memoryleak: ChannelData with a length past the datagram is dropped, nothing relayed', async (t) => {
  const { c } = allocated({ allowPeers: ['198.18.0.0/15'] });
  t.equal(verdict(c.channelBind(T0 + S, 0x4000, PEER_A)), 'success');
  for (const [claimed, actual] of [
    [0xffff, 4],
    [5, 4],
    [1, 0],
  ] as const) {
    const frame = Buffer.alloc(4 + actual, 0x61);
    frame.writeUInt16BE(0x4000, 0);
    frame.writeUInt16BE(claimed, 2);
    t.equal(verdict(c.send(frame, T0 + 2 * S)), 'relay-drop:malformed', `claims ${claimed}, carries ${actual}`);
  }
  const honest = Buffer.from([0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4]);
  const out = c.send(honest, T0 + 2 * S);
  t.ok(out.kind === 'send-peer' && out.data.length === 4, 'control: honest length relayed, exactly its bytes');
});

// -------------------------------------------------------------------------------------------------
// Row: amplification

t.test('amplification: the 401 to a minimal Allocate stays small, even with a long SOFTWARE', async (t) => {
  const { client } = engineWith({ software: 'x'.repeat(700) });
  const c = client();
  const req = allocateRequest(undefined).data;
  t.equal(req.length, 28, 'minimal Allocate: header + REQUESTED-TRANSPORT');
  const out = c.send(req, T0);
  t.equal(verdict(out), 401);
  const m = responseOf(out);
  const pad = (n: number) => Math.ceil(n / 4) * 4;
  // What a 401 must carry (RFC 8489 §9.2.4): ERROR-CODE (4 + "Unauthenticated"), REALM, NONCE,
  // PASSWORD-ALGORITHMS (two entries of 4 bytes); plus SOFTWARE capped at SOFTWARE_MAX_BYTES.
  const bound =
    20 +
    (4 + pad(4 + 'Unauthenticated'.length)) +
    (4 + pad(Buffer.byteLength(REALM))) +
    (4 + pad(NONCE_LENGTH)) +
    (4 + 8) +
    (4 + pad(SOFTWARE_MAX_BYTES));
  t.ok(out.kind === 'respond' && out.data.length <= bound, `401 is ${out.kind === 'respond' ? out.data.length : '?'} bytes, bound ${bound}`);
  t.ok(out.kind === 'respond' && out.data.length < 200, 'under 200 bytes (≤ 7× a 28-byte request, and rate limited per source)');
  t.same(
    m.attributes.map((a) => a.type).sort(),
    [AttributeType.ErrorCode, AttributeType.Realm, AttributeType.Nonce, AttributeType.PasswordAlgorithms, AttributeType.Software].sort(),
    'nothing else (no padding tricks)',
  );
  t.ok((getAttribute(m, AttributeType.Software)?.value.length ?? 0) <= SOFTWARE_MAX_BYTES, 'SOFTWARE capped');

  // Binding: the answer is the request plus XOR-MAPPED-ADDRESS and the capped SOFTWARE at most.
  const bind = c.send(bindingRequest(), T0);
  t.ok(bind.kind === 'respond' && bind.data.length <= 20 + 12 + 4 + SOFTWARE_MAX_BYTES, 'Binding response bounded');

  // And the 401s per source are rate limited: a spoofed flood gets at most the burst answered.
  const flood = client({ source: newClientAddress('198.51.100.66') });
  let answered = 0;
  for (let i = 0; i < 500; i++) if (flood.send(req, T0).kind === 'respond') answered++;
  t.equal(answered, DEFAULT_UNAUTH_LIMIT.burst, `500 requests at once → ${answered} answers`);

  // An IPv6 subscriber holds a whole /64: 500 of its addresses share one budget, not 500 budgets.
  let fromSubnet = 0;
  for (let i = 1; i <= 500; i++) if (client({ source: newClientAddress(`2001:db8:77:1::${i.toString(16)}`) }).send(req, T0).kind === 'respond') fromSubnet++;
  t.equal(fromSubnet, DEFAULT_UNAUTH_LIMIT.burst, `500 addresses of one IPv6 /64 → ${fromSubnet} answers`);
  t.equal(client({ source: newClientAddress('2001:db8:77:2::1') }).send(req, T0).kind, 'respond', 'the next /64 has its own budget');
});

// -------------------------------------------------------------------------------------------------
// Row: credential brute force

t.test('brute force: wrong-password Allocates from one IP hit the rate limit; other IPs unaffected', async (t) => {
  const { client, engine } = engineWith();
  const attacker = client({ source: newClientAddress('198.51.100.50'), password: 'guess' });
  attacker.challenge(T0);
  const outcomes: string[] = [];
  for (let i = 0; i < 100; i++) {
    attacker.password = `guess-${i}`;
    outcomes.push(String(verdict(attacker.send(allocateRequest(attacker.creds()).data, T0 + i))));
  }
  t.ok(outcomes.includes('relay-drop:rate-limited'), 'rate limited eventually');
  t.ok(outcomes.every((o) => o === '401' || o === 'relay-drop:rate-limited'), 'never anything but 401 or a drop');
  const firstLimited = outcomes.indexOf('relay-drop:rate-limited');
  t.ok(firstLimited > 0 && firstLimited <= DEFAULT_UNAUTH_LIMIT.burst, `limited after ${firstLimited} failures`);
  t.equal(verdict(client({ source: newClientAddress('198.51.100.51') }).requestAllocation(T0 + 100)), 'allocate', 'alice from another IP is served');
  t.equal(engine.allocations.size, 0);
});

t.test('brute force: a limited source cannot keep guessing (the right guess is not accepted while limited)', async (t) => {
  const { client } = engineWith();
  const attacker = client({ source: newClientAddress('198.51.100.52'), password: 'guess' });
  attacker.challenge(T0);
  let limited = 0;
  for (let i = 0; i < 1000; i++) {
    attacker.password = `guess-${i}`;
    if (verdict(attacker.send(allocateRequest(attacker.creds()).data, T0)) === 'relay-drop:rate-limited') limited++;
  }
  t.ok(limited >= 1000 - DEFAULT_UNAUTH_LIMIT.burst, `${limited} of 1000 wrong guesses dropped`);
  // stunner brute-password looks for the one answer that is not a 401; silence on wrong guesses does not hide it.
  attacker.password = USERS.alice!;
  const right = attacker.send(allocateRequest(attacker.creds()).data, T0);
  t.equal(verdict(right), 'relay-drop:rate-limited', `the correct guess from the limited source got ${verdict(right)}`);
});

t.test('brute force: guesses for one username from many IPs are limited too', async (t) => {
  const { client } = engineWith();
  let limited = 0;
  for (let i = 0; i < 300; i++) {
    const c = client({ source: newClientAddress(`203.0.${i >> 8}.${i & 0xff}`), password: `guess-${i}` });
    if (verdict(c.requestAllocation(T0)) === 'relay-drop:rate-limited') limited++;
  }
  t.ok(limited > 0, `${limited} of 300 single guesses from distinct IPs were limited`);
});

t.test('brute force on a username does not lock out its owner at a source that signed in before', async (t) => {
  const { client } = engineWith();
  const owner = client({ source: newClientAddress('198.51.100.10') });
  t.equal(verdict(owner.allocate(T0).outcome), 'success', 'the owner signs in first');
  for (let i = 0; i < 50; i++) client({ source: newClientAddress(`203.0.113.${i}`), password: `guess-${i}` }).requestAllocation(T0);
  const stranger = client({ source: newClientAddress('198.51.100.11') });
  t.equal(verdict(stranger.requestAllocation(T0)), 'relay-drop:rate-limited', 'a new source for that name is held back while it is under attack');
  const again = client({ source: newClientAddress(owner.source.address) });
  t.equal(verdict(again.requestAllocation(T0)), 'allocate', 'the owner, from the source it used before, still gets in');
});

t.test('rate limiting survives a wall-clock step back', async (t) => {
  const { client } = engineWith();
  const c = client({ source: newClientAddress('198.51.100.77') });
  t.equal(verdict(c.send(allocateRequest(undefined).data, T0)), 401);
  // The clock steps back an hour (NTP correction); this client's next few challenges must still be answered.
  const back = T0 - 3600 * S;
  t.equal(verdict(c.send(allocateRequest(undefined).data, back)), 401, 'answered after the step');
  t.equal(verdict(c.send(allocateRequest(undefined).data, back + 5 * S)), 401, 'and a little later');
});

// -------------------------------------------------------------------------------------------------
// Row: allocation flood

t.test('allocation flood: the 11th allocation of a user → 486 (quota perUser 10), total → 508', async (t) => {
  {
    const { client, engine } = engineWith({ quotas: { perUser: 10, perClientIp: 100, total: 0 } });
    for (let i = 0; i < 10; i++) client().allocate(T0);
    const out = client().requestAllocation(T0);
    t.equal(verdict(out), 486);
    t.same(out.kind === 'respond' ? out.note : undefined, { event: 'quota', which: 'user' }, 'counted as a quota refusal');
    t.equal(engine.allocations.size, 10);
  }
  {
    const { client } = engineWith({ quotas: { perUser: 0, perClientIp: 0, total: 2 } });
    client().allocate(T0);
    client({ username: 'bob' }).allocate(T0);
    t.equal(verdict(client({ username: 'bob' }).requestAllocation(T0)), 508);
  }
});

t.test('allocation flood: Allocates sent faster than relays open still respect the quota', async (t) => {
  const { client, engine } = engineWith({ quotas: { perUser: 2, perClientIp: 100, total: 0 } });
  const clients = Array.from({ length: 5 }, () => client());
  const outcomes = clients.map((c) => c.requestAllocation(T0));
  const pending = outcomes.filter((o) => o.kind === 'allocate').length;
  t.ok(pending <= 2, `${pending} of 5 concurrent Allocates for a quota of 2 went on to open a relay`);
  outcomes.forEach((o, i) => {
    if (o.kind === 'allocate') clients[i]!.complete(o.pending);
  });
  t.ok(engine.allocations.size <= 2, `${engine.allocations.size} allocations for alice with a quota of 2`);
});

t.test('stunner brute-transports over UDP: every REQUESTED-TRANSPORT but UDP → 442, TCP → 400 (RFC 6062 §5.1)', async (t) => {
  const { client } = engineWith();
  const c = client();
  c.challenge(T0);
  for (const proto of [0, 1, 58, 132, 255]) {
    t.equal(verdict(c.send(allocateRequest(c.creds(), { transport: proto }).data, T0)), 442, `protocol ${proto}`);
  }
  t.equal(verdict(c.send(allocateRequest(c.creds(), { transport: 6 }).data, T0)), 400, 'protocol 6 (TCP) needs a TCP or TLS control connection');
});

// -------------------------------------------------------------------------------------------------
// Peer policy: the server itself, cloud metadata, private ranges (stunner range-scan / socks)

t.test("the server's own listening address is refused even when 127.0.0.0/8 is allowed", async (t) => {
  const listener = v4('127.0.0.1', 3478);
  const o: Opts = { allowPeers: ['127.0.0.0/8'], serverAddresses: [listener, v4('127.0.0.1', 5349)] };
  {
    const { c } = allocated(o);
    const out = c.channelBind(T0 + S, 0x4000, listener);
    t.equal(verdict(out), 403, 'ChannelBind to 127.0.0.1:3478');
    t.equal(out.kind === 'respond' ? out.note?.event : undefined, 'peer-denied');
    t.equal(verdict(c.channelBind(T0 + S, 0x4001, v4('127.0.0.1', 5349))), 403, 'ChannelBind to the TLS listener 127.0.0.1:5349');
    t.equal(verdict(c.channelBind(T0 + S, 0x4002, v4('127.0.0.1', 5000))), 'success', 'control: another port on 127.0.0.1 (allowed)');
  }
  {
    const { c } = allocated(o);
    t.equal(verdict(c.createPermission(T0 + S, [v4('127.0.0.1')])), 'success', 'a permission for the IP is allowed (127/8 allowed)');
    const denied = c.sendTo(T0 + 2 * S, listener, Buffer.from('x'));
    t.equal(verdict(denied), 'relay-drop:peer-denied', 'Send to 127.0.0.1:3478 dropped');
    t.equal(denied.kind === 'relay-drop' ? denied.note?.event : undefined, 'peer-denied');
    t.equal(c.sendTo(T0 + 2 * S, v4('127.0.0.1', 5000), Buffer.from('x')).kind, 'send-peer', 'control: Send to 127.0.0.1:5000 relayed');
  }
  {
    const { c } = allocated({ ...o, ipv6: true }, 'IPv6');
    t.equal(verdict(c.channelBind(T0 + S, 0x4000, v6('::ffff:127.0.0.1', 3478))), 403, 'IPv6 relay: ::ffff:127.0.0.1:3478');
    t.equal(verdict(c.channelBind(T0 + S, 0x4001, v6('::ffff:127.0.0.1', 5000))), 'success', 'control: ::ffff:127.0.0.1:5000');
  }
  {
    // A wildcard listener (0.0.0.0:3478) covers every local IP at that port.
    const { c } = allocated({ allowPeers: ['198.18.0.0/15'], serverAddresses: [v4('0.0.0.0', 3478)] });
    t.equal(verdict(c.channelBind(T0 + S, 0x4000, v4('198.18.0.2', 3478))), 403, 'wildcard listener port');
    t.equal(verdict(c.channelBind(T0 + S, 0x4001, v4('198.18.0.2', 3479))), 'success', 'control: next port');
  }
});

t.test('cloud metadata and private ranges → 403 (stunner range-scan / socks)', async (t) => {
  const denied = [
    '169.254.169.254', // AWS/GCP/Azure/OpenStack metadata
    '169.254.0.1',
    '100.100.100.200', // Alibaba metadata
    '168.63.129.16', // Azure wire server
    '10.0.0.1',
    '172.16.0.1',
    '172.31.255.254',
    '192.168.1.1',
    '100.64.0.1',
    '192.0.0.1',
    '192.0.2.1',
    '198.18.0.1',
    '198.51.100.1',
    '203.0.113.1',
    '224.0.0.1',
    '240.0.0.1',
    '255.255.255.255',
  ];
  for (const ip of denied) {
    const { perm, bind, a } = verdictsFor(v4(ip));
    t.equal(verdict(perm), 403, `CreatePermission ${ip}`);
    t.equal(verdict(bind), 403, `ChannelBind ${ip}`);
    t.equal(verdict(a.c.sendTo(T0 + 2 * S, v4(ip), Buffer.from('GET / HTTP/1.0\r\n\r\n'))), 'relay-drop:no-permission', `Send to ${ip} dropped`);
  }
  // Just outside the denied ranges: allowed.
  for (const ip of ['172.32.0.1', '100.128.0.1', '169.255.0.1', '11.0.0.1']) {
    t.equal(verdict(verdictsFor(v4(ip)).perm), 'success', `control: ${ip} allowed`);
  }
});
