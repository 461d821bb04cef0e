// report.ts: the JSON report matches report.schema.json for every kind of verdict, and the text
// names the verdict and its consequence in plain words.
import t from 'tap';
import { classify, type BindingAnswer, type Exchange, type Observations } from '../../src/nat-probe/classify.js';
import { buildReport, consequences, formatReport, noResponseSummary, SCHEMA_VERSION, udpSilence, UdpSilence } from '../../src/nat-probe/report.js';
import type { TurnResult } from '../../src/nat-probe/turn.js';
import type { TransportAddress } from '../../src/stun/ip.js';
import { loadReportSchema, validate } from './schema.js';

const A = (address: string, port: number): TransportAddress => ({ family: 'IPv4', address, port });
const PRIMARY = A('198.18.0.10', 3478);
const OTHER = A('198.18.0.11', 3479);
const ans = (m: TransportAddress, from: TransportAddress, extra: Partial<BindingAnswer> = {}): Exchange => ({
  sent: 1,
  answer: { source: from, xorMapped: m, plainMapped: m, ...extra },
});
const schema = loadReportSchema();

function natObs(x: number[], both: boolean, port: boolean, plainRewrite = false): Observations {
  const P = (p: number): TransportAddress => A('198.18.0.1', p);
  const local = A('198.19.0.2', 40000);
  const extra = plainRewrite ? { plainMapped: A('198.19.0.2', 40000) } : {};
  return {
    interfaceAddresses: ['198.19.0.2'],
    mapping: {
      local,
      primary: ans(P(x[0]!), PRIMARY, { otherAddress: OTHER, ...extra }),
      altPort: ans(P(x[1]!), A('198.18.0.10', 3479)),
      altIp: ans(P(x[2]!), A('198.18.0.11', 3478)),
      altBoth: ans(P(x[3]!), OTHER),
    },
    filtering: {
      local: A('198.19.0.2', 40001),
      base: ans(P(40001), PRIMARY),
      changeBoth: both ? ans(P(40001), OTHER) : { sent: 6 },
      changePort: port ? ans(P(40001), A('198.18.0.10', 3479)) : { sent: 6 },
    },
    hairpin: { sent: 6, received: false },
  };
}

const kinds: [string, Observations, RegExp][] = [
  ['full cone', natObs([40000, 40000, 40000, 40000], true, true), /Full Cone/],
  ['restricted', natObs([40000, 40000, 40000, 40000], false, true), /Restricted Cone/],
  ['port-restricted', natObs([40000, 40000, 40000, 40000], false, false), /Port Restricted Cone/],
  ['symmetric', natObs([1, 2, 3, 4], false, false), /RFC 3489 type: +Symmetric\n/],
  ['adm', natObs([1, 1, 3, 3], false, false), /RFC 3489 has no name/],
  ['alg', natObs([40000, 40000, 40000, 40000], false, false, true), /address-rewriting ALG present/],
  ['udp blocked', { interfaceAddresses: [], mapping: { local: A('198.19.0.2', 40000), primary: { sent: 5 } } }, /UDP Blocked/],
];

t.test('every kind of report validates against the schema and reads right', async (t) => {
  for (const [name, o, text] of kinds) {
    const v = classify(o);
    const r = buildReport({ server: '198.18.0.10:3478', observations: o, verdict: v, durationMs: 123, otherAddress: OTHER });
    t.same(validate(schema, JSON.parse(JSON.stringify(r))), [], `${name}: schema`);
    t.equal(r.schemaVersion, SCHEMA_VERSION);
    const out = formatReport(r);
    t.match(out, text, `${name}: text`);
    t.match(out, /What this means:/, `${name}: consequences section`);
  }
});

t.test('JSON keys are stable (a change here is a schema version bump)', async (t) => {
  const o = kinds[0]![1];
  const r = buildReport({ server: 's', observations: o, verdict: classify(o), durationMs: 1 });
  t.same(Object.keys(r), [
    'schemaVersion', 'server', 'status', 'local', 'mapped', 'nat', 'rfc5780', 'otherAddress', 'mapping', 'filtering', 'rfc3489',
    'portAllocation', 'portPreserved', 'hairpin', 'alg', 'algEvidence', 'lossEstimate', 'unknownReasons', 'lifetime', 'turn',
    'consequences', 'durationMs', 'tests',
  ]);
  t.same(r.tests.map((x) => x.name), [
    'mapping.primary', 'mapping.alt-ip', 'mapping.alt-ip-port', 'mapping.alt-port',
    'filtering.base', 'filtering.change-ip-port', 'filtering.change-port', 'hairpin',
  ]);
});

