#!/usr/bin/env node
// `npm run bench`: turnkit against coturn and node-turn on loopback (issue 6). See docs/performance.md.
//
// Each server is started here, pinned to CPU 1 (`taskset -c 1`), with the same settings: a free
// listen port on 127.0.0.1, relay ports RELAY_MIN-RELAY_MAX, long-term auth (test/test, realm
// example.org), loopback peers allowed. The C load generator (bench/gen/load.c) and the C echo peer
// (bench/gen/peer.c) are compiled here with the system gcc and run on CPU 0. Every run is bounded in
// seconds (and the generator in packets); only PIDs started here are signalled.
//
// Options:
//   --quick            one run of each scenario, short and small (< 60 s in all)
//   --runs N           runs of each scenario (default 3; median and min/max are reported)
//   --servers a,b      subset of: turnkit,turnkit-native,coturn,node-turn,plain-node (default all)
//   --only s1,s2       subset of scenarios by name prefix (e.g. binding,relay-cd,alloc,memory)
//   --seconds S        measured seconds per load run (default 3; --quick 0.6)
//   --out FILE         results file (default bench/results/<YYYY-MM-DD>.json; --quick: bench/results/tmp/)
//   --no-install       do not run bench/install-deps.sh
//   --report FILE      print the table of a saved results file and exit
//   --halt-poll-ns N   root, VM guests: set the guest's idle halt polling (cpuidle-haltpoll) to N ns
//                      for the run and restore it after; the machine's value is in the results
import { spawn, execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH, '..');
const BUILD = join(BENCH, '.build');
const RELAY_MIN = 16000;
const RELAY_MAX = 31999; // 16,000 ports for every server, below the kernel's ephemeral range (32768-60999)
const SECRET = 'bench-rest-secret';
const SERVER_CPU = '1';
const GEN_CPU = '0';

// ------------------------------------------------------------------------------------ options --
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt;
};
if (flag('--help') || flag('-h')) {
  // The help is the header comment: every `//` line after the shebang, up to the first import.
  const lines = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1);
  const header = lines.slice(0, lines.findIndex((l) => !l.startsWith('//')));
  console.log(header.map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}
const QUICK = flag('--quick');
const RUNS = Number(opt('--runs', QUICK ? 1 : 3));
const SECONDS = Number(opt('--seconds', QUICK ? 0.6 : 3));
const WARM = QUICK ? 0.2 : 1;
const SERVER_WARMUP = QUICK ? 0.4 : 1.5; // seconds of Binding + ChannelData load on a fresh server before measuring (JIT)
const SERVERS = opt('--servers', 'turnkit,turnkit-native,coturn,node-turn,plain-node').split(',');
const ONLY = opt('--only', '').split(',').filter(Boolean);
const ALLOC_N = QUICK ? 300 : 3000;
const ALLOC_WARMUP = QUICK ? 100 : 3000; // unmeasured allocations on a fresh server before an allocation run (V8 compiles the path meanwhile)
const MEM_POINTS = QUICK ? [1000] : [1000, 10000];
const today = new Date().toISOString().slice(0, 10);
const HALT_POLL = '/sys/module/haltpoll/parameters/guest_halt_poll_ns';
const HALT_POLL_NS = opt('--halt-poll-ns');
if (HALT_POLL_NS !== undefined && !/^\d+$/.test(HALT_POLL_NS)) {
  console.error(`bench: --halt-poll-ns wants a whole number of nanoseconds (e.g. 200000), not "${HALT_POLL_NS}"`);
  process.exit(2);
}
const OUT = opt('--out', QUICK ? join(BENCH, 'results', 'tmp', `quick-${today}.json`) : join(BENCH, 'results', `${today}.json`));
const T_START = Date.now();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error(`[bench ${((Date.now() - T_START) / 1000).toFixed(0).padStart(4)}s]`, ...a);

// -------------------------------------------------------------------------------- scenarios --
// kind: 'loop' (C generator closed loop or paced) | 'alloc' | 'memory'. `args` are load.c flags;
// `fresh` scenarios get a server of their own. `quick` marks the ones --quick keeps.
// Metrics: [key, label, better ('up'|'down'), from(result) => number].
const M = {
  rate: ['ops_per_s', 'ops/s', 'up', (r) => r.ops_per_s],
  us: ['server_us_per_op', 'server CPU µs/op', 'down', (r) => r.server_us_per_op],
  p50: ['p50_us', 'p50 µs', 'down', (r) => r.p50_us],
  p99: ['p99_us', 'p99 µs', 'down', (r) => r.p99_us],
  loss: ['loss_pct', 'loss %', 'down', (r) => r.loss_pct],
  srvPct: ['server_cpu_pct', 'server CPU % (info)', 'info', (r) => r.server_cpu_pct],
  genPct: ['gen_cpu_pct', 'generator CPU % (info)', 'info', (r) => r.gen_cpu_pct],
  cpuPerM: ['cpu_s_per_M_relayed', 'server CPU s per 1M relayed pkts', 'down', (r) => r.server_us_per_op / 2],
};
const relay = (name, desc, args, quick, metrics = [M.rate, M.loss, M.p50, M.p99, M.cpuPerM]) =>
  ({ name, desc, kind: 'loop', mode: 'relay', args, quick, metrics });
