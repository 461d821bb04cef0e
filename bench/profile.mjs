#!/usr/bin/env node
// Where turnkit's time goes under ChannelData relay load: turnkit runs with `node --cpu-prof`,
// pinned to CPU 1, while the C generator (CPU 0) relays 100-byte ChannelData round trips through
// 100 allocations to the C echo peer; then the profile is summarised (bench/cpuprofile-summary.mjs).
// Usage: node bench/profile.mjs [--seconds 8] [--send] (Send/Data instead of ChannelData) [--binding]
//        [--data-plane js|native] (default js: the plane whose JavaScript is worth profiling)
//        [--alloc] (allocation setup: 401 + authenticated Allocate + CreatePermission + ChannelBind, N=5000)
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync, statSync } from 'node:fs';
import dgram from 'node:dgram';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarise, toMarkdown } from './cpuprofile-summary.mjs';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH, '..');
const BUILD = join(BENCH, '.build');
const argv = process.argv.slice(2);
const SECONDS = Number(argv[argv.indexOf('--seconds') + 1] ?? 8) || 8;
const SEND = argv.includes('--send');
const BINDING = argv.includes('--binding');
const ALLOC = argv.includes('--alloc');
const PLANE = argv.includes('--data-plane') ? argv[argv.indexOf('--data-plane') + 1] : 'js';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

mkdirSync(BUILD, { recursive: true });
for (const p of ['load', 'peer']) {
  const newest = Math.max(statSync(join(BENCH, 'gen', `${p}.c`)).mtimeMs, statSync(join(BENCH, 'gen', 'common.h')).mtimeMs);
  if (!existsSync(join(BUILD, p)) || statSync(join(BUILD, p)).mtimeMs < newest) execFileSync('gcc', ['-O2', '-Wno-unused-function', '-Wno-deprecated-declarations', '-o', join(BUILD, p), join(BENCH, 'gen', `${p}.c`), '-lcrypto'], { stdio: 'inherit' });
}
const freePort = () => new Promise((res) => { const s = dgram.createSocket('udp4'); s.bind(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
const run = (cmd, args) => new Promise((res) => {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = ''; c.stdout.on('data', (d) => (out += d));
  const t = setTimeout(() => c.kill('SIGKILL'), (SECONDS + 30) * 1000);
  c.on('exit', () => { clearTimeout(t); res(out.trim()); });
});

const profDir = join(BENCH, 'results', 'tmp', `prof-${Date.now()}`);
mkdirSync(profDir, { recursive: true });
const port = await freePort();
const help = execFileSync(process.execPath, [join(ROOT, 'dist/bin/turnkit.js'), 'serve', '--help'], { encoding: 'utf8' });
const extra = [];
if (help.includes('--no-http')) extra.push('--no-http');
if (help.includes('--no-metrics')) extra.push('--no-metrics');
if (help.includes('--drain-timeout')) extra.push('--drain-timeout', '0');
const peer = spawn('taskset', ['-c', '0', join(BUILD, 'peer'), '-p', '0', '-m', 'echo', '-t', String(SECONDS + 60)], { stdio: ['ignore', 'pipe', 'ignore'] });
const peerPort = await new Promise((res) => peer.stdout.once('data', (d) => res(Number(/ready (\d+)/.exec(String(d))[1]))));
let loadStartMs = 0;
let loadLine = '';
const spawnedAt = Date.now();
const tk = spawn('taskset', ['-c', '1', process.execPath, '--max-semi-space-size=2', '--cpu-prof', '--cpu-prof-dir', profDir, join(ROOT, 'dist/bin/turnkit.js'), 'serve',
  '--listen', `127.0.0.1:${port}`, '--user', 'test:test', '--realm', 'example.org', '--allow-peer', '127.0.0.0/8', '--relay-ip', '127.0.0.1',
  '--relay-ports', '16000-31999', '--max-allocations-per-user', '0', '--max-allocations-per-ip', '0', '--log-level', 'warn', '--data-plane', PLANE, ...extra], { stdio: 'inherit' });
try {
  await sleep(1500);
  const mode = ALLOC ? ['-m', 'alloc', '-N', '5000', '-c', '32', '-E'] : BINDING ? ['-m', 'stun', '-s', '4', '-w', '16'] : ['-m', 'relay', '-c', '100', '-w', '2', '-l', '100', ...(SEND ? ['-S'] : [])];
  loadStartMs = Date.now() - spawnedAt + (ALLOC ? 0 : 1000); // after the generator's 1 s warm-up
  const out = await run('taskset', ['-c', '0', join(BUILD, 'load'), ...mode, '-p', String(port), '-P', String(peerPort), '-d', String(ALLOC ? 60 : SECONDS), ...(ALLOC ? [] : ['-W', '1']), '-x', String(tk.pid)]);
  console.error(`load: ${out}`);
  loadLine = out;
} finally {
  const exited = new Promise((r) => tk.once('exit', r));
  tk.kill('SIGINT');
  const t = setTimeout(() => tk.kill('SIGKILL'), 15000);
  await exited;
  clearTimeout(t);
  peer.kill('SIGTERM');
}
const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
if (!file) { console.error(`no .cpuprofile in ${profDir} (turnkit did not exit cleanly)`); process.exit(1); }
const { readFileSync } = await import('node:fs');
// Only the measured load window: start-up (module loading, JIT) and the warm-up are left out.
const summary = summarise(JSON.parse(readFileSync(join(profDir, file), 'utf8')), 25, { skipMs: loadStartMs });
summary.load = loadLine;
writeFileSync(join(profDir, 'summary.json'), JSON.stringify(summary, null, 1));
console.log(toMarkdown(summary));
console.error(`profile: ${join(profDir, file)}`);