t.test('consequences in plain words', async (t) => {
  const base = { status: 'classified' as const, nat: 'nat' as const, mapping: 'endpoint-independent' as const, filtering: 'address-and-port-dependent' as const, hairpin: 'yes' as const, alg: 'absent' as const, lifetime: null, turn: null, rfc5780: true };
  t.match(consequences({ ...base, rfc3489: 'symmetric', mapping: 'address-and-port-dependent' }).join(' '), /will need TURN/);
  t.match(consequences({ ...base, rfc3489: 'port-restricted-cone' }).join(' '), /peers behind symmetric NATs will need TURN/);
  t.match(consequences({ ...base, rfc3489: 'port-restricted-cone', alg: 'present' })[0], /turn off "SIP ALG"/);
  t.match(consequences({ ...base, rfc3489: 'full-cone', hairpin: 'no' }).join(' '), /no hairpinning/);
  t.match(consequences({ ...base, status: 'no-response', rfc3489: 'udp-blocked' })[0], /blocks UDP or the server is down/);
  t.match(consequences({ ...base, rfc3489: 'unknown', rfc5780: false }).join(' '), /one address only/);
  t.match(
    consequences({ ...base, rfc3489: 'full-cone', lifetime: { seconds: 25, aliveAt: 20, deadAt: 30, maxSeconds: 60, complete: true } }).join(' '),
    /after 20–30 s/,
  );
  const turn = [
    { uri: 'turn:x', transport: 'udp' as const, server: 'x', ok: true, relayed: '1.2.3.4:5', ms: 1 },
    { uri: 'turn:x', transport: 'tcp' as const, server: 'x', ok: false, error: 'refused', ms: 1 },
  ];
  t.match(consequences({ ...base, rfc3489: 'full-cone', turn }).join(' '), /TURN works over UDP.*TURN failed over TCP/);
});