const SCENARIOS = [
  { name: 'binding-sat', desc: 'STUN Binding at saturation (4 sockets × 16 in flight)', kind: 'loop', mode: 'stun', args: ['-s', '4', '-w', '16'], quick: true, metrics: [M.rate, M.us, M.p50, M.p99, M.srvPct, M.genPct] },
  { name: 'binding-20k', desc: 'STUN Binding at a fixed offered 20k req/s', kind: 'loop', mode: 'stun', args: ['-s', '4', '-w', '256', '-r', '20000'], quick: true, metrics: [M.p50, M.p99, M.loss, M.us] },
  { name: 'binding-unloaded', desc: 'STUN Binding, 1 in flight (unloaded round trip)', kind: 'loop', mode: 'stun', args: ['-s', '1', '-w', '1'], quick: false, metrics: [M.p50, M.p99] },
  // The generator busy-polls: on a VM an idle vCPU halts, and waking it costs tens of µs on each side.
  { name: 'binding-unloaded-spin', desc: 'STUN Binding, 1 in flight, generator busy-polling (its own wake-up is not in the round trip)', kind: 'loop', mode: 'stun', args: ['-s', '1', '-w', '1', '-b'], quick: false, metrics: [M.p50, M.p99] },
  relay('relay-cd-100B-x1', 'ChannelData 100 B round trips, 1 allocation × 64 in flight', ['-c', '1', '-w', '64', '-l', '100'], false),
  relay('relay-cd-100B-x100', 'ChannelData 100 B round trips, 100 allocations × 2 in flight', ['-c', '100', '-w', '2', '-l', '100'], true, [M.rate, M.loss, M.p50, M.p99, M.cpuPerM, M.srvPct, M.genPct]),
  relay('relay-cd-1000B-x1', 'ChannelData 1000 B round trips, 1 allocation × 64 in flight', ['-c', '1', '-w', '64', '-l', '1000'], false),
  relay('relay-cd-1000B-x100', 'ChannelData 1000 B round trips, 100 allocations × 2 in flight', ['-c', '100', '-w', '2', '-l', '1000'], true),
  relay('relay-cd-100B-x100-10k', 'ChannelData 100 B at a fixed offered 10k round trips/s, 100 allocations', ['-c', '100', '-w', '8', '-l', '100', '-r', '10000'], false, [M.p50, M.p99, M.loss, M.cpuPerM]),
  relay('relay-send-100B-x1', 'Send/Data indications 100 B, 1 allocation × 64 in flight', ['-c', '1', '-w', '64', '-l', '100', '-S'], false),
  relay('relay-send-100B-x100', 'Send/Data indications 100 B, 100 allocations × 2 in flight', ['-c', '100', '-w', '2', '-l', '100', '-S'], true),
  relay('relay-send-1000B-x1', 'Send/Data indications 1000 B, 1 allocation × 64 in flight', ['-c', '1', '-w', '64', '-l', '1000', '-S'], false),
  relay('relay-send-1000B-x100', 'Send/Data indications 1000 B, 100 allocations × 2 in flight', ['-c', '100', '-w', '2', '-l', '1000', '-S'], false),
  relay('relay-send-100B-x100-10k', 'Send/Data 100 B at a fixed offered 10k round trips/s, 100 allocations', ['-c', '100', '-w', '8', '-l', '100', '-S', '-r', '10000'], false, [M.p50, M.p99, M.loss, M.cpuPerM]),
  { name: 'alloc-lt', desc: `Allocations/s, long-term auth (401 round + authenticated Allocate), N=${ALLOC_N}, 32 in flight`, kind: 'alloc', args: ['-N', String(ALLOC_N), '-c', '32'], quick: true, fresh: true,
    metrics: [['ops_per_s', 'allocations/s', 'up', (r) => r.ops_per_s], ['server_us_per_op', 'server CPU µs/allocation', 'down', (r) => r.server_us_per_op], M.p50, M.p99] },
  { name: 'alloc-rest', desc: `Allocations/s, REST credentials (shared secret), N=${ALLOC_N}, 32 in flight`, kind: 'alloc', rest: true, args: ['-N', String(ALLOC_N), '-c', '32'], quick: true, fresh: true,
    metrics: [['ops_per_s', 'allocations/s', 'up', (r) => r.ops_per_s], ['server_us_per_op', 'server CPU µs/allocation', 'down', (r) => r.server_us_per_op]] },
  { name: 'memory', desc: `RSS idle and holding ${MEM_POINTS.join(' and ')} allocations, each with a permission and a channel`, kind: 'memory', quick: true, fresh: true,
    metrics: [
      ['rss_idle_mb', 'idle RSS MB', 'down', (r) => r.rss_idle_kb / 1024],
      ...MEM_POINTS.map((n) => [`bytes_per_alloc_${n}`, `RSS bytes/allocation @${n}`, 'down', (r) => (r.rss_held_kb[n] - r.rss_idle_kb) * 1024 / n]),
      ['server_us_per_op', 'server CPU µs per allocation+perm+channel', 'down', (r) => r.server_us_per_op],
    ] },
].filter((s) => (!QUICK || s.quick) && (ONLY.length === 0 || ONLY.some((p) => s.name.startsWith(p))));

