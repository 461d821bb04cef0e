#!/usr/bin/env node
// turnkit test runner: `npm test [-- paths...]`.
//
// 1. scripts/install-test-deps.sh (Debian packages the integration tests use)
// 2. tsc -p .  (tests run compiled, from dist/test/**/*.test.js) and the native data plane
//    (when built, servers run on it; test/integration and test/transport run again on js)
// 3. runs each compiled tap test file in its own node process, 2 at a time,
//    with a per-file timeout and a global one, and prints its TAP output
// 4. last line: `N passed, N failed, N skipped` (leaf test points; see countTap)
//
// Why not `tap run`: tap 21's runner mis-reports the file that follows a timed
// out file (its result line becomes "not ok - timeout!" and, with jobs > 1, its
// subtests vanish), which makes the counts wrong exactly when something hangs.
// Running files ourselves also lets us kill each file's whole process group
// (turnserver and friends included) and skip tap's per-file ts-node loader,
// which is dead weight for precompiled tests (~2 s per file).
//
// Options: --no-install, --no-build, --help. Environment: TEST_JOBS (2),
// TEST_TIMEOUT_S (120, per file), TEST_GLOBAL_TIMEOUT_S (2400),
// TEST_KILL_GRACE_S (15), TEST_VERBOSE=1 (stderr of passing files too),
// TEST_SKIP_INSTALL=1.

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/**
 * The native data plane addon. When it is built, servers the tests start use it (the default,
 * --data-plane auto), and the files under JS_PASS_DIRS run a second time on the JavaScript plane.
 */
const NATIVE_ADDON = join(ROOT, 'dist', 'native', 'dataplane.node');
const JS_PASS_DIRS = ['integration', 'transport'];
const env = process.env;

/** Reads a positive integer setting from the environment. */
function intEnv(name, fallback) {
  const v = Number.parseInt(env[name] ?? '', 10);
  return Number.isFinite(v) && v >= 0 ? v : fallback;
}

const CONFIG = {
  jobs: Math.max(1, intEnv('TEST_JOBS', 2)),
  fileTimeoutMs: intEnv('TEST_TIMEOUT_S', 120) * 1000,
  globalTimeoutMs: intEnv('TEST_GLOBAL_TIMEOUT_S', 40 * 60) * 1000,
  // Extra time after a file's own tap timeout before we kill it: tap reports
  // its own timeout (with the subtest and open handles), which beats SIGKILL,
  // and then takes up to 10 s to force its own exit.
  killGraceMs: intEnv('TEST_KILL_GRACE_S', 15) * 1000,
  installTimeoutMs: 15 * 60 * 1000,
  buildTimeoutMs: 10 * 60 * 1000,
  verbose: env.TEST_VERBOSE === '1',
  // Files under these dirs (relative to test/) run alone: they change the
  // network of the machine (namespaces, nftables) or need all the CPU.
  serialDirs: ['lab', 'stress', 'bench'],
  // Passing files can be long (property tests); keep CI logs readable.
  maxEchoLinesPassing: 1500,
  maxEchoLinesFailing: 6000,
  maxStderrLines: 200,
};

const TEST_SOURCE_RE = /\.test\.(ts|mts|cts)$/;
const TEST_JS_RE = /\.test\.(js|mjs|cjs)$/;

// ---------------------------------------------------------------- output --

let stdoutBroken = false;
process.stdout.on('error', () => { stdoutBroken = true; });

/** Writes lines to stdout, ignoring a closed pipe (`npm test | head`). */
function out(text) {
  if (!stdoutBroken) process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

/** Prints the closing count line last and exits with the given code. */
function finish(counts, code) {
  cleanupAll();
  const line = `${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`;
  if (stdoutBroken) process.exit(code);
  process.stdout.write(line, () => process.exit(code));
}

// ------------------------------------------------------- child processes --

/** Process groups we started and have not yet seen die; killed on any exit path. */
const liveGroups = new Set();

/** Kills a process group we started; ESRCH just means it is already gone. */
function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Whether any process of a group we started is still alive. */
function groupAlive(pid) {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

function cleanupAll() {
  for (const pid of liveGroups) killGroup(pid, 'SIGKILL');
  liveGroups.clear();
}

process.on('exit', cleanupAll);

/** Runs a setup step (install, build) with inherited stdio and a hard timeout. */
function runStep(cmd, args, timeoutMs) {
  return new Promise((resolveStep) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    liveGroups.add(child.pid);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, 'SIGTERM');
      setTimeout(() => killGroup(child.pid, 'SIGKILL'), 3000).unref();
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolveStep({ code: null, signal: null, timedOut, error: err });
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (groupAlive(child.pid)) killGroup(child.pid, 'SIGKILL');
      liveGroups.delete(child.pid);
      resolveStep({ code, signal, timedOut, error: null });
    });
  });
}

