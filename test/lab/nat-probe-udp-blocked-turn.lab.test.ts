// nat-probe behind the lab's udp-blocked NAT (UDP dropped, TCP forwarded) with --turn to the same
// server: no STUN answer over UDP, but TURN over TCP works, so the report must say UDP is blocked
// on the path and the server is up, and suggest neither "the server is down" nor --turn.
import t from 'tap';
import { Lab, labSkip, summary } from './lab.js';
import { loadReportSchema, validate } from '../nat-probe/schema.js';

const skip = labSkip();
const lab = skip.skip ? undefined : new Lab('u');
t.teardown(() => lab?.down());

t.test('lab udp-blocked with --turn to the same server over UDP and TCP: UDP is blocked, the server is up', skip, async (t) => {
  await lab!.up(['udp-blocked']);
  t.teardown(() => lab!.down());
  await lab!.startServer(t, ['--user', 'u:pw', '--realm', 'lab.example']);
  const r = await lab!.probe(['--turn', 'turn:198.18.0.10:3478', '--username', 'u', '--password', 'pw']);
  t.comment(`udp-blocked + --turn: exit ${r.code}, ${r.ms} ms wall: ${summary(r.json)}\n${r.stderr}`);
  t.equal(r.code, 3, 'exit status 3: no STUN answer over UDP');
  t.same(validate(loadReportSchema(), r.json), [], 'valid against report.schema.json');
  t.match(r.json, { status: 'no-response', rfc3489: 'udp-blocked' });
  const turn = r.json?.turn as { transport: string; ok: boolean }[];
  t.same(turn.map((x) => [x.transport, x.ok]), [['udp', false], ['tcp', true]], 'TURN: UDP blocked, TCP relayed');
  t.match(r.json?.consequences[0], /the server is up, so UDP is blocked on the path/);
  t.notMatch(r.json?.consequences[0], /server is down|--turn/);
  t.match(r.stderr, /UDP is blocked on the path; the server is up/);
  t.notMatch(r.stderr, /server is down|--turn/);
});
