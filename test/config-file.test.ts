import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { resolveConfig } from '../src/config.js';
import {
  CONFIG_KEYS,
  OPTIONS,
  configurationMarkdown,
  envName,
  explainError,
  loadConfigFile,
  loadEnv,
  loadFlags,
  mergeLayers,
  redact,
  type Layer,
  type Source,
} from '../src/config-file.js';
import { ConfigError } from '../src/errors.js';
import { ensureSecret } from '../src/services/state.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'dist/bin/turnkit.js');

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'turnkit-cfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function write(dir: string, name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

t.test('a YAML file sets every kind of value', async (t) => {
  const dir = tempDir(t);
  const secrets = write(dir, 'secrets', '# rotation\nnew-secret\n\nold-secret\n');
  const file = write(
    dir,
    'turnkit.yaml',
    [
      'listen: ["127.0.0.1:4000", "[::1]"]',
      'realm: example.org',
      'software: false',
      'users: { alice: "a:b", bob: "0123" }',
      `secret_file: ${secrets}`,
      'secrets: [inline-secret]',
      'relay_ports: 50000-50100',
      'allow_peers: [127.0.0.0/8]',
      'max_allocations_per_user: 3',
      'http_listen: false',
      'metrics_listen: 127.0.0.1:9999',
      'drain_timeout: 5',
    ].join('\n'),
  );
  const input = loadConfigFile(file);
  const c = resolveConfig(input);
  t.same(c.listen, [{ host: '127.0.0.1', port: 4000 }, { host: '::1', port: 3478 }]);
  t.equal(c.software, null);
  t.same(c.users, { alice: 'a:b', bob: '0123' }, 'a quoted number is text, kept as written');
  t.same(c.secrets, ['inline-secret', 'new-secret', 'old-secret'], 'secrets and secret_file add up, the inline list first');
  t.same(c.relayPorts, { min: 50000, max: 50100 });
  t.equal(c.quotas.perUser, 3);
  t.equal(c.httpListen, null);
  t.same(c.metricsListen, { host: '127.0.0.1', port: 9999 });
  t.equal(c.drainTimeout, 5);
});

t.test('file errors name the file, the key and what is allowed', async (t) => {
  const dir = tempDir(t);
  t.throws(() => loadConfigFile(write(dir, 'a.yaml', 'relay_port: 5')), { message: /a\.yaml: unknown key "relay_port" \(did you mean relay_ports\?\)/ });
  t.throws(() => loadConfigFile(write(dir, 'b.yaml', 'max_lifetime: soon')), { message: /b\.yaml: max_lifetime "soon": use a whole number/ });
  t.throws(() => loadConfigFile(write(dir, 'c.yaml', 'listen: nowhere')), { message: /c\.yaml: listen "nowhere"/ });
  t.throws(() => loadConfigFile(write(dir, 'd.yaml', 'realm: [1, 2]')), { message: /d\.yaml: realm: expected text/ });
  t.throws(() => loadConfigFile(write(dir, 'e.yaml', '- a list\n- not a map')), { message: /expected a map/ });
  t.throws(() => loadConfigFile(write(dir, 'f.yaml', 'realm: "unclosed')), { message: /f\.yaml: not valid YAML/ });
  t.throws(() => loadConfigFile(join(dir, 'missing.yaml')), { message: /cannot read it \(ENOENT\)/ });
  t.same(loadConfigFile(write(dir, 'empty.yaml', '')), {}, 'an empty file is no settings');
});

t.test('environment: TURNKIT_* names, comma lists, users as name:password pairs; unknown names refused', async (t) => {
  const input = loadEnv({
    TURNKIT_LISTEN: '127.0.0.1:5000, 127.0.0.2:5000',
    TURNKIT_USERS: 'alice:pw1,bob:pw:2',
    TURNKIT_SECRETS: 's1,s2',
    TURNKIT_MAX_LIFETIME: '7200',
    PATH: '/usr/bin',
  });
  const c = resolveConfig(input);
  t.same(c.listen.map((l) => l.host), ['127.0.0.1', '127.0.0.2']);
  t.same(c.users, { alice: 'pw1', bob: 'pw:2' });
  t.same(c.secrets, ['s1', 's2']);
  t.equal(c.maxLifetime, 7200);
  t.throws(() => loadEnv({ TURNKIT_NOPE: '1' }), { message: /TURNKIT_NOPE: unknown setting/ });
  // Empty, a list would replace the file's with nothing, i.e. silently with the defaults.
  for (const name of ['TURNKIT_LISTEN', 'TURNKIT_ALLOW_PEERS', 'TURNKIT_SECRETS']) {
    t.throws(() => loadEnv({ [name]: ' , ' }), { message: `${name} is empty: unset it, or give a value` }, `${name} empty: refused`);
  }
});

