/** AllocationTable (src/turn/allocations.ts): 5-tuple index, expiry heap, per-user/per-IP counts, quotas. */
import t from 'tap';
import { AllocationTable, fiveTupleKey, type Allocation, type AllocationQuotas } from '../../src/turn/allocations.js';

let port = 10000;
/** A new allocation for `username` from `ip`, expiring at `expiresAt`. */
function add(table: AllocationTable, expiresAt: number, username = 'alice', ip = '198.51.100.7', listenerId = 1): Allocation {
  const p = port++;
  return table.create({
    fiveTuple: { client: { family: 'IPv4', address: ip, port: p }, server: { family: 'IPv4', address: '192.0.2.1', port: 3478 }, transport: 'udp', listenerId },
    username,
    relayed: { family: 'IPv4', address: '10.0.0.1', port: 50000 + (p % 10000) },
    advertised: { family: 'IPv4', address: '203.0.113.1', port: 50000 + (p % 10000) },
    expiresAt,
    createdAt: 0,
  });
}

const NONE: AllocationQuotas = { perUser: 0, perClientIp: 0, total: 0 };

t.test('create indexes by 5-tuple key and id; the key distinguishes listener, IP and port', async (t) => {
  const table = new AllocationTable();
  const a = add(table, 1000);
  t.equal(table.size, 1);
  t.equal(a.key, fiveTupleKey(1, '198.51.100.7', a.fiveTuple.client.port));
  t.equal(table.get(a.key), a);
  t.equal(table.getById(a.id), a);
  t.equal(a.permissions.size, 0);
  t.equal(a.channelsByNumber.size, 0);
  const b = add(table, 1000, 'alice', '198.51.100.7', 2);
  t.not(a.id, b.id, 'ids are unique');
  t.not(fiveTupleKey(1, '10.0.0.1', 5), fiveTupleKey(2, '10.0.0.1', 5), 'listener is part of the key');
  t.not(fiveTupleKey(1, '10.0.0.1', 5), fiveTupleKey(1, '10.0.0.1', 6));
  t.not(fiveTupleKey(1, '10.0.0.1', 5), fiveTupleKey(1, '10.0.0.2', 5));
  t.same([...table.all()].sort((x, y) => x.id - y.id), [a, b]);
});

t.test('expire returns allocations in expiry order, each once, only when due', async (t) => {
  const table = new AllocationTable();
  const late = add(table, 300);
  const early = add(table, 100);
  const mid = add(table, 200);
  t.equal(table.nextExpiry(), 100);
  t.same(table.expire(99), [], 'nothing due yet');
  t.same(table.expire(100), [early], 'due at its expiresAt');
  t.equal(table.get(early.key), undefined);
  t.equal(table.getById(early.id), undefined);
  t.same(table.expire(250), [mid]);
  t.same(table.expire(10_000), [late]);
  t.same(table.expire(20_000), [], 'nothing twice');
  t.equal(table.size, 0);
});

t.test('expire: many allocations with random expiries come out sorted, none lost', async (t) => {
  const table = new AllocationTable();
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 100_000;
  const all = Array.from({ length: 500 }, () => add(table, rnd()));
  const out: Allocation[] = [];
  for (let now = 0; now <= 100_000; now += 7919) out.push(...table.expire(now));
  out.push(...table.expire(100_000));
  t.equal(out.length, all.length, 'every allocation expired once');
  t.equal(new Set(out.map((a) => a.id)).size, all.length);
  let sorted = true;
  for (let i = 1; i < out.length; i++) if (out[i]!.expiresAt < out[i - 1]!.expiresAt) sorted = false;
  t.ok(sorted, 'in nondecreasing expiry order');
  t.equal(table.size, 0);
});

t.test('refresh to a later time postpones expiry; to an earlier one advances it', async (t) => {
  const table = new AllocationTable();
  const a = add(table, 100);
  table.refresh(a, 500);
  t.equal(a.expiresAt, 500);
  t.same(table.expire(200), [], 'the old deadline no longer applies');
  t.equal(table.get(a.key), a);
  t.same(table.expire(500), [a]);

  const b = add(table, 1000);
  table.refresh(b, 300);
  t.same(table.expire(300), [b], 'an earlier deadline applies');
  t.same(table.expire(2000), [], 'and the stale later entry does not expire it again');

  const c = add(table, 100);
  table.refresh(c, 200);
  table.refresh(c, 400);
  t.same(table.expire(399), []);
  t.same(table.expire(400), [c]);
});