t.test('unknown parts carry their reason into text and JSON', async (t) => {
  const o = natObs([40000, 40000, 40000, 40000], false, false);
  o.filtering!.changeBoth = { sent: 2 };
  const r = buildReport({ server: 's', observations: o, verdict: classify(o), durationMs: 1 });
  t.equal(r.filtering, 'unknown');
  t.match(r.unknownReasons.filtering, /only 2/);
  t.match(formatReport(r), /filtering: +unknown \(only 2 request/);
  t.same(validate(schema, JSON.parse(JSON.stringify(r))), []);
});

t.test('the schema checker itself catches violations', async (t) => {
  const o = kinds[0]![1];
  const r = JSON.parse(JSON.stringify(buildReport({ server: 's', observations: o, verdict: classify(o), durationMs: 1 }))) as Record<string, unknown>;
  t.ok(validate(schema, { ...r, mapping: 'cone' }).length > 0, 'bad enum');
  t.ok(validate(schema, { ...r, extra: 1 }).length > 0, 'unknown key');
  const { nat: _nat, ...missing } = r;
  t.ok(validate(schema, missing).length > 0, 'missing key');
});

t.test('packet loss: only what was seen, never the prior', async (t) => {
  const local = A('198.18.0.2', 40000);
  const oneAddress: Observations = { interfaceAddresses: ['198.18.0.2'], mapping: { local, primary: ans(local, PRIMARY) }, hairpin: { sent: 6, received: false } };
  const clean = buildReport({ server: 's', observations: oneAddress, verdict: classify(oneAddress), durationMs: 1 });
  t.equal(clean.lossEstimate, 0, 'one answered exchange, sent once: no loss');
  t.notMatch(formatReport(clean), /packet loss|retransmi/, 'the text claims no loss');
  t.same(validate(schema, JSON.parse(JSON.stringify(clean))), []);

  const full = natObs([40000, 40000, 40000, 40000], false, false);
  t.equal(buildReport({ server: 's', observations: full, verdict: classify(full), durationMs: 1 }).lossEstimate, 0, 'a clean RFC 5780 run: 0');

  full.mapping.primary.sent = 3;
  const lossy = buildReport({ server: 's', observations: full, verdict: classify(full), durationMs: 1 });
  t.equal(lossy.lossEstimate, 0.286, 'two of seven transmissions of answered requests went unanswered');
  t.match(formatReport(lossy), /packet loss: +about 29 %/);
});

t.test('a small clean sample leaves the hairpin unsure without inventing loss', async (t) => {
  const o: Observations = { interfaceAddresses: ['198.19.0.2'], mapping: { local: A('198.19.0.2', 40000), primary: ans(A('198.18.0.1', 40000), PRIMARY) }, hairpin: { sent: 4, received: false } };
  const r = buildReport({ server: 's', observations: o, verdict: classify(o), durationMs: 1 });
  t.equal(r.hairpin, 'unknown', 'one answered exchange cannot vouch for four silent tries');
  t.match(r.unknownReasons.hairpin, /only 1 answered transmission/);
  t.notMatch(formatReport(r), /% loss|packet loss/);
});

t.test('no STUN answer over UDP: the conclusion weighs the TURN results for the same server', async (t) => {
  const server = A('198.18.0.10', 3478);
  const tr = (transport: TurnResult['transport'], srv: string, ok: boolean): TurnResult => ({ uri: `turn:${srv}`, transport, server: srv, ok, ms: 1, ...(ok ? { relayed: '198.18.0.10:50000' } : { error: 'no answer' }) });
  t.equal(udpSilence(server, undefined), UdpSilence.Untested, 'no --turn');
  t.equal(udpSilence(server, [tr('tls', '198.18.0.99:443', true)]), UdpSilence.Untested, 'another host says nothing about this one');
  t.equal(udpSilence(server, [tr('tls', '198.18.0.100:443', true)]), UdpSilence.Untested, 'an IP that merely starts like it is another host');
  t.equal(udpSilence(server, [tr('udp', '198.18.0.10:3478', false), tr('tcp', '198.18.0.10:3478', true)]), UdpSilence.UdpBlocked);
  t.equal(udpSilence(server, [tr('tls', '198.18.0.10:443', true)]), UdpSilence.UdpBlocked, 'another port of the same host counts');
  t.equal(udpSilence(server, [tr('udp', '198.18.0.10:3479', true), tr('tcp', '198.18.0.10:3479', true)]), UdpSilence.StunSilent, 'UDP to that host works');
  t.equal(udpSilence(server, [tr('tcp', '198.18.0.10:3478', false)]), UdpSilence.StreamFailed);
  const v6 = (address: string): TransportAddress => ({ family: 'IPv6', address, port: 3478 });
  t.equal(udpSilence(v6('2001:db8::1'), [tr('tls', '[2001:db8::1]:5349', true)]), UdpSilence.UdpBlocked, 'IPv6');
  t.equal(udpSilence(v6('2001:DB8:0::1'), [tr('tls', '[2001:db8::1]:5349', true)]), UdpSilence.UdpBlocked, 'IPv6 written another way');
  t.equal(udpSilence(server, [tr('tls', 'turn.example.org', false)]), UdpSilence.Untested, 'a name that did not resolve is no evidence');

  const o: Observations = { interfaceAddresses: [], mapping: { local: A('198.19.0.2', 40000), primary: { sent: 5 } } };
  const blocked = buildReport({ server: '198.18.0.10', serverAddress: server, observations: o, verdict: classify(o), durationMs: 1, turn: [tr('tcp', '198.18.0.10:3478', true)] });
  t.equal(blocked.status, 'no-response', 'the status keeps its meaning: no STUN answer over UDP');
  t.match(blocked.consequences[0], /the server is up, so UDP is blocked on the path/);
  t.notMatch(blocked.consequences[0], /server is down|--turn/, 'neither the ruled-out cause nor the flag already given');
  const text = formatReport(blocked);
  t.notMatch(text, /server is down|--turn/);
  t.same(validate(schema, JSON.parse(JSON.stringify(blocked))), []);

  t.match(noResponseSummary(UdpSilence.UdpBlocked, true), /UDP is blocked on the path; the server is up/);
  t.notMatch(noResponseSummary(UdpSilence.UdpBlocked, true), /server is down|--turn/);
  t.notMatch(noResponseSummary(UdpSilence.StreamFailed, true), /--turn/);
  t.notMatch(noResponseSummary(UdpSilence.Untested, true), /--turn/, '--turn given (for another host): no flag suggested');
  t.match(noResponseSummary(UdpSilence.Untested, false), /UDP is blocked here or the server is down.*--turn turns:HOST:443/);
  t.notMatch(consequences({ ...(blocked as Parameters<typeof consequences>[0]), turn: [] }, UdpSilence.Untested)[0], /--turn/);
  t.match(consequences({ ...(blocked as Parameters<typeof consequences>[0]), turn: null })[0], /--turn turns:HOST:443/, 'without --turn it is suggested');
});