t.test('IPv6 in every HOST:PORT setting, and the dual-stack / alternate-server lists, from a file and the environment', async (t) => {
  const dir = tempDir(t);
  const file = write(
    dir,
    'v6.yaml',
    [
      'listen: ["[::1]:3478", "127.0.0.1:3478"]',
      'tls_listen: ["[::1]:5349"]',
      'cert: /c.pem',
      'key: /k.pem',
      'http_listen: "[::1]:8080"',
      'metrics_listen: "[::1]:9641"',
      'relay_ip: [127.0.0.1, "::1"]',
      'alternate_server: ["192.0.2.20:3478", "[2001:db8::20]:3478"]',
      'tls_alternate_server: ["[2001:db8::20]"]',
      'alternate_domain: turn2.example.com',
    ].join('\n'),
  );
  const c = resolveConfig(loadConfigFile(file));
  t.same(c.listen, [{ host: '::1', port: 3478 }, { host: '127.0.0.1', port: 3478 }]);
  t.same(c.tlsListen, [{ host: '::1', port: 5349 }]);
  t.same(c.httpListen, { host: '::1', port: 8080 });
  t.same(c.metricsListen, { host: '::1', port: 9641 });
  t.same(c.relayIps, { IPv4: '127.0.0.1', IPv6: '::1' });
  t.same(c.alternateServers, [{ host: '192.0.2.20', port: 3478 }, { host: '2001:db8::20', port: 3478 }]);
  t.same(c.tlsAlternateServers, [{ host: '2001:db8::20', port: 5349 }], 'no port: the TLS default');
  t.equal(c.alternateDomain, 'turn2.example.com');
  const e = resolveConfig(loadEnv({ TURNKIT_RELAY_IP: '127.0.0.1,::1', TURNKIT_ALTERNATE_SERVER: '[::1]:4000, 127.0.0.1:4000' }));
  t.same(e.relayIps, { IPv4: '127.0.0.1', IPv6: '::1' }, 'env: comma list');
  t.same(e.alternateServers, [{ host: '::1', port: 4000 }, { host: '127.0.0.1', port: 4000 }]);
  t.throws(() => loadEnv({ TURNKIT_ALTERNATE_SERVER: '::1:4000' }), { message: /TURNKIT_ALTERNATE_SERVER "::1:4000": ambiguous/ });
  t.throws(() => loadConfigFile(write(dir, 'bad.yaml', 'http_listen: "::1:8080"')), { message: /bad\.yaml: http_listen "::1:8080": ambiguous/ });
});

t.test('precedence: flags > environment > file > defaults, key by key', async (t) => {
  const dir = tempDir(t);
  const file = loadConfigFile(write(dir, 'p.yaml', 'realm: from-file\nrelay_ports: 50000-50010\nmax_lifetime: 1000\n'));
  const env = loadEnv({ TURNKIT_REALM: 'from-env', TURNKIT_RELAY_PORTS: '51000-51010' });
  const realmSpec = OPTIONS.find((o) => o.key === 'realm')!;
  const flags = loadFlags(new Map([[realmSpec, 'from-flag']]));
  const { input } = mergeLayers([
    { input: file, source: { kind: 'file', path: 'p.yaml' } },
    { input: env, source: { kind: 'env' } },
    { input: flags, source: { kind: 'flag' } },
  ]);
  const c = resolveConfig(input);
  t.equal(c.realm, 'from-flag');
  t.same(c.relayPorts, { min: 51000, max: 51010 });
  t.equal(c.maxLifetime, 1000);
  t.equal(c.nonceLifetime, 600, 'default where nobody set it');
});