// ---------------------------------------------------------------------------------- helpers --
function sh(cmd, args, opts = {}) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000, ...opts }).trim();
  } catch (e) {
    return null;
  }
}
const have = (tool) => sh('sh', ['-c', `command -v ${tool}`]) !== null;

/** A port free for both UDP and TCP on 127.0.0.1, from the kernel's ephemeral range. */
async function freePort() {
  for (let i = 0; i < 50; i++) {
    const s = dgram.createSocket('udp4');
    const port = await new Promise((res, rej) => { s.once('error', rej); s.bind(0, '127.0.0.1', () => res(s.address().port)); });
    const tcpOk = await new Promise((res) => {
      const t = net.createServer();
      t.once('error', () => res(false));
      t.listen(port, '127.0.0.1', () => t.close(() => res(true)));
    });
    s.close();
    if (tcpOk) return port;
  }
  throw new Error('no free port');
}

/** Sends Binding requests until one is answered (the server is up), for at most `ms`. */
async function waitBinding(port, ms = 15000) {
  const s = dgram.createSocket('udp4');
  await new Promise((r) => s.bind(0, '127.0.0.1', r));
  const req = Buffer.alloc(20);
  req.writeUInt16BE(0x0001, 0);
  req.writeUInt32BE(0x2112a442, 4);
  req.write('benchreadyxx', 8, 'latin1');
  let ok = false;
  s.on('message', (m) => { if (m.length >= 20 && m.readUInt16BE(0) === 0x0101) ok = true; });
  const until = Date.now() + ms;
  while (!ok && Date.now() < until) {
    s.send(req, port, '127.0.0.1');
    await sleep(25);
  }
  s.close();
  return ok;
}

const started = new Set();
/** Spawns a process (pinned with taskset when `cpu` is set) and remembers its PID. */
function start(cmd, args, { cpu, name } = {}) {
  const full = cpu ? ['taskset', ['-c', cpu, cmd, ...args]] : [cmd, args];
  const child = spawn(full[0], full[1], { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
  let out = '';
  const keep = (d) => { out = (out + d).slice(-8000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.name = name ?? cmd;
  child.output = () => out;
  started.add(child);
  child.once('exit', () => started.delete(child));
  return child;
}
/** SIGTERM, then SIGKILL after 3 s, to one PID we started. */
async function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  try { process.kill(child.pid, 'SIGTERM'); } catch { return; }
  const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, 3000);
  await gone;
  clearTimeout(t);
}
function cleanup() {
  for (const c of started) { try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ } }
  restoreHaltPoll();
}

/** The machine's own halt-polling value while --halt-poll-ns has replaced it. */
let haltPollSaved = null;
/** Sets the guest's halt polling for this run (an idle vCPU that halts at once pays a VM exit per wake-up). */
function setHaltPoll(ns) {
  try {
    haltPollSaved = readFileSync(HALT_POLL, 'utf8').trim();
    writeFileSync(HALT_POLL, ns);
  } catch (e) {
    console.error(`bench: --halt-poll-ns needs root and a guest kernel with cpuidle-haltpoll (${HALT_POLL}): ${e.code ?? e.message}`);
    process.exit(2);
  }
  log(`guest halt polling ${haltPollSaved} -> ${ns} ns for this run`);
}
function restoreHaltPoll() {
  if (haltPollSaved === null) return;
  try { writeFileSync(HALT_POLL, haltPollSaved); } catch { /* reported by the next run's machine info */ }
  haltPollSaved = null;
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { cleanup(); process.exit(130); });

/** Runs the C generator on CPU 0 with a hard timeout; returns its JSON line. */
function gen(args, hardSeconds) {
  return new Promise((resolveGen) => {
    const child = start(join(BUILD, 'load'), args, { cpu: GEN_CPU, name: 'load' });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, hardSeconds * 1000);
    child.once('exit', (code) => {
      clearTimeout(t);
      const line = stdout.trim().split('\n').pop();
      try {
        resolveGen({ ...JSON.parse(line), exit: code });
      } catch {
        resolveGen({ error: `load ${args.join(' ')} exited ${code}: ${child.output().slice(-600)}` });
      }
    });
  });
}

