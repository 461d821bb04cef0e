/** TransactionCache (src/turn/transactions.ts): retransmissions get the remembered answer (RFC 8656 §6.2). */
import t from 'tap';
import { MAX_REMEMBERED, TRANSACTION_WINDOW_MS, TransactionCache } from '../../src/turn/transactions.js';
import {
  PEER_A,
  T0,
  TurnTestClient,
  allocateRequest,
  channelBindRequest,
  createPermissionRequest,
  engineConfig,
  makeEngine,
  refreshRequest,
  verdict,
} from '../helpers/turn-client.js';

const tx = (n: number) => {
  const b = Buffer.alloc(12);
  b.writeUInt32BE(n, 8);
  return b;
};

t.test('the window covers a client\'s whole retransmission span (RFC 8489 §6.2.1: Rc × RTO, 39.5 s)', async (t) => {
  t.ok(TRANSACTION_WINDOW_MS >= 39_500, `window ${TRANSACTION_WINDOW_MS} ms`);
  const cache = new TransactionCache();
  const answer = Buffer.from('answer');
  cache.set('1|198.51.100.7|40000', tx(1), answer, T0);
  t.same(cache.get('1|198.51.100.7|40000', tx(1), T0), answer);
  t.same(cache.get('1|198.51.100.7|40000', tx(1), T0 + 39_500), answer, 'still there at 39.5 s');
  t.equal(cache.get('1|198.51.100.7|40000', tx(1), T0 + TRANSACTION_WINDOW_MS), undefined, 'gone at the end of the window');
});

t.test('answers are per 5-tuple and per transaction ID', async (t) => {
  const cache = new TransactionCache();
  cache.set('1|198.51.100.7|40000', tx(1), Buffer.from('a'), T0);
  t.equal(cache.get('1|198.51.100.7|40001', tx(1), T0), undefined, 'other port');
  t.equal(cache.get('2|198.51.100.7|40000', tx(1), T0), undefined, 'other listener');
  t.equal(cache.get('1|198.51.100.7|40000', tx(2), T0), undefined, 'other transaction');
  cache.set('1|198.51.100.7|40000', tx(2), Buffer.from('b'), T0);
  t.same(cache.get('1|198.51.100.7|40000', tx(1), T0), Buffer.from('a'));
  t.same(cache.get('1|198.51.100.7|40000', tx(2), T0), Buffer.from('b'));
});

t.test('an answer comes back byte for byte, whatever its bytes', async (t) => {
  const cache = new TransactionCache();
  const answer = Buffer.alloc(512);
  for (let i = 0; i < answer.length; i++) answer[i] = (i * 167 + 13) & 0xff;
  const id = Buffer.alloc(12);
  for (let i = 0; i < 12; i++) id[i] = 0xf4 + i;
  cache.set('1|2001:db8::1|40000', id, answer, T0);
  const back = cache.get('1|2001:db8::1|40000', Buffer.from(id), T0);
  t.ok(back && back.equals(answer), 'every byte value survives');
  answer[0] ^= 0xff;
  t.not(back?.[0], answer[0], 'a copy: changing the sent Buffer later does not change the remembered answer');
});

t.test('expire forgets answers older than the window', async (t) => {
  const cache = new TransactionCache(1000, 100);
  cache.set('k', tx(1), Buffer.from('a'), T0);
  cache.set('k', tx(2), Buffer.from('b'), T0 + 500);
  t.equal(cache.size, 2);
  cache.expire(T0 + 1000);
  t.equal(cache.size, 1, 'the first is gone');
  t.same(cache.get('k', tx(2), T0 + 1000), Buffer.from('b'));
  cache.expire(T0 + 1500);
  t.equal(cache.size, 0);
});