t.test('a value invalid as a whole is reported under the name its source used', async (t) => {
  const { input, sources } = mergeLayers([
    { input: { relayPorts: '9-1' }, source: { kind: 'file', path: 'x.yaml' } },
    { input: { maxLifetime: 10 }, source: { kind: 'env' } },
  ]);
  let err: unknown;
  try {
    resolveConfig(input);
  } catch (e) {
    err = e;
  }
  t.type(err, ConfigError);
  t.match(explainError(err as ConfigError, sources).message, /^x\.yaml: relay_ports "9-1": use MIN-MAX/);
  try {
    resolveConfig({ maxLifetime: 10 });
  } catch (e) {
    t.match(explainError(e as ConfigError, sources).message, /^TURNKIT_MAX_LIFETIME "10"/);
  }
});

t.test('redaction hides secrets, passwords and API keys but keeps their count', async (t) => {
  const c = resolveConfig({ secrets: ['s1', 's2'], users: { alice: 'pw' }, apiKeys: ['k'.repeat(16)] });
  const r = JSON.stringify(redact(c as unknown as Record<string, unknown>));
  t.notMatch(r, /s1|s2|"pw"|kkkk/);
  t.match(r, /"secrets":\["<redacted>","<redacted>"\]/);
  t.match(r, /"alice":"<redacted>"/);
});