// ----------------------------------------------------------------------------------- servers --
function restCredential() {
  const username = `${Math.floor(Date.now() / 1000) + 86400}:bench`;
  return { username, password: createHmac('sha1', SECRET).update(username).digest('base64') };
}

/** Flags of the built turnkit CLI that keep a bench server to its UDP port and quick to stop. */
let turnkitExtraFlags = null;
function turnkitExtra() {
  if (turnkitExtraFlags) return turnkitExtraFlags;
  const help = sh(process.execPath, [join(ROOT, 'dist/bin/turnkit.js'), 'serve', '--help']) ?? '';
  turnkitExtraFlags = [];
  if (help.includes('--no-http')) turnkitExtraFlags.push('--no-http');
  if (help.includes('--no-metrics')) turnkitExtraFlags.push('--no-metrics');
  if (help.includes('--drain-timeout')) turnkitExtraFlags.push('--drain-timeout', '0');
  return turnkitExtraFlags;
}

const SERVER_DEFS = {
  turnkit: {
    available: () => (existsSync(join(ROOT, 'dist/bin/turnkit.js')) ? null : 'dist/bin/turnkit.js missing (npm run build)'),
    rest: true,
    // Launched as every turnkit launcher does (npm start, systemd, the image): a 2 MB young generation.
    cmd: (port, { rest }) => [process.execPath, ['--max-semi-space-size=2', join(ROOT, 'dist/bin/turnkit.js'), 'serve', '--listen', `127.0.0.1:${port}`,
      ...(rest ? ['--secret', SECRET] : ['--user', 'test:test']), '--realm', 'example.org', '--allow-peer', '127.0.0.0/8',
      '--relay-ip', '127.0.0.1', '--relay-ports', `${RELAY_MIN}-${RELAY_MAX}`, '--max-allocations-per-user', '0', '--max-allocations-per-ip', '0',
      '--log-level', 'warn', '--data-plane', 'js', ...turnkitExtra()]],
  },
  'turnkit-native': {
    available: () => {
      if (!existsSync(join(ROOT, 'dist/bin/turnkit.js'))) return 'dist/bin/turnkit.js missing (npm run build)';
      return existsSync(join(ROOT, 'dist/native/dataplane.node')) ? null : 'dist/native/dataplane.node not built (node scripts/build-native.mjs needs gcc)';
    },
    rest: true,
    cmd: (port, opts) => {
      const [cmd, args] = SERVER_DEFS.turnkit.cmd(port, opts);
      return [cmd, args.map((a, i) => (args[i - 1] === '--data-plane' ? 'native' : a))];
    },
  },
  coturn: {
    available: () => (have('turnserver') ? null : 'turnserver not found (Debian package coturn; bench/install-deps.sh installs it as root)'),
    rest: true,
    cmd: (port, { rest, dir }) => ['turnserver', ['-n', '--no-cli', '--no-tls', '--no-dtls', '--listening-ip', '127.0.0.1', '--listening-port', String(port),
      '--relay-ip', '127.0.0.1', '--min-port', String(RELAY_MIN), '--max-port', String(RELAY_MAX),
      ...(rest ? ['--use-auth-secret', '--static-auth-secret', SECRET] : ['--lt-cred-mech', '--user', 'test:test']),
      '--realm', 'example.org', '--allow-loopback-peers', '--pidfile', join(dir, `turnserver-${port}.pid`), '--userdb', join(dir, `turndb-${port}`),
      '--log-file', 'stdout', '--simple-log', '--no-stdout-log']],
  },
  'node-turn': {
    available: () => {
      try { createRequire(join(ROOT, 'package.json')).resolve('node-turn'); return null; } catch { return 'npm package node-turn not installed (npm install)'; }
    },
    rest: false,
    sendOnly: true, // drops client ChannelData: upstream is Send indications, ChannelBind for ChannelData downstream
    cmd: (port) => [process.execPath, [join(BENCH, 'servers/node-turn.mjs'), String(port), String(RELAY_MIN), String(RELAY_MAX)]],
  },
  'plain-node': {
    available: () => null,
    reference: true, // not a TURN server: Binding and a bare 4-byte-header forwarder only
    cmd: (port, { peerPort }) => [process.execPath, [join(BENCH, 'servers/plain-node.mjs'), String(port), String(peerPort)]],
  },
};

async function startServer(name, opts) {
  const port = await freePort();
  const [cmd, args] = SERVER_DEFS[name].cmd(port, opts);
  const child = start(cmd, args, { cpu: SERVER_CPU, name });
  const up = await waitBinding(port);
  if (!up || child.exitCode !== null) {
    const out = child.output();
    await stop(child);
    throw new Error(`${name} did not come up on 127.0.0.1:${port}: ${out.slice(-800)}`);
  }
  await sleep(QUICK ? 100 : 300);
  return { child, port, pid: child.pid };
}