t.test('refreshes and deletes do not pile up expiry entries: the heap stays under twice the table', async (t) => {
  const table = new AllocationTable();
  const heapSize = (): number => (table as unknown as { heap: unknown[] }).heap.length;
  const keep = Array.from({ length: 100 }, (_, i) => add(table, 1_000_000 + i, 'alice', `198.51.100.${i}`));
  let most = 0;
  // Churn far from any deadline (nothing expires): create, refresh twice, delete; and refresh loops.
  for (let i = 0; i < 20_000; i++) {
    const a = add(table, 3_600_000 + i, 'bob', '203.0.113.9', 2 + (i % 50));
    table.refresh(a, 3_600_000 + i);
    table.refresh(a, 3_600_001 + i);
    table.delete(a);
    table.refresh(keep[i % keep.length]!, 1_000_000 + i);
    most = Math.max(most, heapSize());
  }
  t.equal(table.size, keep.length, 'only the kept allocations are left');
  t.ok(most <= 2 * (keep.length + 1) + 64, `heap at most ${most} entries for ${keep.length + 1} allocations (80,000 pushes)`);
  // The rebuilt heap still expires each live allocation once, at its latest deadline, in order.
  const out = table.expire(10_000_000);
  t.equal(out.length, keep.length);
  t.same(out.map((a) => a.expiresAt), [...keep.map((a) => a.expiresAt)].sort((x, y) => x - y), 'in deadline order');
  t.equal(heapSize(), 0, 'and the heap is empty after');
});

t.test('delete removes from every index and is idempotent', async (t) => {
  const table = new AllocationTable();
  const a = add(table, 100);
  const b = add(table, 100);
  table.delete(a);
  t.equal(table.size, 1);
  t.equal(table.get(a.key), undefined);
  t.equal(table.getById(a.id), undefined);
  table.delete(a);
  t.equal(table.size, 1, 'second delete does nothing');
  t.same(table.expire(1000), [b], 'a deleted allocation never comes out of expire');
});

t.test('per-user and per-IP counts drive quotaBreach; delete and expiry give quota back', async (t) => {
  const table = new AllocationTable();
  const q: AllocationQuotas = { perUser: 2, perClientIp: 3, total: 5 };
  t.equal(table.quotaBreach('alice', '198.51.100.7', q), undefined);
  const a1 = add(table, 100, 'alice', '198.51.100.7');
  add(table, 200, 'alice', '198.51.100.8');
  t.equal(table.quotaBreach('alice', '198.51.100.9', q), 'user', 'alice has 2');
  t.equal(table.quotaBreach('bob', '198.51.100.7', q), undefined, 'bob is another user');
  add(table, 300, 'bob', '198.51.100.7');
  add(table, 300, 'carol', '198.51.100.7');
  t.equal(table.quotaBreach('dave', '198.51.100.7', q), 'client-ip', '198.51.100.7 has 3');
  t.equal(table.quotaBreach('dave', '198.51.100.8', q), undefined);
  add(table, 300, 'dave', '198.51.100.10');
  t.equal(table.quotaBreach('erin', '198.51.100.11', q), 'total', '5 in all');
  t.equal(table.quotaBreach('erin', '198.51.100.11', NONE), undefined, '0 means no limit');

  table.delete(a1);
  t.equal(table.quotaBreach('alice', '198.51.100.9', q), undefined, 'alice has 1 after a delete');
  t.equal(table.quotaBreach('erin', '198.51.100.7', q), undefined, '198.51.100.7 has 2 after a delete');
  table.delete(a1);
  add(table, 300, 'alice', '198.51.100.12');
  const noTotal = { ...q, total: 0 };
  t.equal(table.quotaBreach('alice', '198.51.100.9', q), 'total', 'total (5) is checked first');
  t.equal(table.quotaBreach('alice', '198.51.100.9', noTotal), 'user', 'a repeated delete did not give back a second unit');

  table.expire(250); // alice's 198.51.100.8 one (200)
  t.equal(table.quotaBreach('alice', '198.51.100.9', noTotal), undefined, 'expiry gives quota back');
  t.equal(table.quotaBreach('alice', '198.51.100.9', q), undefined, 'to the total too');
});
