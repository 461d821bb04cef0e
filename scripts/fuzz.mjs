#!/usr/bin/env node
// `npm run fuzz -- --count N [--seed S] [--batch B] [--no-tls]`: fuzzes a live turnkit daemon
// (built first by `npm run build`) through every entry point, checking after each batch that it
// still answers a correct Binding and an authenticated Allocate. Prints progress, then one summary
// line; failing inputs (hex) go to fuzz-failures-<seed>.json. Exit status 1 if anything failed.
// Loopback only; the daemon and every socket are closed at the end.

import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const load = (p) => import(pathToFileURL(join(ROOT, 'dist', 'test', p)).href);

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}
const count = Number(arg('count', '100000'));
const seed = Number(arg('seed', String(Math.floor(Math.random() * 2 ** 31))));
const batchSize = Number(arg('batch', '5000'));
const withTls = !process.argv.includes('--no-tls');
if (!Number.isInteger(count) || count <= 0 || !Number.isInteger(seed) || !Number.isInteger(batchSize) || batchSize <= 0) {
  process.stderr.write('usage: npm run fuzz -- --count N [--seed S] [--batch B] [--no-tls]\n');
  process.exit(2);
}

const { startDaemon, processUsage } = await load('helpers/live-turn.js');
const { makeSelfSignedCert } = await load('helpers/certs.js');
const { FUZZ_DAEMON_ARGS, runLiveFuzz } = await load('fuzz/live.js');

const teardowns = [];
const owner = { teardown: (fn) => teardowns.push(fn) };
let code = 1;
try {
  const cert = withTls ? makeSelfSignedCert() : undefined;
  if (cert) teardowns.push(() => cert.cleanup());
  const daemon = await startDaemon(owner, FUZZ_DAEMON_ARGS, cert ? { tls: cert } : {});
  const before = processUsage(daemon.pid);
  process.stderr.write(`fuzz: seed ${seed}, ${count} inputs, daemon pid ${daemon.pid}\n`);
  const report = await runLiveFuzz(owner, daemon, {
    count,
    seed,
    batchSize,
    onBatch: (r) => {
      if (r.batches % 10 === 0) process.stderr.write(`fuzz: ${r.inputs} inputs, ${Math.round(r.durationMs / 1000)} s, ${r.failures.length} failures\n`);
    },
  });
  const after = daemon.proc.exitStatus ? undefined : processUsage(daemon.pid);
  const summary = {
    seed,
    inputs: report.inputs,
    durationSeconds: Math.round(report.durationMs / 100) / 10,
    inputsPerSecond: Math.round(report.inputs / (report.durationMs / 1000)),
    failures: report.failures.length,
    crashes: report.failures.filter((f) => f.kind === 'crash').length,
    hangs: report.failures.filter((f) => f.kind === 'hang').length,
    internalErrors: report.failures.filter((f) => f.kind === 'internal-error').length,
    droppedAndCounted: await daemon.metric('turnkit_stun_dropped_total').catch(() => null),
    rssMiB: { before: Math.round(before.rss / 2 ** 20), after: after ? Math.round(after.rss / 2 ** 20) : null },
    fds: { before: before.fds, after: after?.fds ?? null },
    byEntry: report.byEntry,
    byMutation: report.byMutation,
  };
  if (report.failures.length > 0) {
    const file = join(process.cwd(), `fuzz-failures-${seed}.json`);
    writeFileSync(file, JSON.stringify(report.failures, null, 1));
    process.stderr.write(`fuzz: failures written to ${file}\n`);
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  code = report.failures.length === 0 ? 0 : 1;
} catch (err) {
  process.stderr.write(`fuzz: ${err instanceof Error ? err.stack : String(err)}\n`);
} finally {
  for (const fn of teardowns.reverse()) await fn();
}
process.exit(code);
