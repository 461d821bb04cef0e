// Cross-check in the NAT lab: the Debian `stun` client (vovida, RFC 3489) and coturn's
// turnutils_natdiscovery (RFC 5780) run against the same turnkit in the same lab as nat-probe,
// and must agree with it where their vocabularies overlap. Time to a verdict is printed for all
// three (measured, not asserted). Each tool is skipped with the reason when it is missing.
import t from 'tap';
import { existsSync } from 'node:fs';
import { hasTool } from '../helpers/tools.js';
import { CASES, Lab, labSkip } from './lab.js';

const skip = labSkip();
const lab = skip.skip ? undefined : new Lab('x');
t.teardown(() => lab?.down());

/** vovida stun's words for each nat-probe verdict (its NatType strings). */
function vovidaExpect(rfc3489: string, mapping: string): RegExp {
  switch (rfc3489) {
    case 'open-internet': return /Open/;
    case 'symmetric-udp-firewall': return /Firewall/;
    case 'full-cone': return /Independent Mapping, Independent Filter/;
    case 'restricted-cone': return /Independent Mapping, Address Dependent Filter/;
    case 'port-restricted-cone': return /Independent Mapping, Port Dependent Filter/;
    case 'symmetric': return mapping === 'address-dependent' ? /Dependent Mapping/ : /Dependent Mapping/;
    default: return /Blocked/;
  }
}

/** natdiscovery's verdict lines. */
function natdiscoveryWords(out: string): { mapping?: string; filtering?: string } {
  const m = /No NAT!|NAT with (Endpoint Independent|Address Dependent|Address and Port Dependent) Mapping!/.exec(out);
  const f = /NAT with (Endpoint Independent|Address Dependent|Address and Port Dependent) Filtering!/.exec(out);
  const word = (s: string | undefined): string | undefined =>
    s === undefined ? undefined : ({ 'Endpoint Independent': 'endpoint-independent', 'Address Dependent': 'address-dependent', 'Address and Port Dependent': 'address-and-port-dependent' } as Record<string, string>)[s];
  const out2: { mapping?: string; filtering?: string } = {};
  if (/No NAT!/.test(out)) out2.mapping = 'none';
  else if (m) out2.mapping = word(m[1])!;
  if (f) out2.filtering = word(f[1])!;
  return out2;
}

// Not plain 'stun': under npm/npx, node_modules/.bin comes first on PATH, and the npm stun
// package's bin is a server.
const STUN = existsSync('/usr/bin/stun') ? '/usr/bin/stun' : 'stun';

const NAMES = ['open', 'full-cone', 'restricted', 'port-restricted', 'symmetric', 'adm'];
const timing: string[] = [];

for (const name of NAMES) {
  const c = CASES.find((x) => x.name === name)!;
  if (c.expected === 'no-response') continue;
  const exp = c.expected;
  t.test(`lab ${name}: stun (vovida) and turnutils_natdiscovery agree with nat-probe`, skip, async (t) => {
    await lab!.up(c.args);
    t.teardown(() => lab!.down());
    await lab!.startServer(t);
    const p = await lab!.probe();
    t.same({ mapping: p.json?.mapping, filtering: p.json?.filtering, rfc3489: p.json?.rfc3489 }, { mapping: exp.mapping, filtering: exp.filtering, rfc3489: exp.rfc3489 }, 'nat-probe');
    let line = `${name.padEnd(16)} nat-probe ${String(p.json?.durationMs).padStart(5)} ms (${p.ms} ms with node start)`;
    await t.test('stun (vovida, RFC 3489)', { skip: hasTool(STUN) ? false : 'stun not installed (Debian package stun-client)' }, async (t) => {
      const t0 = Date.now();
      const r = await lab!.exec('client', STUN, ['198.18.0.10'], 30_000);
      const ms = Date.now() - t0;
      line += `, stun ${ms} ms`;
      const verdict = /Primary: (.*)/.exec(r.stdout)?.[1]?.trim() ?? r.stdout.trim();
      t.comment(`${name}: stun says "${verdict}"`);
      t.match(verdict, vovidaExpect(exp.rfc3489, exp.mapping), `stun: "${verdict}" agrees with ${exp.rfc3489}`);
      if (exp.nat === 'nat' && exp.hairpin !== 'not-applicable') t.match(verdict, exp.hairpin === 'yes' ? /will hairpin/ : /no hairpin/, 'stun: hairpin agrees');
    });
    await t.test('turnutils_natdiscovery -m -f (RFC 5780)', { skip: hasTool('turnutils_natdiscovery') ? false : 'turnutils_natdiscovery not installed (Debian package coturn)' }, async (t) => {
      const t0 = Date.now();
      const r = await lab!.exec('client', 'turnutils_natdiscovery', ['-m', '-f', '198.18.0.10'], 60_000);
      const ms = Date.now() - t0;
      line += `, natdiscovery ${ms} ms`;
      const w = natdiscoveryWords(r.stdout);
      t.comment(`${name}: natdiscovery says mapping ${w.mapping}, filtering ${w.filtering}`);
      // Bound to 0.0.0.0, natdiscovery cannot see that there is no NAT: "none" is EIM to it.
      // coturn's Test III goes to the primary IP's other port (RFC 5780 §4.3 says the alternate IP
      // and port) and compares it with Test II, so it calls an address-dependent mapping
      // "address and port dependent" (seen here: .10:3478 → 3002, .11:3478 → 3102, .10:3479 →
      // 3002). Where the words overlap ("dependent"), it agrees.
      const agrees =
        w.mapping === exp.mapping ||
        (exp.mapping === 'none' && w.mapping === 'endpoint-independent') ||
        (exp.mapping === 'address-dependent' && w.mapping === 'address-and-port-dependent');
      t.ok(agrees, `natdiscovery mapping ${w.mapping} agrees with ${exp.mapping}`);
      // natdiscovery reports filtering only behind a NAT ("No NAT!" ends its filtering test).
      if (w.filtering !== undefined) t.equal(w.filtering, exp.filtering, 'natdiscovery filtering agrees');
    });
    timing.push(line);
  });
}

t.test('time to a verdict (measured, not asserted)', skip, async (t) => {
  t.comment(`\n${timing.join('\n')}`);
  t.pass('printed');
});
