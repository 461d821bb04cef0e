/**
 * The daemon loads the YAML parser only to read a config file, and ws only for the HTTP listener's
 * signaling: each costs about 7 MB of resident memory, which a STUN/TURN-only node configured by
 * flags does not need. NODE_DEBUG=module makes Node's module loader name every CommonJS file it
 * loads, which is how both packages are loaded.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/ports.js';
import { spawnTracked, type Teardownable } from '../helpers/process.js';

const BIN = fileURLToPath(new URL('../../bin/turnkit.js', import.meta.url));

/** Starts `turnkit serve` with `args`, waits until it is ready, stops it, and lists the packages it loaded. */
async function packagesLoaded(t: Teardownable, args: string[]): Promise<Set<string>> {
  const dir = mkdtempSync(join(tmpdir(), 'turnkit-modules-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const proc = spawnTracked(process.execPath, [BIN, 'serve', '--listen', `127.0.0.1:${port}`, '--state-dir', join(dir, 'state'), ...args], {
    t,
    env: { ...process.env, NODE_DEBUG: 'module' },
  });
  await proc.waitForLine(/"msg":"ready"/, 15_000);
  await proc.kill();
  const packages = new Set<string>();
  for (const line of proc.lines('stderr')) for (const m of line.matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)) packages.add(m[1]!);
  return packages;
}

t.test('flags only, no HTTP: neither yaml nor ws is loaded', async (t) => {
  const loaded = await packagesLoaded(t, ['--user', 'a:b', '--no-http', '--no-metrics']);
  t.ok(loaded.has('commander'), `the module log names packages (${[...loaded].join(', ')})`);
  t.notOk(loaded.has('yaml'), 'yaml is not loaded');
  t.notOk(loaded.has('ws'), 'ws is not loaded');
});

t.test('a config file loads yaml; the HTTP listener loads ws', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'turnkit-modules-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'turnkit.yaml');
  writeFileSync(config, `users:\n  a: b\nhttp_listen: 127.0.0.1:${await freePort({ udp: false })}\nmetrics_listen: false\n`);
  const loaded = await packagesLoaded(t, ['--config', config]);
  t.ok(loaded.has('yaml'), 'yaml is loaded to read the file');
  t.ok(loaded.has('ws'), 'ws is loaded for signaling on the HTTP listener');
});
