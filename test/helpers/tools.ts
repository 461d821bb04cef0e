// Which external tools and privileges a test can count on, and tap skip
// options that say plainly why a test did not run.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What a test needs from the machine: tools on PATH, and/or root (with the reason it needs root). */
export interface Requirements {
  tools?: readonly string[];
  root?: string | boolean;
}

/** A tap test option: a skip reason, or false to run. */
export interface SkipOption {
  skip: string | false;
}

const toolCache = new Map<string, boolean>();

/**
 * PATH without node_modules/.bin directories, where npm puts packages' commands: the npm `stun`
 * package's `stun` (a STUN server) must not pass for Debian's vovida `stun` client.
 */
export function systemPath(): string {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter((d) => d !== '' && !/[\\/]node_modules[\\/]\.bin[\\/]?$/.test(d))
    .join(delimiter);
}

/**
 * Whether `name` resolves on the system PATH (`command -v`, so shell builtins and aliases don't fool
 * us), or, for an absolute path such as a header file, whether it exists.
 */
export function hasTool(name: string): boolean {
  const cached = toolCache.get(name);
  if (cached !== undefined) return cached;
  if (isAbsolute(name)) {
    toolCache.set(name, existsSync(name));
    return toolCache.get(name)!;
  }
  // pass the name as $1 rather than splicing it into the script: no quoting bugs
  const r = spawnSync('sh', ['-c', 'command -v -- "$1"', 'sh', name], { stdio: 'ignore', timeout: 5000, env: { ...process.env, PATH: systemPath() } });
  const found = r.status === 0;
  toolCache.set(name, found);
  return found;
}

/** Whether this process runs as root (network namespaces, nftables, apt-installed tools). */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

let packageMap: Map<string, string> | undefined;

/** Debian package of a tool, from scripts/test-deps.txt (the list the installer uses), if listed. */
export function packageFor(tool: string): string | undefined {
  if (!packageMap) {
    packageMap = new Map();
    // compiled to dist/test/helpers/, source in test/helpers/: the project root is 3 or 2 levels up
    const here = dirname(fileURLToPath(import.meta.url));
    for (const root of [join(here, '..', '..', '..'), join(here, '..', '..')]) {
      try {
        const text = readFileSync(join(root, 'scripts', 'test-deps.txt'), 'utf8');
        for (const line of text.split('\n')) {
          const [t, pkg] = line.trim().split(/\s+/);
          if (t && pkg && !t.startsWith('#')) packageMap.set(t, pkg);
        }
        break;
      } catch {
        // try the next candidate root
      }
    }
  }
  return packageMap.get(tool);
}

/** Why a tool is missing, worded so the reader knows how to get the test to run. */
function missingToolReason(tool: string): string {
  const pkg = packageFor(tool);
  const from = pkg ? `Debian package ${pkg}` : 'not in scripts/test-deps.txt';
  return isRoot()
    ? `${tool} not installed (${from}; scripts/install-test-deps.sh installs it)`
    : `${tool} not installed (${from}; run npm test as root to install it)`;
}

/** The reason a test cannot run here, or undefined when every requirement is met. */
export function unmetReason(req: Requirements): string | undefined {
  if (req.root && !isRoot()) {
    return typeof req.root === 'string' ? `needs root: ${req.root}` : 'needs root';
  }
  const missing = (req.tools ?? []).filter((tool) => !hasTool(tool));
  if (missing.length === 0) return undefined;
  return missing.map(missingToolReason).join('; ');
}

/**
 * Tap options that skip a test, with the reason, unless its requirements are
 * met: `t.test('interop', skipUnless('turnutils_stunclient'), async t => ...)`
 * or `skipUnless({ root: 'creates network namespaces', tools: ['ip'] })`.
 * The reason then shows in the TAP output and the runner's skip summary.
 */
export function skipUnless(first: Requirements | string, ...moreTools: string[]): SkipOption {
  const req: Requirements =
    typeof first === 'string' ? { tools: [first, ...moreTools] } : { ...first, tools: [...(first.tools ?? []), ...moreTools] };
  return { skip: unmetReason(req) ?? false };
}
