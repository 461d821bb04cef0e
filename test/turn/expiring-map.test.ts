/** ExpiringMap (src/turn/expiring-map.ts): the bounded, expiring store behind the transaction and nonce caches. */
import t from 'tap';
import { ExpiringMap } from '../../src/turn/expiring-map.js';

t.test('an entry reads until its expiry and is absent from then on', async (t) => {
  const m = new ExpiringMap<string, number>(10);
  m.set('a', 1, 1000);
  t.equal(m.get('a', 999), 1);
  t.equal(m.get('a', 1000), undefined, 'expired at its expiry');
  t.equal(m.get('b', 0), undefined, 'never set');
  t.equal(m.size, 1, 'an expired entry is held until expire() drops it');
});

t.test('expire() drops expired entries from the front and stops at the first live one', async (t) => {
  const m = new ExpiringMap<string, number>(10);
  m.set('a', 1, 100);
  m.set('b', 2, 200);
  m.set('c', 3, 300);
  m.expire(200);
  t.equal(m.size, 1);
  t.equal(m.get('c', 200), 3);
  m.set('d', 4, 250); // out of expiry order: held behind 'c' until 'c' goes
  m.expire(260);
  t.equal(m.size, 2, "'d' waits behind the live 'c'");
  t.equal(m.get('d', 260), undefined, 'but already reads as absent');
  m.expire(300);
  t.equal(m.size, 0);
});

t.test('it holds at most max entries: the oldest makes room, replacing a key does not evict', async (t) => {
  const m = new ExpiringMap<number, string>(3);
  for (let i = 1; i <= 3; i++) m.set(i, `v${i}`, 1000);
  m.set(2, 'v2b', 1000);
  t.equal(m.size, 3);
  t.equal(m.get(1, 0), 'v1', 'replacing an existing key evicted nothing');
  t.equal(m.get(2, 0), 'v2b');
  m.set(4, 'v4', 1000);
  t.equal(m.size, 3);
  t.equal(m.get(1, 0), undefined, 'the oldest went');
  t.same([2, 3, 4].map((k) => m.get(k, 0)), ['v2b', 'v3', 'v4']);
});

t.test('a bound that is not a positive integer is refused', async (t) => {
  for (const bad of [0, -1, 1.5, Number.NaN]) t.throws(() => new ExpiringMap(bad), RangeError, String(bad));
});
