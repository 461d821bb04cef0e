// The NAT lab for nat-probe's tests: nat-lab.sh (a copy of the verified
// ../shared/reference/nat-lab.sh, see nat-lab.md there) builds client / nat / inet network
// namespaces for one NAT type; turnkit runs in inet on 198.18.0.10 + 198.18.0.11 (ports
// 3478/3479); nat-probe runs in client. Every lab uses its own namespace prefix (tk<pid>-),
// so parallel runs never collide, and is torn down by that prefix.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runTool, spawnTracked, type Teardownable, type ToolResult, type TrackedProcess } from '../helpers/process.js';
import { unmetReason, type SkipOption } from '../helpers/tools.js';
import { projectRoot } from '../nat-probe/schema.js';

export const ROOT = projectRoot();
export const PROBE = join(ROOT, 'dist', 'bin', 'nat-probe.js');
export const TURNKIT = join(ROOT, 'dist', 'bin', 'turnkit.js');

/** The lab script: our copy in test/lab/, else the reference beside the clone (../shared). */
export function labScript(): string | undefined {
  for (const p of [join(ROOT, 'test', 'lab', 'nat-lab.sh'), join(ROOT, '..', 'shared', 'reference', 'nat-lab.sh')]) {
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** Skip option for lab tests: root, ip, nft (and more tools if given), the script, the build. */
export function labSkip(...tools: string[]): SkipOption {
  const why = unmetReason({ root: 'creates network namespaces and nftables rules', tools: ['ip', 'nft', ...tools] });
  if (why) return { skip: why };
  if (!labScript()) return { skip: 'nat-lab.sh not found (test/lab/nat-lab.sh or ../shared/reference/nat-lab.sh)' };
  if (!existsSync(PROBE) || !existsSync(TURNKIT)) return { skip: 'dist/ not built (run npx tsc -p .)' };
  return { skip: false };
}

/** The expected verdict of each lab case (nat-lab.md's table, in nat-probe's vocabulary). */
export interface Expected {
  nat: 'none' | 'nat';
  mapping: string;
  filtering: string;
  rfc3489: string;
  hairpin: string;
  portAllocation?: string;
}

const EIM = 'endpoint-independent';
const ADF = 'address-dependent';
const APDF = 'address-and-port-dependent';

export const CASES: { name: string; args: string[]; expected: Expected | 'no-response' }[] = [
  { name: 'open', args: ['open'], expected: { nat: 'none', mapping: 'none', filtering: EIM, rfc3489: 'open-internet', hairpin: 'not-applicable', portAllocation: 'not-applicable' } },
  { name: 'firewall', args: ['firewall'], expected: { nat: 'none', mapping: 'none', filtering: APDF, rfc3489: 'symmetric-udp-firewall', hairpin: 'not-applicable' } },
  { name: 'full-cone', args: ['full-cone'], expected: { nat: 'nat', mapping: EIM, filtering: EIM, rfc3489: 'full-cone', hairpin: 'no', portAllocation: 'preserving' } },
  { name: 'full-cone --hairpin', args: ['full-cone', '--hairpin'], expected: { nat: 'nat', mapping: EIM, filtering: EIM, rfc3489: 'full-cone', hairpin: 'yes' } },
  { name: 'restricted', args: ['restricted'], expected: { nat: 'nat', mapping: EIM, filtering: ADF, rfc3489: 'restricted-cone', hairpin: 'no', portAllocation: 'preserving' } },
  { name: 'port-restricted', args: ['port-restricted'], expected: { nat: 'nat', mapping: EIM, filtering: APDF, rfc3489: 'port-restricted-cone', hairpin: 'no', portAllocation: 'preserving' } },
  { name: 'port-restricted --hairpin', args: ['port-restricted', '--hairpin'], expected: { nat: 'nat', mapping: EIM, filtering: APDF, rfc3489: 'port-restricted-cone', hairpin: 'yes' } },
  { name: 'symmetric', args: ['symmetric'], expected: { nat: 'nat', mapping: 'address-and-port-dependent', filtering: APDF, rfc3489: 'symmetric', hairpin: 'no', portAllocation: 'random' } },
  { name: 'symmetric --hairpin', args: ['symmetric', '--hairpin'], expected: { nat: 'nat', mapping: 'address-and-port-dependent', filtering: APDF, rfc3489: 'symmetric', hairpin: 'yes' } },
  { name: 'adm', args: ['adm'], expected: { nat: 'nat', mapping: 'address-dependent', filtering: APDF, rfc3489: 'symmetric', hairpin: 'no' } },
  { name: 'udp-blocked', args: ['udp-blocked'], expected: 'no-response' },
];

/** A probe run's outcome. */
export interface ProbeRun extends ToolResult {
  json: Record<string, any> | undefined;
  ms: number;
}

/** One lab (namespace set) with its own prefix. */
export class Lab {
  readonly prefix: string;
  readonly script: string;
  private server: TrackedProcess | undefined;

  constructor(tag = '') {
    this.prefix = `tk${process.pid}${tag}-`;
    this.script = labScript()!;
  }

  private env(): NodeJS.ProcessEnv {
    return { ...process.env, NATLAB_PREFIX: this.prefix };
  }

  /** Runs nat-lab.sh with our prefix. */
  sh(args: string[], timeoutMs = 30_000): Promise<ToolResult> {
    return runTool(this.script, args, { timeoutMs, env: this.env() });
  }

  /** Builds the lab (tearing down an old one of ours); throws with the script's output on failure. */
  async up(args: string[]): Promise<void> {
    const r = await this.sh(['up', ...args]);
    if (r.code !== 0) throw new Error(`nat-lab.sh up ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  }

  /** Stops the server and removes the namespaces (kills what runs in them). Never throws. */
  async down(): Promise<void> {
    await this.server?.kill().catch(() => undefined);
    this.server = undefined;
    await this.sh(['down']).catch(() => undefined);
  }

  /** turnkit in inet: 198.18.0.10:3478 with alternate 198.18.0.11 (:3479); resolves when ready. */
  async startServer(t: Teardownable, extra: string[] = []): Promise<TrackedProcess> {
    const p = spawnTracked(
      this.script,
      ['exec', 'inet', process.execPath, TURNKIT, 'serve', '--listen', '198.18.0.10:3478', '--alt-address', '198.18.0.11', '--log-level', 'info', ...extra],
      { t, env: this.env() },
    );
    await p.waitForLine(/"msg":"ready"/, 15_000);
    this.server = p;
    return p;
  }

  /** Runs a command in a namespace of the lab. */
  exec(ns: 'client' | 'nat' | 'inet', cmd: string, args: string[], timeoutMs = 30_000): Promise<ToolResult> {
    return runTool(this.script, ['exec', ns, cmd, ...args], { timeoutMs, env: this.env() });
  }

  /** nat-probe --json in the client namespace against the lab's server. */
  async probe(extra: string[] = [], timeoutMs = 60_000): Promise<ProbeRun> {
    const t0 = Date.now();
    const r = await this.exec('client', process.execPath, [PROBE, '--server', '198.18.0.10:3478', '--json', ...extra], timeoutMs);
    let json: Record<string, any> | undefined;
    try {
      json = JSON.parse(r.stdout) as Record<string, any>;
    } catch {
      json = undefined;
    }
    return { ...r, json, ms: Date.now() - t0 };
  }
}

/** The verdict fields the lab asserts. */
export function verdictOf(j: Record<string, any> | undefined): Record<string, unknown> {
  if (!j) return {};
  return { nat: j.nat, mapping: j.mapping, filtering: j.filtering, rfc3489: j.rfc3489, hairpin: j.hairpin };
}

/** A compact line for the log: what nat-probe saw. */
export function summary(j: Record<string, any> | undefined): string {
  if (!j) return '(no JSON)';
  const tests = (j.tests as { name: string; sent: number; mapped: string | null; from: string | null }[])
    .map((x) => `${x.name}=${x.mapped ?? '-'}${x.sent > 1 ? `(x${x.sent})` : ''}`)
    .join(' ');
  return `${j.mapping}/${j.filtering}/${j.rfc3489}/hairpin ${j.hairpin}/ports ${j.portAllocation}/alg ${j.alg} loss~${j.lossEstimate} in ${j.durationMs} ms :: ${tests}`;
}

/**
 * Registers one tap test per named case: a fresh lab, turnkit in inet, nat-probe --json in client,
 * and the verdict must equal the known answer. (The cases are split over several files so that
 * each stays well inside the runner's 120 s per file.)
 */
export function verdictTests(t: Tap, names: readonly string[], schema: import('../nat-probe/schema.js').Schema, validateFn: typeof import('../nat-probe/schema.js').validate): void {
  const skip = labSkip();
  const lab = skip.skip ? undefined : new Lab();
  t.teardown(() => lab?.down());
  for (const name of names) {
    const c = CASES.find((x) => x.name === name);
    if (!c) throw new Error(`test bug: no lab case ${name}`);
    t.test(`lab ${c.name}: nat-probe verdict`, skip, async (t) => {
      await lab!.up(c.args);
      t.teardown(() => lab!.down());
      await lab!.startServer(t);
      const r = await lab!.probe();
      t.comment(`${c.name}: exit ${r.code}, ${r.ms} ms wall: ${summary(r.json)}`);
      t.ok(r.json, `JSON on stdout (stderr: ${r.stderr.trim()})`);
      t.same(validateFn(schema, r.json), [], 'valid against report.schema.json');
      if (c.expected === 'no-response') {
        t.equal(r.code, 3, 'exit status 3: no STUN answer');
        t.equal(r.json?.status, 'no-response');
        t.equal(r.json?.rfc3489, 'udp-blocked');
        return;
      }
      t.equal(r.code, 0, 'exit status 0');
      const { portAllocation, ...verdict } = c.expected;
      t.same(verdictOf(r.json), verdict, 'mapping, filtering, RFC 3489 label, hairpin');
      if (portAllocation) t.equal(r.json?.portAllocation, portAllocation, 'port allocation');
      t.equal(r.json?.alg, 'absent', 'no ALG in this lab');
      t.ok((r.json?.durationMs ?? 1e9) < 3000, `verdict in under 3 s (${r.json?.durationMs} ms)`);
    });
  }
}

/** The slice of tap's Test that verdictTests uses. */
export interface Tap extends Teardownable {
  test(name: string, opts: SkipOption, fn: (t: any) => Promise<void>): unknown;
}

/**
 * Registers one tap test per named case with 10 % random loss on the NAT's WAN link (each
 * direction; nat-lab.sh --loss 10): every verdict must be the right one or "unknown", never wrong.
 */
export function lossTests(t: Tap, names: readonly string[], schema: import('../nat-probe/schema.js').Schema, validate: typeof import('../nat-probe/schema.js').validate): void {
  const skip = labSkip();
  const lab = skip.skip ? undefined : new Lab('l');
  t.teardown(() => lab?.down());
  const FIELDS = ['mapping', 'filtering', 'rfc3489', 'hairpin'] as const;
  let right = 0;
  let unknown = 0;
  let wrong = 0;

  for (const name of names) {
    const c = CASES.find((x) => x.name === name)!;
    t.test(`lab ${name} with 10 % loss: right or unknown, never wrong`, skip, async (t) => {
      if (c.expected === 'no-response') throw new Error('test bug');
      await lab!.up([...c.args, '--loss', '10']);
      t.teardown(() => lab!.down());
      await lab!.startServer(t);
      const r = await lab!.probe();
      t.comment(`${name} loss 10 %: exit ${r.code}, ${r.ms} ms wall: ${summary(r.json)} unknown: ${JSON.stringify(r.json?.unknownReasons)}`);
      t.same(validate(schema, r.json), [], 'valid against report.schema.json');
      if (r.code === 3) {
        // Five lost Test I requests in a row: possible (p ~ 1e-4), and "no answer" is not a wrong verdict.
        t.equal(r.json?.status, 'no-response');
        unknown += FIELDS.length;
        return;
      }
      t.equal(r.code, 0);
      for (const f of FIELDS) {
        const got = r.json?.[f];
        const want = c.expected[f];
        t.ok(got === want || got === 'unknown', `${f}: ${got} (expected ${want} or unknown)`);
        if (got === want) right++;
        else if (got === 'unknown') unknown++;
        else wrong++;
      }
      t.equal(r.json?.nat, c.expected.nat, 'NAT or not (Test I answered)');
    });
  }

  t.test('tally', skip, async (t) => {
    t.comment(`10 % loss: ${right} verdict fields right, ${unknown} unknown, ${wrong} wrong (of ${names.length * FIELDS.length})`);
    t.pass('tallied');
  });
}

/**
 * Turns the lab's NAT into one with an address-rewriting ALG: nftables TPROXYs LAN UDP (except
 * to the NAT's own public address) to alg-relay.py in the nat namespace, which NATs it itself and
 * rewrites the client's private IP in payloads (`mode`: both directions, out only, in only).
 * Bring the lab up first (any NAT scenario; its input chain gets one accept for the TPROXYed
 * packets). The relay is stopped with the lab.
 */
export async function addAlgRelay(lab: Lab, t: Teardownable, mode: 'both' | 'out' | 'in' = 'both'): Promise<void> {
  const steps: [string, string[]][] = [
    ['ip', ['rule', 'add', 'fwmark', '1', 'lookup', '100']],
    ['ip', ['route', 'add', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', '100']],
    ['nft', ['add table ip natlab_alg']],
    ['nft', ['add chain ip natlab_alg pre { type filter hook prerouting priority mangle; policy accept; }']],
    ['nft', ['add rule ip natlab_alg pre iifname "lan" meta l4proto udp ip daddr != 198.18.0.1 tproxy to :50000 meta mark set 1 accept']],
    ['nft', ['add rule ip natlab input iifname "lan" meta mark 1 accept']],
  ];
  for (const [cmd, args] of steps) {
    const r = await lab.exec('nat', cmd, args, 10_000);
    if (r.code !== 0) throw new Error(`ALG setup: ${cmd} ${args.join(' ')}: ${r.stderr}`);
  }
  const relay = spawnTracked(lab.script, ['exec', 'nat', 'python3', '-u', join(ROOT, 'test', 'lab', 'alg-relay.py'), '50000', '198.18.0.1', '90', mode], {
    t,
    env: { ...process.env, NATLAB_PREFIX: lab.prefix },
  });
  await relay.waitForLine(/^ready$/, 10_000);
}