async function startPeer() {
  const child = start(join(BUILD, 'peer'), ['-p', '0', '-m', 'echo', '-t', '1800'], { cpu: GEN_CPU, name: 'peer' });
  const until = Date.now() + 5000;
  while (!/ready (\d+)/.test(child.output()) && Date.now() < until) await sleep(20);
  const m = /ready (\d+)/.exec(child.output());
  if (!m) throw new Error(`echo peer did not start: ${child.output()}`);
  return { child, port: Number(m[1]), pid: child.pid };
}

// ------------------------------------------------------------------------------------- build --
function build() {
  if (!flag('--no-install')) {
    try { execFileSync('sh', [join(BENCH, 'install-deps.sh')], { stdio: 'inherit', timeout: 900_000 }); } catch { /* reported below */ }
  }
  if (!have('gcc')) throw new Error('gcc not found: apt-get install gcc libc6-dev libssl-dev (bench/install-deps.sh does it as root)');
  if (!have('taskset')) throw new Error('taskset not found (util-linux)');
  mkdirSync(BUILD, { recursive: true });
  for (const prog of ['load', 'peer']) {
    const src = join(BENCH, 'gen', `${prog}.c`);
    const out = join(BUILD, prog);
    const newest = Math.max(statSync(src).mtimeMs, statSync(join(BENCH, 'gen', 'common.h')).mtimeMs);
    if (existsSync(out) && statSync(out).mtimeMs > newest) continue;
    execFileSync('gcc', ['-O2', '-Wall', '-Wno-unused-function', '-Wno-deprecated-declarations', '-o', out, src, '-lcrypto'], { stdio: 'inherit' });
  }
}

// ------------------------------------------------------------------------------ measurements --
const results = {}; // results[scenario][server] = [run results]
const push = (scn, server, r) => ((results[scn] ??= {})[server] ??= []).push(r);
const genSecs = () => ['-d', String(SECONDS), '-W', String(WARM)];
const hard = () => Math.ceil(SECONDS + WARM + 30);

/** The generator's ceiling: the same C generator against trivial C responders on CPU 1. */
async function ceiling() {
  const stun = start(join(BUILD, 'peer'), ['-p', '0', '-m', 'stun', '-t', '300'], { cpu: SERVER_CPU, name: 'c-stun' });
  const echo = start(join(BUILD, 'peer'), ['-p', '0', '-m', 'echo', '-t', '300'], { cpu: SERVER_CPU, name: 'c-echo' });
  await sleep(200);
  const sp = Number(/ready (\d+)/.exec(stun.output())?.[1]);
  const ep = Number(/ready (\d+)/.exec(echo.output())?.[1]);
  const b = await gen(['-m', 'stun', '-p', String(sp), '-s', '4', '-w', '16', ...genSecs(), '-x', String(stun.pid)], hard());
  const e = await gen(['-m', 'echo', '-p', String(ep), '-s', '4', '-w', '16', '-l', '100', ...genSecs(), '-x', String(echo.pid)], hard());
  // The relay shape: 100 "allocations" × 2 in flight, ChannelData-framed, straight to the C echo.
  const rx = await gen(['-m', 'relay', '-Z', '-p', String(ep), '-c', '100', '-w', '2', '-l', '100', ...genSecs(), '-x', String(echo.pid)], hard());
  // The latency floor: the unloaded round trip to a C responder, for the scenarios that measure it.
  for (const sc of SCENARIOS.filter((x) => x.name.startsWith('binding-unloaded'))) {
    push(`ceiling-c-${sc.name}`, 'c-responder', await gen(['-m', 'stun', '-p', String(sp), ...sc.args, ...genSecs()], hard()));
  }
  await stop(stun);
  await stop(echo);
  push('ceiling-c-binding', 'c-responder', b);
  push('ceiling-c-echo-100B', 'c-responder', e);
  push('ceiling-c-echo-relay-x100', 'c-responder', rx);
  log(`ceiling: C Binding responder ${fmt(b.ops_per_s)}/s (generator ${b.gen_cpu_pct}% CPU, ${b.gen_us_per_op} µs/op), C echo ${fmt(e.ops_per_s)} round trips/s, ` +
    `relay shape x100 ${fmt(rx.ops_per_s)}/s (generator ${rx.gen_us_per_op} µs/op)`);
}

