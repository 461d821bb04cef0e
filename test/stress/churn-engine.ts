/**
 * The engine half of the churn test, run as its own process (see churn.test.ts): N cycles of
 * allocate / refresh / permission / channel / data / delete against a TurnEngine with an injected
 * clock, a quarter of them left to expire; prints one JSON line with the tables' sizes and memory
 * before and after (forced GC), measured after a warm-up that lets V8 grow its heap to size.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import {
  PEER_A,
  T0,
  TurnTestClient,
  engineConfig,
  makeEngine,
  newClientAddress,
  verdict,
} from '../helpers/turn-client.js';

/** What the churn process prints. */
export interface ChurnResult {
  cycles: number;
  warmup: number;
  ms: number;
  leftToExpire: number;
  /** Expiry-heap entries while `leftToExpire` allocations were still live (before the clock jumps). */
  heapBeforeExpiry: number;
  problems: string[];
  tables: Record<'allocations' | 'byId' | 'perUser' | 'perIp' | 'heap' | 'transactions' | 'pending', number>;
  before: NodeJS.MemoryUsage;
  after: NodeJS.MemoryUsage;
}

const STEP_MS = 10;

function main(cycles: number): ChurnResult {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const settle = (): NodeJS.MemoryUsage => {
    for (let i = 0; i < 4; i++) gc();
    return process.memoryUsage();
  };
  // The per-source limits are another test's subject: here they must not get in the way.
  const engine = makeEngine(engineConfig({ quotas: { perUser: 0, perClientIp: 0, total: 0 } }), { burst: 1e9, perSecond: 1e9 });
  const slots = Array.from({ length: 8 }, () => new TurnTestClient(engine, { source: newClientAddress('198.51.100.40') }));
  let now = T0;
  for (const s of slots) s.challenge(now);
  const problems: string[] = [];

  const cycle = (i: number): void => {
    now += STEP_MS;
    const leaveToExpire = i % 4 === 3;
    const c = leaveToExpire ? new TurnTestClient(engine, { source: newClientAddress('198.51.100.41') }) : slots[i % slots.length]!;
    if (leaveToExpire) c.challenge(now);
    // Nonces go stale after 600 s of simulated time: a 438 teaches the client a fresh one.
    let out = c.requestAllocation(now);
    if (verdict(out) === 438) out = c.requestAllocation(now);
    if (out.kind !== 'allocate') {
      problems.push(`cycle ${i}: Allocate → ${verdict(out)}`);
      return;
    }
    const relay = { family: 'IPv4' as const, address: '203.0.113.9', port: 1024 + (i % 64_000) };
    c.complete(out.pending, { relayed: relay, advertised: relay });
    const channel = 0x4000 + (i % 0x3fff);
    const steps = [verdict(c.refresh(now, 600)), verdict(c.createPermission(now, [PEER_A])), verdict(c.channelBind(now, channel, PEER_A))];
    const toPeer = c.channelData(now, channel, Buffer.from('churn'));
    const toClient = engine.handlePeerPacket(c.allocation!, PEER_A.address, PEER_A.port, Buffer.from('back'), now);
    if (steps.some((v) => v !== 'success') || toPeer.kind !== 'send-peer' || toClient.kind !== 'to-client') {
      problems.push(`cycle ${i}: ${steps.join(',')} ${toPeer.kind} ${toClient.kind}`);
    }
    if (!leaveToExpire && verdict(c.refresh(now, 0)) !== 'success') problems.push(`cycle ${i}: delete failed`);
    // The runtime sweeps once a second.
    if (i % 100 === 0) engine.expire(now);
  };
  const expireAll = (): void => {
    now += 3_600_000;
    engine.expire(now);
  };

  // V8 keeps growing its heap (by a few hundred KiB) for the first ~80,000 cycles; measured flat
  // from there to 230,000. A long run warms up that far, so that growth after it would be a leak.
  const warmup = Math.min(80_000, Math.max(10_000, cycles / 2));
  for (let i = 0; i < warmup; i++) cycle(i);
  expireAll();
  const before = settle();
  const started = Date.now();
  for (let i = 0; i < cycles && problems.length <= 10; i++) cycle(i);
  const leftToExpire = engine.allocations.size;
  const table = engine.allocations as unknown as { byId: Map<number, unknown>; perUser: Map<string, number>; perIp: Map<string, number>; heap: unknown[] };
  const heapBeforeExpiry = table.heap.length;
  expireAll();
  const after = settle();
  const internals = engine as unknown as { transactions: { size: number }; pending: Map<string, unknown> };
  return {
    cycles,
    warmup,
    ms: Date.now() - started,
    leftToExpire,
    heapBeforeExpiry,
    problems,
    tables: {
      allocations: engine.allocations.size,
      byId: table.byId.size,
      perUser: table.perUser.size,
      perIp: table.perIp.size,
      heap: table.heap.length,
      transactions: internals.transactions.size,
      pending: internals.pending.size,
    },
    before,
    after,
  };
}

process.stdout.write(`${JSON.stringify(main(Number(process.argv[2] ?? 10_000)))}\n`);
