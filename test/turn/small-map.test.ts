/** SmallMap (src/turn/small-map.ts): an allocation's permission and channel tables, checked against a Map. */
import t from 'tap';
import { SmallMap } from '../../src/turn/small-map.js';

const sorted = <K, V>(entries: Iterable<[K, V]>): Array<[K, V]> => [...entries].sort((a, b) => String(a[0]).localeCompare(String(b[0])));

t.test('one entry: set, replace, get, has, delete', async (t) => {
  const m = new SmallMap<string, number>();
  t.equal(m.size, 0);
  t.equal(m.get('a'), undefined);
  m.set('a', 1);
  m.set('a', 2);
  t.equal(m.size, 1, 'a second set of the same key replaces');
  t.equal(m.get('a'), 2);
  t.ok(m.has('a'));
  t.notOk(m.has('b'));
  t.notOk(m.delete('b'), 'deleting an absent key answers false');
  t.ok(m.delete('a'));
  t.equal(m.size, 0);
  t.equal(m.get('a'), undefined, 'the inline slot forgets its key');
  t.same(m.entries(), []);
});

t.test('several entries: deleting the inline one moves another inline', async (t) => {
  const m = new SmallMap<number, string>();
  m.set(1, 'one').set(2, 'two').set(3, 'three');
  t.equal(m.size, 3);
  t.ok(m.delete(1));
  t.equal(m.size, 2);
  t.equal(m.get(2), 'two');
  t.equal(m.get(3), 'three');
  m.set(2, 'TWO');
  t.equal(m.size, 2, 'a key moved inline is still replaced, not added');
  t.equal(m.get(2), 'TWO');
  t.ok(m.delete(3));
  t.ok(m.delete(2));
  t.equal(m.size, 0);
  m.set(4, 'four');
  t.same(m.entries(), [[4, 'four']], 'empty again, the next entry goes inline');
});

t.test('deleting while iterating visits every entry once', async (t) => {
  const m = new SmallMap<string, number>();
  for (let i = 0; i < 6; i++) m.set(`k${i}`, i);
  const seen: string[] = [];
  for (const [k, v] of m) {
    seen.push(k);
    if (v % 2 === 0) m.delete(k);
  }
  t.same(seen.sort(), ['k0', 'k1', 'k2', 'k3', 'k4', 'k5']);
  t.same(sorted(m), [['k1', 1], ['k3', 3], ['k5', 5]]);
  t.same(m.keys().sort(), ['k1', 'k3', 'k5']);
  t.same(m.values().sort(), [1, 3, 5]);
});

t.test('agrees with a Map over a seeded random sequence of operations', async (t) => {
  const small = new SmallMap<number, number>();
  const ref = new Map<number, number>();
  let seed = 12345;
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  for (let i = 0; i < 5000; i++) {
    const key = next(6);
    const op = next(3);
    if (op === 0) t.equal(small.delete(key), ref.delete(key), `delete ${key} at step ${i}`);
    else {
      small.set(key, i);
      ref.set(key, i);
    }
    if (small.size !== ref.size || small.get(key) !== ref.get(key)) {
      t.fail(`step ${i}: size ${small.size} vs ${ref.size}, get(${key}) ${small.get(key)} vs ${ref.get(key)}`);
      return;
    }
  }
  t.same(sorted(small), sorted(ref));
});