async function loopScenarios(server, scenarios) {
  const def = SERVER_DEFS[server];
  const peer = await startPeer();
  const dir = mkdtempSync(join(os.tmpdir(), 'bench-'));
  let srv;
  try {
    srv = await startServer(server, { peerPort: peer.port, dir });
    const base = ['-p', String(srv.port), '-P', String(peer.port), '-d', String(SERVER_WARMUP / 2), '-W', '0'];
    await gen(['-m', 'stun', '-s', '4', '-w', '16', ...base], 30);
    await gen(['-m', 'relay', '-c', '4', '-w', '8', '-l', '100', ...(def.reference ? ['-Z'] : def.sendOnly ? ['-S', '-B'] : []), ...base], 30);
    // Each relay run's clients get source addresses of their own (127.1.x.y): the allocations of an
    // earlier run stay alive on the server, and a reused 5-tuple would be refused with 437.
    let srcBase = 4;
    for (const s of scenarios) {
      let args = [...s.args];
      if (s.mode === 'relay') {
        if (def.reference) {
          if (args.includes('-S')) continue; // the plain forwarder has no Send/Data path
          args.push('-Z');
        } else if (def.sendOnly && !args.includes('-S')) {
          args.push('-S', '-B'); // node-turn: Send up, ChannelData down (it drops client ChannelData)
        }
      }
      const clients = s.mode === 'relay' ? Number(args[args.indexOf('-c') + 1]) : 0;
      const r = await gen(['-m', s.mode, '-p', String(srv.port), '-P', String(peer.port), ...args, ...genSecs(), '-I', String(srcBase),
        '-x', String(srv.pid), '-y', String(peer.pid)], hard());
      srcBase += clients;
      if (def.sendOnly && s.mode === 'relay' && !s.args.includes('-S')) r.note = 'Send indications upstream (node-turn drops client ChannelData), ChannelData downstream';
      if (srv.child.exitCode !== null) r.error = `${server} exited: ${srv.child.output().slice(-400)}`;
      push(s.name, server, r);
      log(`${server} ${s.name}: ${r.error ? 'ERROR ' + r.error : `${fmt(r.ops_per_s)}/s p50 ${r.p50_us} µs p99 ${r.p99_us} µs loss ${r.loss_pct}% server ${r.server_cpu_pct}% gen ${r.gen_cpu_pct}%`}`);
      if (srv.child.exitCode !== null) break;
    }
  } finally {
    await stop(srv?.child);
    await stop(peer.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function freshScenario(server, s) {
  const def = SERVER_DEFS[server];
  if (def.reference) return;
  if (s.rest && !def.rest) {
    push(s.name, server, { skipped: `${server} has no REST (shared secret) credentials` });
    return;
  }
  const peer = await startPeer();
  const dir = mkdtempSync(join(os.tmpdir(), 'bench-'));
  let srv;
  try {
    srv = await startServer(server, { peerPort: peer.port, dir, rest: !!s.rest });
    await sleep(QUICK ? 300 : 1000); // settle before the idle RSS sample
    const cred = s.rest ? restCredential() : { username: 'test', password: 'test' };
    const common = ['-m', 'alloc', '-p', String(srv.port), '-P', String(peer.port), '-u', cred.username, '-k', cred.password, '-x', String(srv.pid)];
    let r;
    if (s.kind === 'alloc') {
      const warm = await gen([...common, '-N', String(ALLOC_WARMUP), '-c', '32', '-d', '30'], 60);
      if (warm.error) log(`${server} ${s.name} warm-up: ${warm.error}`);
      // Clients of their own (source addresses after the warm-up's), as new clients would be.
      r = await gen([...common, ...s.args, '-I', String(ALLOC_WARMUP), '-d', '60'], 90);
    } else {
      const n = MEM_POINTS[MEM_POINTS.length - 1];
      r = await gen([...common, '-N', String(n), '-c', '32', '-E', '-K', MEM_POINTS.join(','), '-d', '100'], 150);
    }
    if (srv.child.exitCode !== null) r.error = `${server} exited: ${srv.child.output().slice(-400)}`;
    if (!r.error && r.failed > 0) r.warning = `${r.failed} of ${r.requested} failed: ${JSON.stringify(r.errors)}`;
    push(s.name, server, r);
    log(`${server} ${s.name}: ${r.error ? 'ERROR ' + r.error : `${fmt(r.ops_per_s)}/s, ${r.done}/${r.requested} ok, server ${r.server_us_per_op} µs/op, RSS idle ${r.rss_idle_kb} KB held ${JSON.stringify(r.rss_held_kb)}`}`);
  } finally {
    await stop(srv?.child);
    await stop(peer.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

// ----------------------------------------------------------------------------------- summary --
const fmt = (v) => {
  if (v === undefined || v === null || Number.isNaN(v) || v < 0) return '–';
  if (Math.abs(v) >= 100_000) return `${(v / 1000).toFixed(0)}k`;
  if (Math.abs(v) >= 10_000) return `${(v / 1000).toFixed(1)}k`;
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
};
function stats(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median, min: v[0], max: v[v.length - 1], n: v.length };
}
function summarise() {
  const summary = {};
  for (const s of SCENARIOS) {
    summary[s.name] = {};
    for (const [server, runs] of Object.entries(results[s.name] ?? {})) {
      const ok = runs.filter((r) => !r.error && !r.skipped);
      summary[s.name][server] = {};
      for (const [key, , , get] of s.metrics) {
        summary[s.name][server][key] = stats(ok.map((r) => { try { return get(r); } catch { return undefined; } }));
      }
    }
  }
  return summary;
}
/** The terminal table from a results document (this run's, or a saved one with --report). */
function table(doc) {
  const { summary, runs } = doc;
  const all = ['turnkit', 'turnkit-native', 'coturn', 'node-turn', 'plain-node'];
  const present = (s) => Object.values(summary).some((sc) => sc[s]);
  const cols = all.filter(present);
  const subjects = cols.filter((s) => s.startsWith('turnkit'));
  const peers = cols.filter((s) => !s.startsWith('turnkit'));
  const short = (s) => (s === 'turnkit' ? 'tk' : 'tk-native');
  const pairs = subjects.flatMap((sub) => peers.map((p) => [sub, p]));
  const head = ['scenario / metric', ...cols, ...pairs.map(([sub, p]) => `${short(sub)}/${p}`)];
  const rows = [];
  const cell = (st) => (st ? (runs > 1 && st.n > 1 ? `${fmt(st.median)} [${fmt(st.min)}–${fmt(st.max)}]` : fmt(st.median)) : '–');
  for (const [name, meta] of Object.entries(doc.scenarios)) {
    const sm = summary[name] ?? {};
    for (const { key, label, better } of meta.metrics) {
      rows.push([`${name}: ${label}${better === 'up' ? ' ↑' : better === 'down' ? ' ↓' : ''}`, ...cols.map((c) => cell(sm[c]?.[key])),
        ...pairs.map(([sub, p]) => {
          const tk = sm[sub]?.[key];
          return better !== 'info' && tk && sm[p]?.[key] && sm[p][key].median > 0 ? `${(tk.median / sm[p][key].median).toFixed(2)}×` : '–';
        })]);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function report(doc, file) {
  const { machine: info, load_average: la } = doc;
  const ceil = doc.generator_ceiling;
  console.log(`\nturnkit bench — ${info.cpu_model}, ${info.cores} cores, Node ${info.node}, coturn ${info.coturn ?? '–'}, node-turn ${info.node_turn ?? '–'}, turnkit ${info.turnkit_commit}`);
  console.log(`${doc.runs} run(s) each, ${doc.seconds_per_run} s measured; median [min–max]; ↑ higher is better, ↓ lower is better; ratios are turnkit ÷ peer (medians).`);
  if (info.guest_halt_poll_ns != null) console.log(`guest halt polling ${info.guest_halt_poll_ns} ns (cpuidle-haltpoll; 0: an idle vCPU halts at once and each wake-up is a VM exit)`);
  console.log(`load average before ${la.before.map((x) => x.toFixed(2)).join(' ')}, after ${la.after.map((x) => x.toFixed(2)).join(' ')} (2 cores: above ~2.5 the machine was busy and absolute numbers are low)\n`);
  console.log(table(doc));
  const cap = (k) => (ceil[`${k}_gen_us_per_op`]?.median > 0 ? `, generator ${ceil[`${k}_gen_us_per_op`].median.toFixed(2)} µs CPU/op ≈ ${fmt(1e6 / ceil[`${k}_gen_us_per_op`].median)}/s per core` : '');
  console.log(`\ngenerator ceiling (same C generator vs trivial C responders on CPU 1):`);
  console.log(`  Binding ${fmt(ceil.binding?.median)}/s${cap('binding')}`);
  console.log(`  echo 100 B, 4 sockets × 16 ${fmt(ceil.echo_100B?.median)} round trips/s${cap('echo_100B')}`);
  if (ceil.binding_unloaded_p50_us) {
    const spin = ceil.binding_unloaded_spin_p50_us ? `, ${fmt(ceil.binding_unloaded_spin_p50_us.median)} µs with the generator busy-polling` : '';
    console.log(`  latency floor: Binding to a C responder, 1 in flight, p50 ${fmt(ceil.binding_unloaded_p50_us.median)} µs${spin}`);
  }
  if (ceil.relay_shape_x100) console.log(`  echo 100 B ChannelData-framed, 100 sockets × 2 ${fmt(ceil.relay_shape_x100?.median)} round trips/s${cap('relay_shape_x100')}`);
  for (const [s, why] of Object.entries(doc.skipped ?? {})) console.log(`skipped ${s}: ${why}`);
  console.log(`\nresults: ${file} (${doc.wall_seconds.toFixed(0)} s)`);
}

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const gitRev = sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']);
  const dirty = sh('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src']);
  let nodeTurn = null;
  try { nodeTurn = JSON.parse(readFileSync(join(ROOT, 'node_modules/node-turn/package.json'), 'utf8')).version; } catch { /* absent */ }
  return {
    cpu_model: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? 'unknown',
    cpu_family_model: `${/cpu family\s*:\s*(\d+)/.exec(cpuinfo)?.[1] ?? '?'}/${/^model\s*:\s*(\d+)/m.exec(cpuinfo)?.[1] ?? '?'}`,
    cpu_mhz: Number(/cpu MHz\s*:\s*([\d.]+)/.exec(cpuinfo)?.[1] ?? 0),
    cores: os.cpus().length,
    mem_gb: +(os.totalmem() / 2 ** 30).toFixed(1),
    kernel: os.release(),
    node: process.version,
    coturn: have('turnserver') ? sh('turnserver', ['--version'])?.split('\n').pop() ?? null : null,
    node_turn: nodeTurn,
    gcc: sh('gcc', ['-dumpfullversion']),
    // Idle vCPUs that halt at once (0) put a VM exit into every unloaded round trip.
    guest_halt_poll_ns: existsSync(HALT_POLL) ? Number(readFileSync(HALT_POLL, 'utf8').trim()) : null,
    turnkit_commit: gitRev,
    turnkit_src_uncommitted_changes: dirty ? dirty.split('\n').length : 0,
    dist_built: existsSync(join(ROOT, 'dist/bin/turnkit.js')) ? statSync(join(ROOT, 'dist/bin/turnkit.js')).mtime.toISOString() : null,
  };
}

// -------------------------------------------------------------------------------------- main --
async function main() {
  if (opt('--report')) {
    report(JSON.parse(readFileSync(opt('--report'), 'utf8')), opt('--report'));
    return;
  }
  build();
  if (HALT_POLL_NS !== undefined) setHaltPoll(HALT_POLL_NS);
  const info = machine();
  const load0 = os.loadavg();
  log(`${info.cpu_model}, ${info.cores} cores, Node ${info.node}, coturn ${info.coturn ?? 'absent'}, node-turn ${info.node_turn ?? 'absent'}; load ${load0.map((x) => x.toFixed(2)).join(' ')}`);
  if (info.cores < 2) log('warning: fewer than 2 cores; server and generator share a core');
  const skipped = {};
  const servers = SERVERS.filter((s) => {
    const def = SERVER_DEFS[s];
    if (!def) { skipped[s] = 'unknown server'; return false; }
    const why = def.available();
    if (why) { skipped[s] = why; log(`skipping ${s}: ${why}`); }
    return !why;
  });
  const loops = SCENARIOS.filter((s) => s.kind === 'loop');
  const fresh = SCENARIOS.filter((s) => s.kind !== 'loop');
  for (let run = 1; run <= RUNS; run++) {
    log(`run ${run}/${RUNS}`);
    await ceiling();
    // Servers interleaved within each run, so drift of a busy machine spreads over all of them.
    for (const server of servers) {
      if (loops.length) await loopScenarios(server, loops);
      for (const s of fresh) await freshScenario(server, s);
    }
  }
  const load1 = os.loadavg();
  const summary = summarise();
  const ceilRuns = (k) => results[k]?.['c-responder'] ?? [];
  const ceil = {};
  for (const [name, k] of [['binding', 'ceiling-c-binding'], ['echo_100B', 'ceiling-c-echo-100B'], ['relay_shape_x100', 'ceiling-c-echo-relay-x100']]) {
    ceil[name] = stats(ceilRuns(k).map((r) => r.ops_per_s));
    ceil[`${name}_gen_cpu_pct`] = stats(ceilRuns(k).map((r) => r.gen_cpu_pct));
    // What one core of generator could drive at this CPU cost per op (the capacity, not a measurement).
    ceil[`${name}_gen_us_per_op`] = stats(ceilRuns(k).map((r) => r.gen_us_per_op));
  }
  for (const name of ['binding-unloaded', 'binding-unloaded-spin']) {
    const runsOf = ceilRuns(`ceiling-c-${name}`);
    if (runsOf.length) ceil[`${name.replaceAll('-', '_')}_p50_us`] = stats(runsOf.map((r) => r.p50_us));
  }
  const doc = {
    date: new Date().toISOString(),
    quick: QUICK,
    runs: RUNS,
    seconds_per_run: SECONDS,
    warmup_seconds: WARM,
    alloc_warmup: ALLOC_WARMUP,
    machine: info,
    load_average: { before: load0, after: load1 },
    pinning: { server_cpu: SERVER_CPU, generator_and_echo_peer_cpu: GEN_CPU },
    relay_ports: `${RELAY_MIN}-${RELAY_MAX}`,
    skipped,
    scenarios: Object.fromEntries(SCENARIOS.map((s) => [s.name, { desc: s.desc, metrics: s.metrics.map(([k, l, b]) => ({ key: k, label: l, better: b })) }])),
    generator_ceiling: ceil,
    summary,
    raw: results,
    wall_seconds: (Date.now() - T_START) / 1000,
  };
  restoreHaltPoll();
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(doc, null, 1) + '\n');
  report(doc, OUT);
}

main().catch((e) => {
  console.error(e.stack ?? e);
  cleanup();
  process.exit(1);
});
