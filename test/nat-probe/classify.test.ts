// classify.ts over tables of observations: every RFC 5780 / RFC 3489 path, plus partial,
// lossy and contradictory observations that must give "unknown" with a reason, never a guess.
import t from 'tap';
import {
  classify,
  classifyAlg,
  classifyFiltering,
  classifyHairpin,
  classifyMapping,
  classifyNatPresence,
  classifyPortAllocation,
  classifyRfc3489,
  doubtLoss,
  lossEvidence,
  negativeDoubt,
  observedLoss,
  nextLifetimeRound,
  updateLifetimeBounds,
  type BindingAnswer,
  type Exchange,
  type LossEvidence,
  type Observations,
} from '../../src/nat-probe/classify.js';
import { encodeAddress } from '../../src/stun/attributes/address.js';
import type { TransportAddress } from '../../src/stun/ip.js';

const A = (address: string, port: number): TransportAddress => ({ family: 'IPv4', address, port });
const PRIMARY = A('198.18.0.10', 3478);
const ALT_PORT = A('198.18.0.10', 3479);
const ALT_IP = A('198.18.0.11', 3478);
const OTHER = A('198.18.0.11', 3479);
const LOCAL_M = A('198.19.0.2', 40000);
const LOCAL_F = A('198.19.0.2', 40001);
const LOCAL_H = A('198.19.0.2', 40002);
const IFACES = ['127.0.0.1', '198.19.0.2'];

function answer(mapped: TransportAddress, from: TransportAddress, extra: Partial<BindingAnswer> = {}): BindingAnswer {
  return { source: from, xorMapped: mapped, plainMapped: mapped, responseOrigin: from, ...extra };
}
function ok(mapped: TransportAddress, from: TransportAddress, sent = 1, extra: Partial<BindingAnswer> = {}): Exchange {
  return { sent, answer: answer(mapped, from, extra) };
}
const none = (sent = 6): Exchange => ({ sent });
/** Loss evidence of a run: `lost` of `sent` transmissions of answered requests went unanswered. */
const seen = (lost: number, sent: number): LossEvidence => ({ lost, sent });
/** A clean run of ten answered requests (doubt rate 0.045). */
const CLEAN = seen(0, 10);

/** Mapping observations: the external address seen from each of the four server addresses. */
function mapping(local: TransportAddress, x: [TransportAddress, TransportAddress, TransportAddress, TransportAddress]): Observations['mapping'] {
  return {
    local,
    primary: ok(x[0], PRIMARY, 1, { otherAddress: OTHER }),
    altPort: ok(x[1], ALT_PORT),
    altIp: ok(x[2], ALT_IP),
    altBoth: ok(x[3], OTHER),
  };
}

interface Case {
  name: string;
  o: Observations;
  want: Partial<ReturnType<typeof classify>>;
}

/** A NAT at 198.18.0.1 whose filtering socket maps to `fx`; `both`/`port`: whether the change tests are answered. */
function natCase(x: [TransportAddress, TransportAddress, TransportAddress, TransportAddress], fx: TransportAddress, both: boolean, port: boolean, hairpin = false): Observations {
  return {
    interfaceAddresses: IFACES,
    mapping: mapping(LOCAL_M, x),
    filtering: {
      local: LOCAL_F,
      base: ok(fx, PRIMARY),
      changeBoth: both ? ok(fx, OTHER) : none(),
      changePort: port ? ok(fx, ALT_PORT) : none(),
    },
    hairpin: hairpin ? { sent: 1, received: true, source: A('198.18.0.1', 40002) } : { sent: 6, received: false },
    extraMappings: [{ local: LOCAL_H, mapped: A('198.18.0.1', 40002) }],
  };
}

const PUB = (port: number): TransportAddress => A('198.18.0.1', port);
const EIM4 = [PUB(40000), PUB(40000), PUB(40000), PUB(40000)] as [TransportAddress, TransportAddress, TransportAddress, TransportAddress];

