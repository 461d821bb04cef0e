import t from 'tap';
import { ConnectionGate, type ConnectionLimits } from '../../src/transport/connection-gate.js';

t.test('per-IP limit, then the total; closing frees a place', async (t) => {
  const gate = new ConnectionGate(() => ({ perIp: 2, total: 3 }));
  t.equal(gate.admit('192.0.2.1'), undefined);
  t.equal(gate.admit('192.0.2.1'), undefined);
  t.equal(gate.admit('192.0.2.1'), 'per-ip-limit', 'third from one IP');
  t.equal(gate.admit('2001:db8::1'), undefined, 'another IP still gets in');
  t.equal(gate.admit('198.51.100.9'), 'connection-limit', 'fourth in all');
  t.equal(gate.size, 3, 'refusals are not counted as open');
  gate.release('192.0.2.1');
  t.equal(gate.admit('198.51.100.9'), undefined, 'after one closes there is room again');
  t.equal(gate.admit('192.0.2.1'), 'connection-limit');
});

t.test('0 means no limit; limits are read at each admission (reload)', async (t) => {
  const limits: ConnectionLimits = { perIp: 0, total: 0 };
  const gate = new ConnectionGate(() => limits);
  let admitted = 0;
  for (let i = 0; i < 500; i++) if (gate.admit('192.0.2.1') === undefined) admitted++;
  t.equal(admitted, 500, 'no limits: 500 from one IP');
  limits.perIp = 500;
  t.equal(gate.admit('192.0.2.1'), 'per-ip-limit', 'a lowered limit applies to the next connection');
  for (let i = 0; i < 500; i++) gate.release('192.0.2.1');
  t.equal(gate.size, 0);
  gate.release('192.0.2.1');
  t.equal(gate.size, 0, 'an extra release does not go negative');
});

t.test('an IPv6 /64 is one client for the per-IP limit; mapped IPv4 clients stay apart', async (t) => {
  const gate = new ConnectionGate(() => ({ perIp: 2, total: 0 }));
  t.equal(gate.admit('2001:db8:1:2::1'), undefined);
  t.equal(gate.admit('2001:db8:1:2::2'), undefined);
  t.equal(gate.admit('2001:db8:1:2:ffff::3'), 'per-ip-limit', 'a third address of the same /64 is refused');
  t.equal(gate.admit('2001:db8:1:3::1'), undefined, 'another /64 is not');
  gate.release('2001:db8:1:2::1');
  t.equal(gate.admit('2001:db8:1:2::9'), undefined, 'closing one frees a place for the /64');
  for (const ip of ['::ffff:198.51.100.1', '::ffff:198.51.100.2', '::ffff:198.51.100.3']) t.equal(gate.admit(ip), undefined, `${ip} admitted`);
});
