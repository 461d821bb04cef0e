/**
 * `npm run bench -- --quick` end to end: the instrument of issue 6 builds its C load generator and
 * echo peer, starts every server it can, measures each scenario, prints the table with turnkit's
 * ratios and writes the results file, and `--report` prints that file again.
 *
 * Nothing here asserts a speed (the bench reports speed; tests assert behaviour). It asserts that
 * every measurement happened and was correct: allocations all succeeded with long-term and REST
 * authentication, relayed and answered packets came back (within a tolerance for the odd late one
 * on a busy machine), and the generator's ceiling against the trivial C responders was measured.
 * The bench saturates both cores for about a minute, so this file runs alone (scripts/test.mjs).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../integration/lib.js';
import { hasTool, unmetReason } from '../helpers/tools.js';

t.setTimeout(115_000);

/** A metric's summary across runs, as bench/run.mjs writes it. */
interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
}
/** One run of the C generator, as bench/run.mjs keeps it under `raw`. */
interface RawRun {
  mode?: string;
  requested?: number;
  done?: number;
  failed?: number;
  sent?: number;
  lost?: number;
  ops?: number;
  skipped?: string;
  exit?: number;
}
interface Results {
  quick: boolean;
  skipped: Record<string, string>;
  machine: { turnkit_commit: string; node: string; cores: number };
  generator_ceiling: Record<string, Stat>;
  summary: Record<string, Record<string, Record<string, Stat> | null>>;
  raw: Record<string, Record<string, RawRun[]>>;
}

const skip = unmetReason({ tools: ['cc', 'taskset', '/usr/include/openssl/hmac.h'] }) ?? false;

t.test('npm run bench -- --quick measures every server and scenario and prints the ratios', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'turnkit-bench-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'quick.json');
  const run = spawnSync(process.execPath, ['bench/run.mjs', '--quick', '--no-install', '--out', out], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 100_000,
    killSignal: 'SIGTERM',
  });
  t.equal(run.status, 0, `bench exits 0 (stderr tail: ${run.stderr.slice(-600)})`);
  if (run.status !== 0) return;

  const results = JSON.parse(readFileSync(out, 'utf8')) as Results;
  t.equal(results.quick, true, 'the results say they are a quick run');
  t.ok(results.machine.cores >= 1 && results.machine.node === process.version, 'machine info is recorded');

  // The servers this machine can run: coturn only with its Debian package, native only when built.
  const expected = ['turnkit', 'node-turn', 'plain-node'];
  if (existsSync(join(repoRoot, 'dist', 'native', 'dataplane.node'))) expected.push('turnkit-native');
  if (hasTool('turnserver')) expected.push('coturn');
  for (const server of expected) t.notOk(results.skipped[server], `${server} was not skipped`);

  for (const key of ['binding', 'echo_100B', 'relay_shape_x100']) {
    t.ok(results.generator_ceiling[key]!.median > 0, `generator ceiling measured: ${key}`);
  }

  for (const server of expected) {
    // The plain-Node reference answers Binding and forwards ChannelData-framed packets, nothing else.
    const turn = server !== 'plain-node';
    const loops = ['binding-sat', 'relay-cd-100B-x100', 'relay-cd-1000B-x100', ...(turn ? ['relay-send-100B-x100'] : [])];
    for (const scenario of loops) {
      t.ok((results.summary[scenario]?.[server]?.ops_per_s?.median ?? 0) > 0, `${server} ${scenario}: a rate`);
      for (const r of results.raw[scenario]![server]!) {
        t.equal(r.exit, 0, `${server} ${scenario}: the generator exits 0`);
        t.ok(r.ops! > 0 && r.lost! <= r.sent! * 0.05, `${server} ${scenario}: ${r.ops} answered, ${r.lost} of ${r.sent} lost`);
      }
    }
    const allocations = !turn ? [] : server === 'node-turn' ? ['alloc-lt', 'memory'] : ['alloc-lt', 'alloc-rest', 'memory'];
    for (const scenario of allocations) {
      for (const r of results.raw[scenario]![server]!) {
        t.ok(r.requested! > 0 && r.done === r.requested && r.failed === 0, `${server} ${scenario}: ${r.done}/${r.requested} allocations, ${r.failed} failed`);
      }
    }
    if (turn) t.ok(results.summary['memory']![server]!.bytes_per_alloc_1000!.median > 0, `${server}: RSS per allocation measured`);
  }
  t.match(results.raw['alloc-rest']!['node-turn']![0]!.skipped, /no REST/, 'node-turn has no REST mode, and the results say so');

  const table = run.stdout;
  t.match(table, /scenario \/ metric/, 'the table is printed');
  t.match(table, /tk\/node-turn/, 'with turnkit ÷ node-turn ratios');
  if (expected.includes('coturn')) t.match(table, /tk\/coturn/, 'and turnkit ÷ coturn ratios');
  t.match(table, /generator ceiling/, 'and the generator ceiling');

  const report = spawnSync(process.execPath, ['bench/run.mjs', '--report', out], { cwd: repoRoot, encoding: 'utf8', timeout: 20_000 });
  t.equal(report.status, 0, '--report exits 0');
  const header = (s: string) => s.split('\n').find((l) => l.startsWith('scenario / metric'));
  t.equal(header(report.stdout), header(table), '--report prints the same table');
  t.match(report.stdout, /binding-sat: ops\/s/, 'with the same rows');
});