// ------------------------------------------------------------ selection --

/** Lists files under dir (recursively) whose name matches re, skipping dot dirs and node_modules. */
function walk(dir, re) {
  const found = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return found;
  }
  for (const e of entries) {
    if (e.name.startsWith('.') || e.name === 'node_modules') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) found.push(...walk(p, re));
    else if (re.test(e.name)) found.push(p);
  }
  return found;
}

/** dist/ path of a compiled test source (test/x/y.test.ts -> dist/test/x/y.test.js). */
function compiledPath(src) {
  const rel = relative(ROOT, src).replace(/\.ts$/, '.js').replace(/\.mts$/, '.mjs').replace(/\.cts$/, '.cjs');
  return join(ROOT, 'dist', rel);
}

/** Whether p is inside dir (or is dir). */
function isUnder(p, dir) {
  const rel = relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && rel !== '..');
}

/**
 * Turns the command-line paths into test files to run.
 * Sources under test/ are mapped to dist/ so that a stale compiled file whose
 * source was deleted never runs; dist/ paths and paths outside the project
 * (the runner's self-test fixtures) are run as they are.
 */
function selectFiles(args) {
  const files = [];
  const problems = [];
  const testDir = join(ROOT, 'test');
  const distDir = join(ROOT, 'dist');
  const wanted = args.length ? args : [testDir];
  for (const arg of wanted) {
    let abs = resolve(process.cwd(), arg);
    if (!existsSync(abs) && existsSync(resolve(ROOT, arg))) abs = resolve(ROOT, arg);
    if (!existsSync(abs)) {
      problems.push(`no such test path: ${arg}`);
      continue;
    }
    const isDir = statSync(abs).isDirectory();
    if (isUnder(abs, testDir)) {
      const sources = isDir ? walk(abs, TEST_SOURCE_RE) : [abs];
      if (!isDir && !TEST_SOURCE_RE.test(abs)) {
        problems.push(`not a test source (want *.test.ts): ${arg}`);
        continue;
      }
      if (sources.length === 0 && args.length) problems.push(`no *.test.ts files under ${arg}`);
      for (const src of sources) files.push({ path: compiledPath(src), source: src });
    } else if (isUnder(abs, distDir) || !isUnder(abs, ROOT)) {
      const found = isDir ? walk(abs, TEST_JS_RE) : [abs];
      if (found.length === 0) problems.push(`no *.test.js files under ${arg}`);
      for (const f of found) files.push({ path: f, source: null });
    } else {
      problems.push(`not a test path (want something under test/ or dist/test/): ${arg}`);
    }
  }
  const seen = new Set();
  const unique = files.filter((f) => (seen.has(f.path) ? false : (seen.add(f.path), true)));
  unique.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files: unique, problems };
}

/** Whether a compiled test must run with no other test file alongside it. */
function isSerial(file) {
  const distTest = join(ROOT, 'dist', 'test');
  return CONFIG.serialDirs.some((d) => isUnder(file, join(distTest, d)));
}

// --------------------------------------------------------------- parsing --

