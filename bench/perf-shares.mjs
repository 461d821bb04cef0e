#!/usr/bin/env node
// Inclusive shares of a `perf record -g` profile, by the first category whose pattern matches a
// frame of the sample's stack (order matters: a sample counts once). Samples of threads other than
// the busiest one (V8's GC and compiler threads, libuv's pool) are counted apart.
// Usage: perf script -i perf.data -F comm,tid,ip,sym | node bench/perf-shares.mjs [name=regex ...]
// With no categories given it uses the ones docs/performance.md's allocation table is made of.
import { createInterface } from 'node:readline';

const DEFAULT_CATEGORIES = [
  ['sendmsg (answers and relayed datagrams)', '__libc_sendmsg|udp_sendmsg'],
  ['… of which waking the receiver', 'sock_def_readable'],
  ['recvmsg', 'recvmsg|recvmmsg'],
  ['opening relay sockets (openRelay)', 'openRelay|js_open'],
  ['authenticateRequest', 'authenticateRequest'],
  ['respond / encodeMessage', 'JS:\\*respond |encodeMessage'],
  ['prom-client', 'prom-client'],
  ['AddressToJS (each datagram\'s rinfo)', 'AddressToJS'],
  ['garbage collection on the main thread', 'Scaveng|MarkCompact|Heap::CollectGarbage'],
];

const args = process.argv.slice(2);
const categories = (args.length > 0 ? args.map((a) => a.split(/=(.*)/s).slice(0, 2)) : DEFAULT_CATEGORIES).map(([name, re]) => {
  if (!name || !re) throw new Error(`expected name=regex, got ${JSON.stringify([name, re])}`);
  return { name, re: new RegExp(re), hits: 0 };
});

const samples = [];
let current;
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === '') continue;
  if (!/^\s/.test(line)) {
    current = { thread: line.trim().split(/\s+/).slice(0, 2).join(' '), frames: [] };
    samples.push(current);
  } else if (current) {
    current.frames.push(line.trim().split(/\s+/).slice(1).join(' '));
  }
}
// A header line with no stack under it is not a sample (a truncated or foreign input).
for (let i = samples.length - 1; i >= 0; i--) if (samples[i].frames.length === 0) samples.splice(i, 1);
if (samples.length === 0) {
  console.error('no samples on stdin (pipe `perf script -F comm,tid,ip,sym` into it)');
  process.exit(2);
}

const byThread = new Map();
for (const s of samples) byThread.set(s.thread, (byThread.get(s.thread) ?? 0) + 1);
const main = [...byThread].sort((a, b) => b[1] - a[1])[0][0];
let other = 0;
for (const s of samples) {
  if (s.thread !== main) {
    other++;
    continue;
  }
  // Each sample counts for the first matching row; a "… of which" row counts, among the samples of
  // the row above it, those it matches too.
  const stack = s.frames.join('\n');
  const first = categories.findIndex((c) => !c.name.startsWith('…') && c.re.test(stack));
  if (first < 0) continue;
  categories[first].hits++;
  for (let i = first + 1; i < categories.length && categories[i].name.startsWith('…'); i++) {
    if (categories[i].re.test(stack)) categories[i].hits++;
  }
}
const pct = (n) => `${((100 * n) / samples.length).toFixed(1)} %`;
console.log(`${samples.length} samples; main thread ${main}`);
for (const c of categories) console.log(`${pct(c.hits).padStart(7)}  ${c.name}`);
console.log(`${pct(other).padStart(7)}  other threads (GC helpers, TurboFan, libuv pool)`);