const cases: Case[] = [
  {
    name: 'open internet: mapped = local, change IP+port answered',
    o: {
      interfaceAddresses: ['198.18.0.2'],
      mapping: mapping(A('198.18.0.2', 40000), [A('198.18.0.2', 40000), A('198.18.0.2', 40000), A('198.18.0.2', 40000), A('198.18.0.2', 40000)]),
      filtering: { local: A('198.18.0.2', 40001), base: ok(A('198.18.0.2', 40001), PRIMARY), changeBoth: ok(A('198.18.0.2', 40001), OTHER), changePort: ok(A('198.18.0.2', 40001), ALT_PORT) },
      hairpin: { sent: 1, received: true },
    },
    want: { nat: 'none', mapping: 'none', filtering: 'endpoint-independent', rfc3489: 'open-internet', hairpin: 'not-applicable', portAllocation: 'not-applicable', portPreserved: true, rfc5780: true },
  },
  {
    name: 'symmetric UDP firewall: mapped = local, no change answers',
    o: {
      interfaceAddresses: ['198.18.0.2'],
      mapping: mapping(A('198.18.0.2', 40000), [A('198.18.0.2', 40000), A('198.18.0.2', 40000), A('198.18.0.2', 40000), A('198.18.0.2', 40000)]),
      filtering: { local: A('198.18.0.2', 40001), base: ok(A('198.18.0.2', 40001), PRIMARY), changeBoth: none(), changePort: none() },
    },
    want: { nat: 'none', mapping: 'none', filtering: 'address-and-port-dependent', rfc3489: 'symmetric-udp-firewall', hairpin: 'not-applicable' },
  },
  {
    name: 'full cone: EIM, change IP+port answered',
    o: natCase(EIM4, PUB(40001), true, true),
    want: { nat: 'nat', mapping: 'endpoint-independent', filtering: 'endpoint-independent', rfc3489: 'full-cone', hairpin: 'no', portAllocation: 'preserving', portPreserved: true },
  },
  {
    name: 'full cone with hairpinning',
    o: natCase(EIM4, PUB(40001), true, true, true),
    want: { rfc3489: 'full-cone', hairpin: 'yes' },
  },
  {
    name: 'restricted cone: EIM, only change port answered',
    o: natCase(EIM4, PUB(40001), false, true),
    want: { mapping: 'endpoint-independent', filtering: 'address-dependent', rfc3489: 'restricted-cone' },
  },
  {
    name: 'port-restricted cone: EIM, no change answered',
    o: natCase(EIM4, PUB(40001), false, false),
    want: { mapping: 'endpoint-independent', filtering: 'address-and-port-dependent', rfc3489: 'port-restricted-cone' },
  },
  {
    name: 'symmetric: a new random port per destination',
    o: natCase([PUB(10572), PUB(1737), PUB(10841), PUB(45561)], PUB(33000), false, false),
    want: { mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', rfc3489: 'symmetric', portAllocation: 'random', portPreserved: false },
  },
  {
    name: 'address-dependent mapping is "symmetric" in RFC 3489 terms',
    o: natCase([PUB(3017), PUB(3017), PUB(3135), PUB(3135)], PUB(3040), false, false),
    want: { mapping: 'address-dependent', rfc3489: 'symmetric', portPreserved: false },
  },
  {
    name: 'sequential port allocation',
    o: { ...natCase([PUB(5000), PUB(5001), PUB(5002), PUB(5003)], PUB(5004), false, false), extraMappings: [{ local: LOCAL_H, mapped: PUB(5005) }] },
    want: { mapping: 'address-and-port-dependent', portAllocation: 'sequential' },
  },
  {
    name: 'RFC 3489 tree: EIF with a port-dependent mapping is still "full cone" (Test II decides first)',
    o: natCase([PUB(10572), PUB(1737), PUB(10841), PUB(45561)], PUB(33000), true, true),
    want: { mapping: 'address-and-port-dependent', filtering: 'endpoint-independent', rfc3489: 'full-cone' },
  },
];

t.test('classification paths', async (t) => {
  for (const c of cases) {
    const v = classify(c.o);
    t.match(v, c.want, c.name);
  }
});

t.test('UDP blocked: no answer to Test I', async (t) => {
  const v = classify({ interfaceAddresses: IFACES, mapping: { local: LOCAL_M, primary: none(5) } });
  t.equal(v.rfc3489, 'udp-blocked');
  t.equal(v.nat, 'unknown');
  t.equal(v.mapping, 'unknown');
  t.equal(v.filtering, 'unknown');
  t.equal(v.portPreserved, null);
  t.notOk(v.mapped);
});

t.test('server without RFC 5780: says which tests need it', async (t) => {
  const v = classify({
    interfaceAddresses: IFACES,
    mapping: { local: LOCAL_M, primary: ok(PUB(40000), PRIMARY) },
    hairpin: { sent: 6, received: false },
    extraMappings: [{ local: LOCAL_H, mapped: PUB(40002) }],
  });
  t.equal(v.nat, 'nat');
  t.equal(v.rfc5780, false);
  t.equal(v.mapping, 'unknown');
  t.match(v.unknownReasons.mapping, /OTHER-ADDRESS/);
  t.equal(v.filtering, 'unknown');
  t.match(v.unknownReasons.filtering, /CHANGE-REQUEST/);
  t.equal(v.rfc3489, 'unknown');
  t.equal(v.hairpin, 'no', 'hairpin needs no RFC 5780');
  t.equal(v.portAllocation, 'preserving');
});

t.test('partial and lossy observations give unknown, never a guess', async (t) => {
  t.test('change tests cut short by the budget', async (t) => {
    const f = { local: LOCAL_F, base: ok(PUB(1), PRIMARY), changeBoth: none(2), changePort: none(2) };
    const r = classifyFiltering(f, CLEAN);
    t.equal(r.filtering, 'unknown');
    t.match(r.reason, /only 2 request/);
  });
  t.test('high measured loss makes 6 silent tries inconclusive', async (t) => {
    const f = { local: LOCAL_F, base: ok(PUB(1), PRIMARY, 4), changeBoth: none(6), changePort: none(6) };
    const r = classifyFiltering(f, seen(2, 4));
    t.equal(r.filtering, 'unknown');
    t.match(r.reason, /50 % loss/);
  });
  t.test('change port answered but change IP+port uncertain: not "address-dependent"', async (t) => {
    const r = classifyFiltering({ local: LOCAL_F, base: ok(PUB(1), PRIMARY), changeBoth: none(2), changePort: ok(PUB(1), ALT_PORT) }, CLEAN);
    t.equal(r.filtering, 'unknown');
  });
  t.test('an answer is trusted however lossy the run', async (t) => {
    const r = classifyFiltering({ local: LOCAL_F, base: none(6), changeBoth: ok(PUB(1), OTHER, 5), changePort: none(1) }, seen(9, 10));
    t.equal(r.filtering, 'endpoint-independent');
  });
  t.test('server ignores CHANGE-REQUEST (answers from the same address)', async (t) => {
    const r = classifyFiltering({ local: LOCAL_F, base: ok(PUB(1), PRIMARY), changeBoth: { sent: 6, wrongSource: PRIMARY }, changePort: { sent: 6, wrongSource: PRIMARY } }, CLEAN);
    t.equal(r.filtering, 'unknown');
    t.match(r.reason, /ignores CHANGE-REQUEST/);
  });
  t.test('server refuses CHANGE-REQUEST with 420', async (t) => {
    const r = classifyFiltering({ local: LOCAL_F, base: ok(PUB(1), PRIMARY), changeBoth: { sent: 1, errorCode: 420 }, changePort: { sent: 1, errorCode: 420 } }, CLEAN);
    t.equal(r.filtering, 'unknown');
    t.match(r.reason, /420/);
  });
  t.test('filtering socket got nothing at all', async (t) => {
    const r = classifyFiltering({ local: LOCAL_F, base: none(6), changeBoth: none(6), changePort: none(6) }, CLEAN);
    t.equal(r.filtering, 'unknown');
  });
  t.test('mapping: Test II lost', async (t) => {
    const m = { ...mapping(LOCAL_M, EIM4), altIp: none(6) };
    t.same(classifyMapping(m, 'nat').mapping, 'unknown');
  });
  t.test('mapping: Test III lost when Test II differs', async (t) => {
    const m = { ...mapping(LOCAL_M, [PUB(1), PUB(2), PUB(3), PUB(4)]), altBoth: none(6) };
    t.same(classifyMapping(m, 'nat').mapping, 'unknown');
  });
  t.test('mapping contradictory: same for another IP but not for another port', async (t) => {
    const r = classifyMapping(mapping(LOCAL_M, [PUB(1), PUB(2), PUB(1), PUB(1)]), 'nat');
    t.equal(r.mapping, 'unknown');
    t.match(r.reason, /inconsistent/);
  });
  t.test('mapping contradictory: per-IP mapping that changes with the port on the primary IP', async (t) => {
    const r = classifyMapping(mapping(LOCAL_M, [PUB(1), PUB(2), PUB(3), PUB(3)]), 'nat');
    t.equal(r.mapping, 'unknown');
    t.match(r.reason, /inconsistent/);
  });
  t.test('mapping without the fourth address still decides (RFC 5780 needs only three)', async (t) => {
    const m = mapping(LOCAL_M, [PUB(1), PUB(1), PUB(3), PUB(3)]);
    delete m.altPort;
    t.equal(classifyMapping(m, 'nat').mapping, 'address-dependent');
  });
  t.test('RFC 3489 label waits for filtering', async (t) => {
    t.equal(classifyRfc3489(true, 'nat', 'address-and-port-dependent', 'unknown').rfc3489, 'unknown');
    t.equal(classifyRfc3489(true, 'nat', 'unknown', 'address-and-port-dependent').rfc3489, 'unknown');
    t.equal(classifyRfc3489(true, 'nat', 'unknown', 'endpoint-independent').rfc3489, 'full-cone');
    t.equal(classifyRfc3489(false, 'unknown', 'unknown', 'unknown').rfc3489, 'udp-blocked');
  });
  t.test('a whole lossy run where the filtering answers were lost', async (t) => {
    const o = natCase(EIM4, PUB(40001), false, false);
    o.filtering!.changeBoth = none(3);
    const v = classify(o);
    t.equal(v.filtering, 'unknown');
    t.equal(v.rfc3489, 'unknown');
    t.equal(v.mapping, 'endpoint-independent', 'what is known is still reported');
  });
});

t.test('NAT presence', async (t) => {
  t.equal(classifyNatPresence(undefined, LOCAL_M, IFACES), 'unknown');
  t.equal(classifyNatPresence(LOCAL_M, LOCAL_M, []), 'none');
  t.equal(classifyNatPresence(A('198.19.0.2', 40000), A('0.0.0.0', 40000), IFACES), 'none', 'wildcard socket: compare with interfaces');
  t.equal(classifyNatPresence(A('198.19.0.2', 50000), A('0.0.0.0', 40000), IFACES), 'nat', 'own IP but another port: a port-translating firewall');
  t.equal(classifyNatPresence(PUB(40000), LOCAL_M, IFACES), 'nat');
});

t.test('loss: what was seen is reported, the standard of proof keeps its prior', async (t) => {
  t.same(lossEvidence([ok(PUB(1), PRIMARY, 3), none(6), undefined, ok(PUB(1), PRIMARY, 1)]), { lost: 2, sent: 4 }, 'unanswered exchanges are not loss');
  t.equal(observedLoss(seen(0, 0)), 0, 'nothing answered: nothing seen');
  t.equal(observedLoss(seen(0, 1)), 0, 'one clean exchange: no loss seen');
  t.equal(observedLoss(seen(2, 8)), 0.25);
  t.equal(doubtLoss(seen(0, 0)), 0.5, 'no evidence: the prior alone');
  t.equal(doubtLoss(seen(0, 1)), 0.25, 'one clean exchange proves little');
  t.ok(doubtLoss(seen(0, 10)) < 0.1);
  t.equal(doubtLoss(seen(3, 5)), 3.5 / 6, 'lossy runs: the rate the standard of proof always used');
  t.equal(negativeDoubt(undefined, seen(1, 14)), 'not tested');
  t.equal(negativeDoubt(ok(PUB(1), PRIMARY), seen(9, 10)), undefined, 'answered: nothing to doubt');
  t.equal(negativeDoubt(none(6), seen(2, 12)), undefined, '10 % loss each way (19 % round trip), 6 tries: trusted');
  t.match(negativeDoubt(none(6), seen(4, 10)), /4 of 10 transmissions of answered requests went unanswered \(about 40 % loss\)/, '40 % round-trip loss: not trusted');
  t.ok(negativeDoubt(none(3), seen(0, 50)), 'too few tries');
  t.equal(negativeDoubt(none(6), seen(0, 1)), undefined, 'one clean exchange, 6 silent tries: trusted');
  const small = negativeDoubt(none(4), seen(0, 1));
  t.match(small, /only 1 answered transmission/, 'a small clean sample: unsure, and says why');
  t.notMatch(small, /% loss/, 'without claiming loss that was not seen');
});

t.test('a clean run reports no loss, whatever its size', async (t) => {
  const one: Observations = { interfaceAddresses: IFACES, mapping: { local: LOCAL_M, primary: ok(LOCAL_M, PRIMARY) }, hairpin: { sent: 6, received: false } };
  t.equal(classify(one).lossEstimate, 0, 'one-address server, one answered exchange');
  t.equal(classify(natCase(EIM4, PUB(40001), false, false)).lossEstimate, 0, 'full RFC 5780 run');
  t.equal(classify({ interfaceAddresses: IFACES, mapping: { local: LOCAL_M, primary: none(5) } }).lossEstimate, 0, 'no answer: no loss measured');
  const lossy = natCase(EIM4, PUB(40001), false, false);
  lossy.mapping.primary.sent = 3;
  t.equal(classify(lossy).lossEstimate, 2 / 7, 'two retransmissions over seven transmissions of answered requests');
});

t.test('hairpin', async (t) => {
  const h = seen(1, 14);
  t.equal(classifyHairpin({ sent: 1, received: true }, 'nat', h).hairpin, 'yes');
  t.equal(classifyHairpin({ sent: 6, received: false }, 'nat', h).hairpin, 'no');
  t.equal(classifyHairpin({ sent: 2, received: false }, 'nat', h).hairpin, 'unknown');
  t.equal(classifyHairpin(undefined, 'nat', h).hairpin, 'unknown');
  t.equal(classifyHairpin({ sent: 1, received: true }, 'none', h).hairpin, 'not-applicable');
});

t.test('port allocation', async (t) => {
  const m = (l: number, p: number) => ({ local: A('198.19.0.2', l), mapped: PUB(p) });
  t.equal(classifyPortAllocation('nat', [m(1000, 1000), m(1001, 1001)]).portAllocation, 'preserving');
  t.equal(classifyPortAllocation('nat', [m(1000, 1000)]).portAllocation, 'unknown', 'one mapping proves nothing');
  t.equal(classifyPortAllocation('nat', [m(1000, 3000), m(1000, 3001), m(1001, 3003)]).portAllocation, 'sequential');
  t.equal(classifyPortAllocation('nat', [m(1000, 3000), m(1000, 9001), m(1001, 40000)]).portAllocation, 'random');
  t.equal(classifyPortAllocation('nat', [m(1000, 3000), m(1001, 3001)]).portAllocation, 'unknown', 'two ports: too few');
  t.equal(classifyPortAllocation('none', [m(1000, 1000)]).portAllocation, 'not-applicable');
  t.equal(classifyPortAllocation('unknown', []).portAllocation, 'unknown');
});

t.test('ALG detection', async (t) => {
  const local = LOCAL_M;
  const echoHex = encodeAddress(local).toString('hex');
  const sent = { '198.19.0.2:40000': echoHex };
  t.test('clean path', async (t) => {
    const r = classifyAlg([{ local, answer: answer(PUB(40000), PRIMARY, { echo: echoHex }) }], sent);
    t.equal(r.alg, 'absent');
    t.same(r.evidence, []);
  });
  t.test('MAPPED-ADDRESS rewritten on the way in', async (t) => {
    const r = classifyAlg([{ local, answer: answer(PUB(40000), PRIMARY, { plainMapped: A('198.19.0.2', 40000), echo: echoHex }) }], sent);
    t.equal(r.alg, 'present');
    t.match(r.evidence[0], /MAPPED-ADDRESS 198\.19\.0\.2:40000 differs from XOR-MAPPED-ADDRESS 198\.18\.0\.1:40000/);
  });
  t.test('ECHO rewritten on the way out', async (t) => {
    const changed = encodeAddress(PUB(40000)).toString('hex');
    const r = classifyAlg([{ local, answer: answer(PUB(40000), PRIMARY, { echo: changed }) }], sent);
    t.equal(r.alg, 'present');
    t.match(r.evidence[0], /ECHO/);
  });
  t.test('the same evidence from many answers is listed once', async (t) => {
    const a = { local, answer: answer(PUB(40000), PRIMARY, { plainMapped: A('198.19.0.2', 40000) }) };
    t.equal(classifyAlg([a, a, a], sent).evidence.length, 1);
  });
  t.test('a server that sends neither MAPPED-ADDRESS nor ECHO', async (t) => {
    const r = classifyAlg([{ local, answer: { source: PRIMARY, xorMapped: PUB(40000) } }], sent);
    t.equal(r.alg, 'unknown');
    t.ok(r.reason);
  });
  t.test('via classify(): any answer can show it', async (t) => {
    const o = natCase(EIM4, PUB(40001), false, false);
    o.echoSent = sent;
    o.filtering!.base.answer!.plainMapped = A('198.19.0.2', 40001);
    const v = classify(o);
    t.equal(v.alg, 'present');
    t.equal(v.mapping, 'endpoint-independent', 'the XORed address still classifies correctly');
  });
});

t.test('binding lifetime search plan', async (t) => {
  t.same(nextLifetimeRound({ aliveAt: 0 }, 60), [1, 2, 4, 8, 16, 32, 60], 'doubling up to the maximum');
  t.same(nextLifetimeRound({ aliveAt: 16 }, 60), [32, 60]);
  t.same(nextLifetimeRound({ aliveAt: 60 }, 60), [], 'alive at the maximum: done');
  t.same(nextLifetimeRound({ aliveAt: 16, deadAt: 32 }, 60), [20, 24, 28], 'k-section of the interval');
  t.same(nextLifetimeRound({ aliveAt: 28, deadAt: 30 }, 60), [], 'narrow enough');
  const b1 = updateLifetimeBounds({ aliveAt: 0 }, new Map([[8, true], [16, true], [32, false], [60, false]]));
  t.same(b1, { aliveAt: 16, deadAt: 32 });
  const b2 = updateLifetimeBounds(b1, new Map([[20, true], [24, undefined], [28, false]]));
  t.same(b2, { aliveAt: 20, deadAt: 28 });
  t.same(updateLifetimeBounds({ aliveAt: 0 }, new Map([[8, false], [16, true]])), { aliveAt: 16 }, 'a lost probe (dead at 8, alive at 16) does not bound');
  t.same(updateLifetimeBounds({ aliveAt: 0 }, new Map([[8, false], [16, true], [32, false]])), { aliveAt: 16, deadAt: 32 });
});
