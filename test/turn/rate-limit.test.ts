/** SourceLimiter (src/turn/rate-limit.ts): per-source token buckets, and forgetting refilled ones. */
import t from 'tap';
import { SourceLimiter, sourceKey } from '../../src/turn/rate-limit.js';

const T0 = 1_700_000_000_000;

t.test('a bucket gives its burst, then refills at its rate', async (t) => {
  const l = new SourceLimiter({ burst: 3, perSecond: 2 });
  t.same([1, 2, 3, 4].map(() => l.take('198.18.0.1', T0)), [true, true, true, false]);
  t.equal(l.isEmpty('198.18.0.1', T0), true);
  t.equal(l.take('198.18.0.2', T0), true, 'another source has its own bucket');
  t.equal(l.take('198.18.0.1', T0 + 500), true, 'one token back after 0.5 s');
  t.equal(l.take('198.18.0.1', T0 + 500), false);
});

t.test('forgetRefilled drops only buckets that are full again, and nothing answers differently', async (t) => {
  const l = new SourceLimiter({ burst: 4, perSecond: 2 }); // full again 2 s after the last take at most
  for (let i = 0; i < 4; i++) l.take('198.18.0.1', T0); // emptied at T0
  l.take('198.18.0.2', T0 + 1000); // one taken at T0 + 1 s
  l.take('198.18.0.3', T0 + 1500);
  t.equal(l.size, 3);
  l.forgetRefilled(T0 + 1999);
  t.equal(l.size, 3, 'none refilled for sure yet: the emptied one is still 0.5 token short');
  t.equal(l.isFull('198.18.0.1', T0 + 1999), false);
  l.forgetRefilled(T0 + 2000);
  t.equal(l.size, 2, 'the first is full at +2 s and goes');
  t.equal(l.isFull('198.18.0.1', T0 + 2000), true, 'and reads as full, as it was');
  t.equal(l.isEmpty('198.18.0.1', T0 + 2000), false);
  l.forgetRefilled(T0 + 3000);
  t.equal(l.size, 1, 'the one used at +1 s goes at +3 s; the one used at +1.5 s stays');
  // A forgotten source starts again from a full bucket: the same answers as if it had been kept.
  const kept = new SourceLimiter({ burst: 4, perSecond: 2 });
  for (let i = 0; i < 4; i++) kept.take('198.18.0.1', T0);
  const answers = (x: SourceLimiter): boolean[] => [0, 0, 0, 0, 0].map(() => x.take('198.18.0.1', T0 + 3000));
  t.same(answers(l), answers(kept));
});

t.test('a bucket used later than one it follows stops the walk; a clock stepping back forgets nothing', async (t) => {
  const l = new SourceLimiter({ burst: 2, perSecond: 1 });
  l.take('198.18.0.1', T0);
  l.take('198.18.0.2', T0 + 5000);
  l.forgetRefilled(T0 + 1000);
  t.equal(l.size, 2);
  l.forgetRefilled(T0 - 60_000);
  t.equal(l.size, 2);
  l.forgetRefilled(T0 + 7000);
  t.equal(l.size, 0);
});

t.test('with no refill rate nothing is ever forgotten', async (t) => {
  const l = new SourceLimiter({ burst: 1, perSecond: 0 });
  l.take('198.18.0.1', T0);
  l.forgetRefilled(T0 + 86_400_000);
  t.equal(l.size, 1);
  t.equal(l.take('198.18.0.1', T0 + 86_400_000), false);
});

t.test('sourceKey: IPv4 as is, IPv6 by its /64, IPv4-mapped as its IPv4', async (t) => {
  t.equal(sourceKey('198.51.100.7'), '198.51.100.7');
  t.equal(sourceKey('2001:db8:1:2::1'), '2001:db8:1:2::/64');
  t.equal(sourceKey('2001:db8:1:2:ffff:eeee:dddd:cccc'), '2001:db8:1:2::/64', 'one subscriber /64, one key');
  t.equal(sourceKey('2001:DB8:1:2::99'), '2001:db8:1:2::/64', 'written any way');
  t.not(sourceKey('2001:db8:1:3::1'), sourceKey('2001:db8:1:2::1'), 'the next /64 is another client');
  t.equal(sourceKey('::ffff:198.51.100.7'), '198.51.100.7', 'dual-stack sockets report IPv4 clients mapped');
  t.not(sourceKey('::ffff:198.51.100.8'), sourceKey('::ffff:198.51.100.7'), 'mapped IPv4 clients are not one /64');
  t.equal(sourceKey('::1'), '::/64');
});
