#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `node --cpu-prof`): top functions by self time, and self time
// by file and by kind (turnkit code, Node internals, native/V8, GC). Percentages are of busy time
// (everything but "(idle)"). Usage: node bench/cpuprofile-summary.mjs FILE.cpuprofile [TOP=25] [--json] [--skip-ms N]
import { readFileSync } from 'node:fs';

export function summarise(profile, top = 25, { skipMs = 0 } = {}) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map(); // node id -> µs
  const { samples, timeDeltas } = profile;
  let t = 0; // µs since the profile started; samples in the first skipMs (start-up) are left out
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i];
    if (t < skipMs * 1000) continue;
    // timeDeltas[i] is the time before sample i; attribute the gap after a sample to it (as DevTools does).
    const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0;
    self.set(samples[i], (self.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  const shortUrl = (u) => (u ? u.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/') : '');
  const kind = (n) => {
    const { functionName: f, url } = n.callFrame;
    if (f === '(garbage collector)') return 'GC';
    if (f === '(idle)') return 'idle';
    if (f === '(program)') return 'V8/native (program)';
    if (!url) return 'native (C++ builtins, syscalls)';
    if (url.startsWith('node:')) return 'Node internals (node:*)';
    if (url.includes('/node_modules/')) return 'npm dependencies';
    if (url.includes('/dist/')) return 'turnkit (dist/)';
    return 'other JS';
  };
  const fn = new Map(), file = new Map(), kinds = new Map();
  let busy = 0, idle = 0;
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const k = kind(n);
    if (k === 'idle') { idle += us; continue; }
    busy += us;
    const cf = n.callFrame;
    const name = `${cf.functionName || '(anonymous)'} ${shortUrl(cf.url)}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
    fn.set(name, (fn.get(name) ?? 0) + us);
    const f = shortUrl(cf.url) || `(${k})`;
    file.set(f, (file.get(f) ?? 0) + us);
    kinds.set(k, (kinds.get(k) ?? 0) + us);
  }
  const rank = (m, limit) => [...m].sort((a, b) => b[1] - a[1]).slice(0, limit).map(([name, us]) => ({ name, ms: +(us / 1000).toFixed(1), pct: +((100 * us) / busy).toFixed(1) }));
  return {
    busy_ms: +(busy / 1000).toFixed(0), idle_ms: +(idle / 1000).toFixed(0),
    kinds: rank(kinds, 20), files: rank(file, 15), functions: rank(fn, top),
  };
}

export function toMarkdown(s) {
  const t = (rows, head) => [`| ${head} | self ms | % of busy |`, '|---|---:|---:|', ...rows.map((r) => `| \`${r.name}\` | ${r.ms} | ${r.pct} |`)].join('\n');
  return [`Busy ${s.busy_ms} ms, idle ${s.idle_ms} ms.`, '', '**By kind**', '', t(s.kinds, 'kind'), '', '**By file**', '', t(s.files, 'file'), '',
    '**Top functions by self time**', '', t(s.functions, 'function')].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.length < 3) { console.error('usage: cpuprofile-summary.mjs FILE.cpuprofile [TOP] [--json]'); process.exit(2); }
  const i = process.argv.indexOf('--skip-ms');
  const skipMs = i > 0 ? Number(process.argv[i + 1]) : 0;
  const [f2, top2] = process.argv.slice(2).filter((a, j, all) => !a.startsWith('--') && all[j - 1] !== '--skip-ms');
  const s = summarise(JSON.parse(readFileSync(f2, 'utf8')), Number(top2 ?? 25), { skipMs });
  console.log(process.argv.includes('--json') ? JSON.stringify(s, null, 1) : toMarkdown(s));
}
