// The rewriting-ALG scenario of issue 7: a NAT whose ALG rewrites the client's private address
// inside UDP payloads (test/lab/alg-relay.py, TPROXY in the lab's nat namespace). nat-probe must
// report "address-rewriting ALG present" for inbound rewriting (MAPPED-ADDRESS differs from
// XOR-MAPPED-ADDRESS) and for outbound rewriting (the ECHO attribute comes back changed), and
// still classify from XOR-MAPPED-ADDRESS. Needs root, ip, nft and python3.
import t from 'tap';
import { addAlgRelay, Lab, labSkip, PROBE, summary } from './lab.js';
import { loadReportSchema, validate } from '../nat-probe/schema.js';

const schema = loadReportSchema();
const skip = labSkip('python3');
const lab = skip.skip ? undefined : new Lab('a');
t.teardown(() => lab?.down());

const modes = [
  { mode: 'both', evidence: /MAPPED-ADDRESS 198\.19\.0\.2:\d+ differs from XOR-MAPPED-ADDRESS 198\.18\.0\.1:\d+/ },
  { mode: 'in', evidence: /MAPPED-ADDRESS 198\.19\.0\.2:\d+ differs from XOR-MAPPED-ADDRESS 198\.18\.0\.1:\d+/ },
  { mode: 'out', evidence: /ECHO attribute came back changed \(198\.19\.0\.2:\d+ → 198\.18\.0\.1:\d+/ },
] as const;

for (const { mode, evidence } of modes) {
  t.test(`lab ALG rewriting ${mode === 'both' ? 'both ways' : mode === 'in' ? 'inbound only' : 'outbound only'}: "address-rewriting ALG present"`, skip, async (t) => {
    await lab!.up(['port-restricted']);
    t.teardown(() => lab!.down());
    await addAlgRelay(lab!, t, mode);
    await lab!.startServer(t);
    const r = await lab!.probe();
    t.comment(`alg ${mode}: exit ${r.code}: ${summary(r.json)} evidence: ${JSON.stringify(r.json?.algEvidence)}`);
    t.equal(r.code, 0, r.stderr);
    t.same(validate(schema, r.json), []);
    t.equal(r.json?.alg, 'present');
    t.match(r.json?.algEvidence?.[0], evidence, 'evidence names what was rewritten');
    t.match(r.json?.consequences?.[0], /turn off "SIP ALG"/, 'first consequence: the risk and the fix');
    // The relay NATs with one socket per client endpoint (EIM); its inbound filter is conntrack (APDF).
    t.equal(r.json?.mapping, 'endpoint-independent', 'mapping classified from XOR-MAPPED-ADDRESS despite the rewriting');
    t.equal(r.json?.mapped?.startsWith('198.18.0.1:'), true, 'public address from XOR-MAPPED-ADDRESS');
    const text = await lab!.exec('client', process.execPath, [PROBE, '--server', '198.18.0.10:3478'], 30_000);
    t.match(text.stdout, /address-rewriting ALG present/, 'text output says "address-rewriting ALG present"');
  });
}

t.test('lab control: the same NAT without the ALG shows none', skip, async (t) => {
  await lab!.up(['port-restricted']);
  t.teardown(() => lab!.down());
  await lab!.startServer(t);
  const r = await lab!.probe();
  t.equal(r.json?.alg, 'absent');
  t.same(r.json?.algEvidence, []);
});
