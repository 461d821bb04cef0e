// nat-probe --lifetime on a real NAT: the lab's port-restricted NAT with its conntrack UDP
// timeouts set to 5 s, so the idle-binding search (RFC 5780 §4.6 style, via RESPONSE-PORT)
// must land between 4 and 8 s, with progress on stderr and within its time bound.
import t from 'tap';
import { Lab, labSkip } from './lab.js';
import { loadReportSchema, validate } from '../nat-probe/schema.js';

const skip = labSkip();
const lab = skip.skip ? undefined : new Lab('t');
t.teardown(() => lab?.down());

t.test('lab port-restricted, conntrack UDP timeout 5 s: --lifetime finds 4–8 s', skip, async (t) => {
  await lab!.up(['port-restricted']);
  t.teardown(() => lab!.down());
  const s = await lab!.exec('nat', 'sysctl', ['-qw', 'net.netfilter.nf_conntrack_udp_timeout=5', 'net.netfilter.nf_conntrack_udp_timeout_stream=5']);
  t.equal(s.code, 0, `conntrack timeouts set (${s.stderr.trim()})`);
  await lab!.startServer(t);
  const r = await lab!.probe(['--lifetime', '--lifetime-max', '16'], 90_000);
  t.comment(`lifetime: ${JSON.stringify(r.json?.lifetime)} in ${r.ms} ms\n${r.stderr}`);
  t.equal(r.code, 0);
  t.same(validate(loadReportSchema(), r.json), []);
  const l = r.json?.lifetime as { aliveAt: number; deadAt: number | null; seconds: number | null; complete: boolean };
  t.ok(l, 'lifetime reported');
  t.ok(l.aliveAt >= 2 && l.aliveAt < 6, `alive after ${l.aliveAt} s idle`);
  t.ok(l.deadAt !== null && l.deadAt > 4 && l.deadAt <= 8, `gone after ${l.deadAt} s idle`);
  t.equal(l.complete, true, 'search finished');
  t.match(r.stderr, /lifetime: round 1: testing idle times/, 'progress on stderr');
  t.ok(r.ms < 60_000, `bounded: ${r.ms} ms for --lifetime-max 16`);
  t.equal(r.json?.rfc3489, 'port-restricted-cone', 'the rest of the verdict is unchanged');
});