t.test('the cache is bounded: the oldest answer makes room', async (t) => {
  const cache = new TransactionCache(60_000, 3);
  for (let i = 1; i <= 4; i++) cache.set('k', tx(i), Buffer.from([i]), T0 + i);
  t.equal(cache.size, 3);
  t.equal(cache.get('k', tx(1), T0 + 10), undefined, 'oldest evicted');
  for (let i = 2; i <= 4; i++) t.same(cache.get('k', tx(i), T0 + 10), Buffer.from([i]));

  const big = new TransactionCache();
  const answer = Buffer.from('x');
  for (let i = 0; i < MAX_REMEMBERED + 10; i++) big.set('k', tx(i), answer, T0);
  t.equal(big.size, MAX_REMEMBERED, `default bound ${MAX_REMEMBERED}`);
  t.ok(MAX_REMEMBERED > 0 && MAX_REMEMBERED <= 1_000_000, 'a finite bound');
});

t.test('engine: a retransmitted Allocate after the window is a new transaction (437)', async (t) => {
  const engine = makeEngine(engineConfig());
  const c = new TurnTestClient(engine);
  c.challenge(T0);
  const req = allocateRequest(c.creds()).data;
  const out = c.send(req, T0);
  if (out.kind !== 'allocate') return t.fail(`expected a pending allocation, got ${verdict(out)}`);
  const done = c.complete(out.pending);
  const inside = c.send(req, T0 + TRANSACTION_WINDOW_MS - 1);
  t.ok(inside.kind === 'respond' && inside.data.equals(done.data), 'inside the window: same answer');
  t.equal(inside.kind === 'respond' ? inside.result : undefined, 'success', 'result recovered from the cached bytes');
  t.equal(verdict(c.send(req, T0 + TRANSACTION_WINDOW_MS + 1)), 437, 'after it: processed again → 437');
});

t.test('engine: error answers are remembered too (a retransmitted 442 stays 442, byte for byte)', async (t) => {
  const engine = makeEngine(engineConfig());
  const c = new TurnTestClient(engine);
  c.challenge(T0);
  const req = allocateRequest(c.creds(), { transport: 132 }).data;
  const first = c.send(req, T0);
  t.equal(verdict(first), 442);
  const again = c.send(req, T0 + 1000);
  t.ok(first.kind === 'respond' && again.kind === 'respond' && again.data.equals(first.data));
  t.equal(again.kind === 'respond' ? again.result : undefined, 'error', 'result recovered from the cached bytes');
});

t.test('engine: a retransmitted CreatePermission or ChannelBind is processed again (RFC 8489 §6.3.1), same bytes back', async (t) => {
  const engine = makeEngine(engineConfig());
  const c = new TurnTestClient(engine);
  const { allocation } = c.allocate(T0, { lifetime: 600 });
  const perm = createPermissionRequest(c.creds(), [PEER_A]).data;
  const first = c.send(perm, T0 + 1000);
  const again = c.send(perm, T0 + 6000);
  t.ok(first.kind === 'respond' && again.kind === 'respond' && again.data.equals(first.data), 'CreatePermission: the same answer');
  t.equal(allocation.permissions.get(PEER_A.address), T0 + 6000 + 300_000, 'processed again: the permission runs from the retransmission');

  const bind = channelBindRequest(c.creds(), 0x4000, PEER_A).data;
  const b1 = c.send(bind, T0 + 7000);
  const b2 = c.send(bind, T0 + 9000);
  t.ok(b1.kind === 'respond' && b2.kind === 'respond' && b2.data.equals(b1.data) && b2.result === 'success', 'ChannelBind: the same success');
  t.equal(allocation.channelsByNumber.get(0x4000)?.expiresAt, T0 + 9000 + 600_000, 'processed again: the binding runs from the retransmission');

  // Refresh is not idempotent (LIFETIME 0 deletes), so its answer is still remembered.
  const refresh = refreshRequest(c.creds(), 300).data;
  const r1 = c.send(refresh, T0 + 10_000);
  const expiresAt = allocation.expiresAt;
  t.ok(expiresAt > T0 + 10_000, 'Refresh extended the allocation');
  const r2 = c.send(refresh, T0 + 12_000);
  t.ok(r1.kind === 'respond' && r2.kind === 'respond' && r2.data.equals(r1.data));
  t.equal(allocation.expiresAt, expiresAt, 'Refresh: the remembered answer, not processed again');
});