/** Splits a test point description into its name and SKIP/TODO directive (an unescaped `#`). */
function splitDirective(rest) {
  const m = /(?:^|\s)(?<!\\)#\s*(skip|todo)\b\S*\s*(.*)$/i.exec(rest);
  if (!m) return { name: rest.replace(/\s+#\s*time=\S+\s*$/, '').trim(), directive: null, reason: '' };
  return {
    name: rest.slice(0, m.index).trim(),
    directive: m[1].toLowerCase(),
    reason: m[2].trim(),
  };
}

/**
 * Counts the leaf test points of one file's TAP stream.
 *
 * tap prints a subtest's body (indented 4 more) before the subtest's own
 * result line, so a point is a leaf when no deeper point came before it since
 * the previous point at its level. Leaves count once: ok -> passed, not ok ->
 * failed, `# SKIP` or `# TODO` -> skipped. A parent counts only its leaves,
 * except a `not ok` parent whose leaves show no failure (a failed plan, a
 * thrown error the leaves did not record): it counts as one failure itself,
 * so a failure can never disappear from the count.
 */
function countTap(lines) {
  const frames = new Map(); // indent -> counts of points at that indent (and below)
  const subtestNames = new Map(); // indent of a subtest's result line -> its name
  const res = { passed: 0, failed: 0, skipped: 0, failures: [], skips: [], plan: null, topPoints: 0, bailout: null, open: false };
  let yamlIndent = -1;
  let lastPointIndent = -1;

  const frame = (ind) => {
    let f = frames.get(ind);
    if (!f) frames.set(ind, (f = { passed: 0, failed: 0, skipped: 0, points: 0 }));
    return f;
  };
  const pathTo = (ind) =>
    [...subtestNames.entries()].filter(([d]) => d < ind).sort((a, b) => a[0] - b[0]).map(([, n]) => n);

  const braced = new Map(); // indent -> result line of a `{`-buffered subtest awaiting its `}`

  /** Counts one test point (see above): a leaf by itself, a parent by what its body counted. */
  const point = (ind, ok, rest) => {
    const { name, directive, reason } = splitDirective(rest);
    // gather (and close) everything deeper: that is this point's subtest body
    const kids = { passed: 0, failed: 0, skipped: 0, points: 0 };
    for (const [d, f] of [...frames.entries()]) {
      if (d > ind) {
        kids.passed += f.passed;
        kids.failed += f.failed;
        kids.skipped += f.skipped;
        kids.points += f.points;
        frames.delete(d);
      }
    }
    const here = frame(ind);
    here.points += 1;
    if (ind === 0) res.topPoints += 1;
    const path = [...pathTo(ind), name || '(unnamed)'];
    if (kids.points > 0) {
      here.passed += kids.passed;
      here.failed += kids.failed;
      here.skipped += kids.skipped;
      if (!ok && !directive && kids.failed === 0) {
        here.failed += 1;
        res.failures.push(path.join(' › ') + ' (subtest failed)');
      }
    } else if (directive) {
      here.skipped += 1;
      res.skips.push(directive === 'todo' ? `todo: ${reason || name}` : reason || name || 'skip');
    } else if (ok) {
      here.passed += 1;
    } else {
      here.failed += 1;
      res.failures.push(path.join(' › '));
    }
    for (const d of [...subtestNames.keys()]) if (d >= ind) subtestNames.delete(d);
  };

  for (const raw of lines) {
    const line = raw.replace(/\r$/, '');
    const ind = line.length - line.trimStart().length;
    const body = line.slice(ind);
    if (yamlIndent >= 0) {
      if (body.trimEnd() === '...' && ind <= yamlIndent) yamlIndent = -1;
      continue;
    }
    if (body.trimEnd() === '---' && lastPointIndent >= 0 && ind > lastPointIndent) {
      yamlIndent = ind;
      continue;
    }
    const sub = /^# Subtest(?::\s*(.*))?$/.exec(body);
    if (sub) {
      subtestNames.set(ind, (sub[1] ?? '(unnamed)').trim());
      continue;
    }
    const plan = /^1\.\.(\d+)(?:\s*#\s*(.*))?$/.exec(body);
    if (plan) {
      if (ind === 0) res.plan = { count: Number(plan[1]), reason: (plan[2] ?? '').trim() };
      continue;
    }
    const bail = /^Bail out!(.*)$/.exec(body);
    if (bail) {
      res.bailout = bail[1].trim() || 'bailed out';
      continue;
    }
    // TAP 14 buffered subtest: `ok 1 - name {`, body, `}`; the body follows the
    // result line, so count the point when its closing brace arrives
    if (body.trimEnd() === '}' && braced.has(ind)) {
      const p = braced.get(ind);
      braced.delete(ind);
      point(ind, p.ok, p.rest);
      continue;
    }
    const pt = /^(not ok|ok)\b(?:\s+\d+)?(?:\s+-)?\s*(.*)$/.exec(body);
    if (!pt) continue;
    lastPointIndent = ind;
    const rest = pt[2].replace(/\s*\{\s*$/, '');
    if (rest !== pt[2]) braced.set(ind, { ok: pt[1] === 'ok', rest });
    else point(ind, pt[1] === 'ok', rest);
  }
  // a `{` never closed (or a test name that merely ends in `{`): count it as it stands
  for (const [ind, p] of [...braced.entries()].sort((a, b) => b[0] - a[0])) point(ind, p.ok, p.rest);
  // Points left deeper than the top level belong to subtests that never closed
  // (the process died mid-subtest): count what they did.
  for (const [d, f] of frames) {
    if (d > 0 && f.points > 0) res.open = true;
    res.passed += f.passed;
    res.failed += f.failed;
    res.skipped += f.skipped;
  }
  return res;
}

// --------------------------------------------------------------- running --

const nodeArgs = ['--enable-source-maps'];
try {
  // t.mockImport() needs tap's loader in the test process, as `tap run` adds it.
  nodeArgs.push(`--import=${import.meta.resolve('@tapjs/mock/import')}`);
} catch {
  // older/newer tap without the mock plugin: tests just can't use mockImport
}

// Variables by which tap knows it runs under a parent (set by us, or by an
// enclosing run such as the harness self-test); user settings like
// TAP_SNAPSHOT=1 or TAP_GREP pass through.
const PARENT_TAP_VARS = new Set(['TAP', 'TAP_CHILD_ID', 'TAP_CHILD_KEY', 'TAP_JOB_ID', 'TAP_TIMEOUT', 'TAP_CWD', 'TAP_BEFORE', 'TAP_AFTER']);

/** Environment for a test file: ours, minus the parent-run settings of any enclosing tap run. */
function childEnv(childId) {
  const e = {};
  for (const [k, v] of Object.entries(env)) {
    if (PARENT_TAP_VARS.has(k) || k.startsWith('_TAPJS_')) continue;
    e[k] = v;
  }
  return {
    ...e,
    TAP: '1', // raw TAP on stdout, as under `tap run`
    TAP_CHILD_ID: String(childId),
    TAP_CHILD_KEY: randomBytes(8).toString('hex'),
    TAP_TIMEOUT: String(CONFIG.fileTimeoutMs / 1000),
    TAP_CWD: ROOT,
  };
}

let nextChildId = 1;
const running = new Map(); // pid -> { file, abort(reason) }

/**
 * Runs one compiled test file in its own process group and resolves with its
 * output. The file's own tap times out first (TAP_TIMEOUT, or the file's
 * t.setTimeout, which tap reports to us over IPC); we SIGALRM then SIGKILL
 * the group only if it is still alive after the grace period.
 */
function runFile(entry) {
  const { file, label, extraEnv } = typeof entry === 'string' ? { file: entry, label: entry, extraEnv: {} } : entry;
  return new Promise((resolveFile) => {
    const started = Date.now();
    const childId = nextChildId++;
    const childE = { ...childEnv(childId), ...extraEnv };
    const child = spawn(process.execPath, [...nodeArgs, file], {
      cwd: ROOT,
      env: childE,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      detached: true,
    });
    const stdout = [];
    const stderr = [];
    let problem = null;
    let timer = null;
    let killTimer = null;
    let done = false;

    const arm = (ms) => {
      clearTimeout(timer);
      timer = ms > 0 ? setTimeout(() => abort(`timed out after ${Math.round(ms / 1000)} s (killed)`), ms + CONFIG.killGraceMs) : null;
    };
    const abort = (reason) => {
      if (done || problem) return;
      problem = reason;
      try { process.kill(child.pid, 'SIGALRM'); } catch { /* already gone */ }
      killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), 3000);
    };
    const settle = (code, signal, spawnError) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      let leftovers = false;
      if (child.pid && groupAlive(child.pid)) {
        leftovers = true;
        killGroup(child.pid, 'SIGKILL');
      }
      if (child.pid) {
        liveGroups.delete(child.pid);
        running.delete(child.pid);
      }
      const finishUp = () =>
        resolveFile({
          file: label,
          code,
          signal,
          problem: problem ?? (spawnError ? `could not start: ${spawnError.message}` : null),
          leftovers,
          stdout: stdout.join(''),
          stderr: stderr.join(''),
          ms: Date.now() - started,
        });
      // stdout may still hold buffered TAP after 'exit'; give it a moment to drain
      if (child.stdout && !child.stdout.readableEnded) {
        const t = setTimeout(finishUp, 2000);
        child.once('close', () => { clearTimeout(t); finishUp(); });
      } else finishUp();
    };

    if (!child.pid) {
      child.on('error', (err) => settle(null, null, err));
      return;
    }
    liveGroups.add(child.pid);
    running.set(child.pid, { file, abort });
    child.stdout.setEncoding('utf8').on('data', (d) => stdout.push(d));
    child.stderr.setEncoding('utf8').on('data', (d) => stderr.push(d));
    child.on('message', (msg) => {
      if (msg && typeof msg === 'object' && msg.key === childE.TAP_CHILD_KEY && typeof msg.setTimeout === 'number') {
        arm(msg.setTimeout);
      }
    });
    child.on('error', (err) => settle(null, null, err));
    child.on('exit', (code, signal) => settle(code, signal, null));
    arm(CONFIG.fileTimeoutMs);
  });
}

/** Judges one finished file: its leaf counts plus one failure if the file itself broke without a failing leaf. */
function judge(r) {
  const c = countTap(r.stdout.split('\n'));
  let problem = r.problem;
  // SIGALRM is how tap ends its own process after reporting a timeout
  if (!problem && r.signal === 'SIGALRM') problem = 'timed out (tap ended it)';
  if (!problem && r.signal) problem = `killed by ${r.signal}`;
  if (!problem && r.code !== 0) problem = `exited with code ${r.code}`;
  if (!problem && c.bailout) problem = `bailed out: ${c.bailout}`;
  if (!problem && c.open) problem = 'ended inside a subtest';
  if (!problem && !c.plan && c.topPoints === 0) problem = 'printed no TAP (does it import tap?)';
  if (!problem && !c.plan) problem = 'ended without a plan (exited early?)';
  if (!problem && c.plan && c.plan.count !== c.topPoints) problem = `planned ${c.plan.count} tests but ran ${c.topPoints}`;
  let { passed, failed, skipped } = c;
  const failures = c.failures.map((f) => `${rel(r.file)} › ${f}`);
  const skips = [...c.skips];
  if (problem && failed === 0) {
    failed += 1;
    failures.push(`${rel(r.file)}: ${problem}`);
  } else if (problem && problem !== 'exited with code 1') {
    // exit 1 is just tap's answer to the failures already listed
    failures.push(`${rel(r.file)}: ${problem} (not counted again)`);
  }
  if (!problem && passed + failed + skipped === 0) {
    // `t.plan(0, reason)` or a file with no tests: visible as one skip
    skipped += 1;
    skips.push(c.plan?.reason || 'no tests in file');
  }
  return { passed, failed, skipped, failures, skips, problem, leftovers: r.leftovers };
}

/** Project-relative path, for shorter output. */
function rel(p) {
  const r = relative(ROOT, p);
  return r.startsWith('..') ? p : r;
}

/** Last n lines of a text, with a note of how many were cut. */
function tail(text, n) {
  const lines = text.replace(/\n$/, '').split('\n');
  if (lines.length <= n) return lines;
  return [`... (${lines.length - n} earlier lines cut)`, ...lines.slice(-n)];
}

/** Echoes one file's TAP (and stderr when it failed) in one block, so parallel files never interleave. */
function report(r, v) {
  const status = v.failed ? 'FAIL' : 'ok  ';
  const secs = (r.ms / 1000).toFixed(1);
  const lines = [`# ${status} ${rel(r.file)}  (${v.passed} passed, ${v.failed} failed, ${v.skipped} skipped, ${secs} s)`];
  const tap = r.stdout.replace(/\n+$/, '').split('\n');
  const max = v.failed ? CONFIG.maxEchoLinesFailing : CONFIG.maxEchoLinesPassing;
  const shown = tap.length > max ? [...tap.slice(0, max), `# ... ${tap.length - max} more TAP lines not shown`] : tap;
  for (const l of shown) lines.push('    ' + l);
  if (v.problem) lines.push(`    # file problem: ${v.problem}`);
  if (r.leftovers) lines.push('    # note: the file left processes running; killed its process group');
  if ((v.failed || CONFIG.verbose) && r.stderr.trim()) {
    lines.push('    # stderr:');
    for (const l of tail(r.stderr, CONFIG.maxStderrLines)) lines.push('    # | ' + l);
  }
  out(lines.join('\n') + '\n');
}

// ------------------------------------------------------------------ main --

/** True while a process with this PID exists (EPERM: it does, someone else's). */
function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/**
 * Removes the network namespaces a lab test made (test/lab/lab.ts names them tk<pid><tag>-client,
 * -nat, -inet) whose test process is gone and in which nothing runs: a run killed mid-test cannot
 * take its own down, and they would stay for good. Returns what it did, one line each.
 */
function removeStaleLabNamespaces() {
  if (process.getuid?.() !== 0) return [];
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (list.status !== 0) return [];
  const done = [];
  for (const line of list.stdout.split('\n')) {
    const m = /^(tk(\d+)[a-z]*-(?:client|nat|inet))(?:\s|$)/.exec(line);
    if (!m || pidAlive(Number(m[2]))) continue;
    const pids = spawnSync('ip', ['netns', 'pids', m[1]], { encoding: 'utf8' });
    if (pids.status !== 0 || pids.stdout.trim() !== '') continue;
    const del = spawnSync('ip', ['netns', 'del', m[1]], { encoding: 'utf8' });
    if (del.status === 0) done.push(`# removed network namespace ${m[1]}: left by test process ${m[2]}, which is gone`);
  }
  return done;
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    out('usage: npm test [-- [--no-install] [--no-build] [test/dir | test/x.test.ts | dist/test/x.test.js ...]]');
    process.exit(0);
  }
  const noInstall = argv.includes('--no-install') || env.TEST_SKIP_INSTALL === '1';
  const noBuild = argv.includes('--no-build');
  const paths = argv.filter((a) => !a.startsWith('--'));
  const totals = { passed: 0, failed: 0, skipped: 0 };
  const failures = [];
  const skips = [];
  const started = Date.now();
  let globalAbort = false;

  const globalTimer = setTimeout(() => {
    out(`\n# GLOBAL TIMEOUT after ${CONFIG.globalTimeoutMs / 1000} s: stopping`);
    for (const { file } of running.values()) out(`#   was running: ${rel(file)}`);
    globalAbort = true;
    for (const r of running.values()) r.abort(`killed: global timeout of ${CONFIG.globalTimeoutMs / 1000} s`);
  }, CONFIG.globalTimeoutMs);

  const onSignal = (sig) => {
    out(`\n# ${sig}: killing test processes`);
    cleanupAll();
    totals.failed += 1;
    finish(totals, sig === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGHUP', () => onSignal('SIGHUP'));

  // 1. system packages
  if (!noInstall) {
    const r = await runStep('bash', [join(ROOT, 'scripts', 'install-test-deps.sh')], CONFIG.installTimeoutMs);
    if (r.code !== 0) {
      const why = r.timedOut ? 'timed out' : r.error ? r.error.message : `exit ${r.code ?? r.signal}`;
      out(`# WARNING: installing test dependencies failed (${why}); tests needing them will skip`);
      // On CI the tools are supposed to be there: a silent skip would hide it.
      if (env.CI === 'true' || env.CI === '1') {
        totals.failed += 1;
        failures.push(`scripts/install-test-deps.sh failed (${why})`);
      }
    }
  }

  // 2. build
  if (!noBuild) {
    let tsc;
    try {
      tsc = createRequire(join(ROOT, 'package.json')).resolve('typescript/bin/tsc');
    } catch {
      tsc = null;
    }
    out('# building: tsc -p .');
    const r = tsc
      ? await runStep(process.execPath, [tsc, '-p', ROOT], CONFIG.buildTimeoutMs)
      : await runStep('npx', ['--no', 'tsc', '-p', ROOT], CONFIG.buildTimeoutMs);
    if (r.code !== 0) {
      const why = r.timedOut ? 'timed out' : r.error ? r.error.message : `exit ${r.code ?? r.signal}`;
      out(`# BUILD FAILED (tsc ${why}): no tests were run; fix the errors above`);
      clearTimeout(globalTimer);
      finish({ passed: 0, failed: 1, skipped: 0 }, 1);
      return;
    }
    // The optional native data plane: it reports why when it cannot be built, and the tests of it skip.
    await runStep(process.execPath, [join(ROOT, 'scripts', 'build-native.mjs')], CONFIG.buildTimeoutMs);
  }

  for (const line of removeStaleLabNamespaces()) out(line);

  // 3. select
  const { files, problems } = selectFiles(paths);
  for (const p of problems) {
    out(`# ERROR: ${p}`);
    totals.failed += 1;
    failures.push(p);
  }
  const runnable = [];
  for (const f of files) {
    if (existsSync(f.path)) runnable.push(f.path);
    else {
      totals.failed += 1;
      failures.push(`${rel(f.source ?? f.path)}: no compiled file ${rel(f.path)} (is it in tsconfig "include"?)`);
    }
  }
  out(`# running ${runnable.length} test file(s), ${CONFIG.jobs} at a time, ${CONFIG.fileTimeoutMs / 1000} s per file`);

  // 4. run: parallel files first, then the serial ones one by one; the files under JS_PASS_DIRS a
  // second time on the JavaScript data plane, when the native one is built (else it was the only one).
  const parallel = runnable.filter((f) => !isSerial(f));
  const serial = runnable.filter((f) => isSerial(f));
  if (existsSync(NATIVE_ADDON)) {
    const again = runnable.filter((f) => JS_PASS_DIRS.some((d) => isUnder(f, join(ROOT, 'dist', 'test', d))));
    parallel.push(...again.map((f) => ({ file: f, label: `${f} [js data plane]`, extraEnv: { TEST_DATA_PLANE: 'js' } })));
    if (again.length) out(`# ${again.length} file(s) run again on the JavaScript data plane (TEST_DATA_PLANE=js)`);
  } else {
    out(`# SKIP native data plane: ${rel(NATIVE_ADDON)} is not built (scripts/build-native.mjs needs cc and the Node headers); every test ran on the JavaScript plane`);
    totals.skipped += 1;
    skips.push('native data plane not built');
  }
  const take = (r) => {
    const v = judge(r);
    report(r, v);
    totals.passed += v.passed;
    totals.failed += v.failed;
    totals.skipped += v.skipped;
    failures.push(...v.failures);
    skips.push(...v.skips);
  };
  const notRun = (f) => {
    totals.failed += 1;
    failures.push(`${rel(typeof f === 'string' ? f : f.label)}: not run (global timeout)`);
  };
  const pool = async (list, width) => {
    let i = 0;
    const worker = async () => {
      while (i < list.length) {
        const f = list[i++];
        if (globalAbort) notRun(f);
        else take(await runFile(f));
      }
    };
    await Promise.all(Array.from({ length: Math.min(width, list.length) }, worker));
  };
  await pool(parallel, CONFIG.jobs);
  await pool(serial, 1);
  clearTimeout(globalTimer);

  // 5. summary
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  out('');
  if (skips.length) {
    const byReason = new Map();
    for (const s of skips) byReason.set(s, (byReason.get(s) ?? 0) + 1);
    out('# skipped:');
    for (const [reason, n] of [...byReason.entries()].sort((a, b) => b[1] - a[1])) out(`#   ${n} × ${reason}`);
  }
  if (failures.length) {
    out('# failed:');
    for (const f of failures) out(`#   ${f}`);
  }
  out(`# ${runnable.length} file(s) in ${secs} s`);
  const ranSome = totals.passed + totals.failed > 0 && totals.passed > 0;
  if (!ranSome && totals.failed === 0) out('# ERROR: no tests ran (no test files, or every test skipped)');
  finish(totals, totals.failed === 0 && ranSome ? 0 : 1);
}

main().catch((err) => {
  out(`# runner crashed: ${err?.stack ?? err}`);
  finish({ passed: 0, failed: 1, skipped: 0 }, 1);
});