t.test('every option has a distinct file key, environment name and flag; docs/configuration.md is current', async (t) => {
  t.equal(new Set(CONFIG_KEYS).size, CONFIG_KEYS.length);
  t.equal(new Set(OPTIONS.map((o) => o.flag.split(' ')[0])).size, OPTIONS.length);
  for (const o of OPTIONS) t.match(envName(o.key), /^TURNKIT_[A-Z_]+$/);
  t.equal(readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8'), configurationMarkdown(), 'regenerate with: node dist/bin/turnkit.js check-config --docs docs/configuration.md');
});

t.test('check-config prints the effective config with secrets redacted, and fails with one line', async (t) => {
  const dir = tempDir(t);
  const ok = spawnSync(process.execPath, [BIN, 'check-config', write(dir, 'ok.yaml', 'secrets: [top-secret-value]\nrealm: r\n')], { encoding: 'utf8' });
  t.equal(ok.status, 0);
  const printed = JSON.parse(ok.stdout) as { realm: string; secrets: string[] };
  t.equal(printed.realm, 'r');
  t.same(printed.secrets, ['<redacted>']);
  t.notMatch(ok.stdout, /top-secret-value/);
  const bad = spawnSync(process.execPath, [BIN, 'check-config', write(dir, 'bad.yaml', 'relay_ports: 80-90\n')], { encoding: 'utf8' });
  t.equal(bad.status, 2);
  t.equal(bad.stderr.trim().split('\n').length, 1);
  t.match(bad.stderr, /bad\.yaml: relay_ports "80-90"/);
});

t.test('the generated secret is kept 0600 and reused', async (t) => {
  const dir = join(tempDir(t), 'state');
  const first = ensureSecret(dir);
  t.equal(first.created, true);
  t.match(first.secret, /^[0-9a-f]{64}$/);
  t.equal(statSync(first.file).mode & 0o777, 0o600);
  t.equal(statSync(dir).mode & 0o777, 0o700);
  const again = ensureSecret(dir);
  t.equal(again.created, false);
  t.equal(again.secret, first.secret);
});

t.test('the secret file is written atomically: no temp file left, an empty file is replaced', async (t) => {
  const dir = join(tempDir(t), 'state');
  const first = ensureSecret(dir);
  t.same(readdirSync(dir), ['shared-secret'], 'only the final file: the temp file was linked, then removed');
  // What an in-place write cut short by a crash left behind: the next start must not loop or keep it.
  writeFileSync(first.file, '', { mode: 0o600 });
  const replaced = ensureSecret(dir);
  t.equal(replaced.created, true);
  t.match(readFileSync(first.file, 'utf8'), /^[0-9a-f]{64}\n$/);
  t.same(readdirSync(dir), ['shared-secret']);
  t.equal(statSync(first.file).mode & 0o777, 0o600);
});

/** Loads a file and the environment, then flags, as the CLI layers them. */
function layered(file: string | undefined, env: NodeJS.ProcessEnv, flags: Array<[string, unknown]> = []): ReturnType<typeof mergeLayers> {
  const layers: Layer[] = [];
  if (file !== undefined) layers.push({ input: loadConfigFile(file), source: { kind: 'file', path: file } });
  layers.push({ input: loadEnv(env), source: { kind: 'env' } });
  layers.push({ input: loadFlags(new Map(flags.map(([key, v]) => [OPTIONS.find((o) => o.key === key)!, v]))), source: { kind: 'flag' } });
  return mergeLayers(layers);
}

t.test('users_file and secret_file are keys of their own: another source setting users or secrets adds to them', async (t) => {
  const dir = tempDir(t);
  const users = write(dir, 'users', 'fileu:filep\n');
  const secrets = write(dir, 'secrets', 'file-secret\n');
  const file = write(dir, 'creds.yaml', `users_file: ${users}\nsecret_file: ${secrets}\n`);
  t.same(resolveConfig(layered(file, { TURNKIT_USERS: 'envu:envp' }).input).users, { fileu: 'filep', envu: 'envp' }, 'TURNKIT_USERS keeps the file\'s users_file');
  t.same(resolveConfig(layered(file, { TURNKIT_SECRETS: 'env-secret' }).input).secrets, ['env-secret', 'file-secret'], 'TURNKIT_SECRETS keeps the file\'s secret_file, and mints');
  t.same(resolveConfig(layered(undefined, { TURNKIT_USERS: 'envu:envp' }, [['users_file', users]]).input).users, { envu: 'envp', fileu: 'filep' }, '--users-file keeps TURNKIT_USERS');
  t.same(resolveConfig(layered(undefined, { TURNKIT_SECRET_FILE: secrets }, [['secrets', ['flag-secret']]]).input).secrets, ['flag-secret', 'file-secret'], '--secret keeps TURNKIT_SECRET_FILE');
  const { input } = layered(file, {});
  t.ok(input.users && input.secrets, 'file-only credentials still count as given (no secret is generated then)');
});

t.test('within one key the higher source still wins', async (t) => {
  const dir = tempDir(t);
  const a = write(dir, 'a', 'alice:pa\n');
  const b = write(dir, 'b', 'bob:pb\n');
  const file = write(dir, 'k.yaml', `users_file: ${a}\nusers: { carol: pc }\nsecrets: [file-secret]\n`);
  const c = resolveConfig(layered(file, { TURNKIT_USERS_FILE: b, TURNKIT_USERS: 'dave:pd', TURNKIT_SECRETS: 'env-secret' }).input);
  t.same(c.users, { dave: 'pd', bob: 'pb' }, 'TURNKIT_USERS_FILE replaces users_file, TURNKIT_USERS replaces users');
  t.same(c.secrets, ['env-secret']);
});

t.test('a user given by both users and users_file is refused, naming both keys and no password', async (t) => {
  const dir = tempDir(t);
  const users = write(dir, 'users', 'alice:from-file-pw\n');
  const file = write(dir, 'dup.yaml', `users_file: ${users}\n`);
  t.throws(() => layered(file, { TURNKIT_USERS: 'alice:from-env-pw' }), { message: `${file}: users_file: user "alice" is also given by TURNKIT_USERS; give each user once` });
  const both = write(dir, 'both.yaml', `users: { alice: inline-pw }\nusers_file: ${users}\n`);
  t.throws(() => loadConfigFile(both), { message: `${both}: users_file: user "alice" is also given by users in ${both}; give each user once` });
});

t.test('YAML numbers and booleans are refused where text is meant; secrets are not echoed', async (t) => {
  const dir = tempDir(t);
  const refused = (name: string, yaml: string): string => {
    const file = write(dir, name, yaml);
    try {
      loadConfigFile(file);
    } catch (err) {
      t.type(err, ConfigError);
      return (err as Error).message.slice(`${file}: `.length);
    }
    t.fail(`${name} loaded`);
    return '';
  };
  const alice = refused('pw.yaml', 'users: {alice: 0123, bob: 0x1F}\n');
  t.equal(alice, 'users.alice: YAML reads this value as a number, not text; quote it');
  t.notMatch(alice, /123/);
  t.equal(refused('bob.yaml', 'users: {bob: 0x1F}\n'), 'users.bob: YAML reads this value as a number, not text; quote it');
  t.equal(refused('name.yaml', 'users: {0123: pw}\n'), 'users: the user name 0123 is read by YAML as the number 123; quote it: "0123"');
  t.equal(refused('realm.yaml', 'realm: 0x1F\n'), 'realm: 0x1F is read by YAML as the number 31; quote it: "0x1F"');
  t.equal(refused('sw.yaml', 'software: true\n'), 'software: true is read by YAML as the boolean true; quote it: "true"');
  t.equal(refused('sec.yaml', 'secrets: [ok, 1e3]\n'), 'secrets[1]: YAML reads this value as a number, not text; quote it');
  t.equal(refused('key.yaml', 'api_keys: 1234567890123456789\n'), 'api_keys: YAML reads this value as a number, not text; quote it');
  t.equal(refused('cors.yaml', 'cors_origins: [true]\n'), 'cors_origins[0]: true is read by YAML as the boolean true; quote it: "true"');
  const quoted = loadConfigFile(write(dir, 'quoted.yaml', 'users: {"0123": "0123", bob: "0x1F"}\nrealm: "0x1F"\nsoftware: false\nmax_lifetime: 1200\n'));
  t.same(quoted.users, { '0123': '0123', bob: '0x1F' });
  t.equal(quoted.realm, '0x1F');
  t.equal(quoted.software, null, 'false still turns SOFTWARE off');
  t.equal(quoted.maxLifetime, 1200, 'numbers are still numbers where numbers are meant');
});

t.test('a file that is not UTF-8 is refused with the byte offset', async (t) => {
  const dir = tempDir(t);
  const latin1 = join(dir, 'latin1.yaml');
  writeFileSync(latin1, Buffer.concat([Buffer.from('realm: caf'), Buffer.from([0xe9]), Buffer.from('\n')]));
  t.throws(() => loadConfigFile(latin1), { message: `${latin1}: not valid UTF-8 (byte offset 10); save it as UTF-8` });
  const cut = join(dir, 'cut.yaml');
  writeFileSync(cut, Buffer.concat([Buffer.from('\ufeffrealm: \u00e9'), Buffer.from([0xe2, 0x82]), Buffer.from('x\n')]));
  t.throws(() => loadConfigFile(cut), { message: /cut\.yaml: not valid UTF-8 \(byte offset 12\)/, }, 'a cut-short sequence: its first byte, counting the BOM');
  const users = join(dir, 'users');
  writeFileSync(users, Buffer.concat([Buffer.from('alice:p'), Buffer.from([0xe4]), Buffer.from('ss\n')]));
  t.throws(() => loadEnv({ TURNKIT_USERS_FILE: users }), { message: `TURNKIT_USERS_FILE ${users}: not valid UTF-8 (byte offset 7); save it as UTF-8` });
  t.equal(loadConfigFile(write(dir, 'utf8.yaml', '\ufeffrealm: caf\u00e9\n')).realm, 'caf\u00e9', 'UTF-8 with a BOM is fine');
});

t.test('errors name users the way they were given and never show a password or secret', async (t) => {
  const dir = tempDir(t);
  t.throws(() => loadEnv({ TURNKIT_USERS: 'alice' }), { message: /^TURNKIT_USERS: expected NAME:PASSWORD/ });
  t.throws(() => loadEnv({ TURNKIT_USERS: 'bob:pw,alice=hunter2' }), { message: /^TURNKIT_USERS entry 2: expected NAME:PASSWORD with neither part empty \(e\.g\. alice:s3cret\)$/ });
  const users = write(dir, 'users', '# static users\nbob:pw\n\nalice=hunter2\n');
  const bad = write(dir, 'u.yaml', `users_file: ${users}\n`);
  t.throws(() => loadConfigFile(bad), { message: new RegExp(`^${bad}: users_file ${users} line 4: expected NAME:PASSWORD`) });
  t.throws(() => loadEnv({ TURNKIT_USERS_FILE: users }), { message: new RegExp(`^TURNKIT_USERS_FILE ${users} line 4: `) });
  const str = write(dir, 's.yaml', 'users: "alice"\n');
  t.throws(() => loadConfigFile(str), { message: new RegExp(`^${str}: users: expected NAME:PASSWORD`) });
  for (const [name, yaml, message] of [
    ['nested.yaml', 'secrets: [[TOPSECRETVALUE]]\n', 'secrets: expected text, got a list'],
    ['map.yaml', 'api_keys: [{k: TOPSECRETVALUE}]\n', 'api_keys: expected text, got a map'],
    ['pw.yaml', 'users: {alice: [TOPSECRETVALUE]}\n', 'users.alice: expected text, got a list'],
    ['nopw.yaml', 'users: {alice: ""}\n', 'users.alice: a user needs a name and a non-empty password'],
  ]) {
    const file = write(dir, name!, yaml!);
    t.throws(() => loadConfigFile(file), { message: `${file}: ${message}` });
  }
  const empty = mergeLayers([{ input: loadConfigFile(write(dir, 'e.yaml', 'secrets: [""]\n')), source: { kind: 'file', path: 'e.yaml' } }]);
  t.throws(() => {
    try {
      resolveConfig(empty.input);
    } catch (err) {
      throw explainError(err as ConfigError, empty.sources);
    }
  }, { message: /^e\.yaml: secrets: a shared secret cannot be empty/ });
});

t.test('explainError matches a whole flag: --user does not take a message about --users-file', async (t) => {
  const sources = new Map<string, Source>([
    ['users', { kind: 'env' }],
    ['users_file', { kind: 'file', path: 'x.yaml' }],
    ['secrets', { kind: 'env' }],
  ]);
  t.equal(explainError(new ConfigError('--users-file: something'), sources).message, 'x.yaml: users_file: something');
  t.equal(explainError(new ConfigError('--user: something'), sources).message, 'TURNKIT_USERS: something');
  t.equal(explainError(new ConfigError('--secret-file: something'), sources).message, '--secret-file: something', 'set by no source: left alone');
});

t.test('check-config: credentials add up across sources; a coerced value or a bad user exits 2 with one line and no secret', async (t) => {
  const dir = tempDir(t);
  const users = write(dir, 'users', 'fileu:filep\n');
  const run = (args: string[], env: NodeJS.ProcessEnv = {}): ReturnType<typeof spawnSync> =>
    spawnSync(process.execPath, [BIN, 'check-config', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
  const ok = run([write(dir, 'ok.yaml', `users_file: ${users}\n`)], { TURNKIT_USERS: 'envu:envp' });
  t.equal(ok.status, 0, String(ok.stderr));
  t.same(Object.keys((JSON.parse(String(ok.stdout)) as { users: object }).users).sort(), ['envu', 'fileu']);
  for (const [args, env, message] of [
    [[write(dir, 'pw.yaml', 'users: {alice: 0123}\n')], {}, /pw\.yaml: users\.alice: YAML reads this value as a number, not text; quote it$/],
    [[write(dir, 'nested.yaml', 'secrets: [[TOPSECRETVALUE]]\n')], {}, /nested\.yaml: secrets: expected text, got a list$/],
    [[], { TURNKIT_USERS: 'alice' }, /^turnkit: TURNKIT_USERS: expected NAME:PASSWORD/],
  ] as Array<[string[], NodeJS.ProcessEnv, RegExp]>) {
    const r = run(args, env);
    t.equal(r.status, 2);
    t.equal(String(r.stderr).trim().split('\n').length, 1);
    t.match(String(r.stderr).trim(), message);
    t.notMatch(String(r.stderr), /TOPSECRETVALUE|0123/);
  }
  const latin1 = join(dir, 'latin1.yaml');
  writeFileSync(latin1, Buffer.from([0x72, 0x65, 0x61, 0x6c, 0x6d, 0x3a, 0x20, 0xff, 0x0a]));
  const r = run([latin1]);
  t.equal(r.status, 2);
  t.match(String(r.stderr), /latin1\.yaml: not valid UTF-8 \(byte offset 7\)/);
});
