/** The turnkit command line (serve, check-config, credentials); bin/turnkit.ts loads it. */
import { readFileSync, writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { resolveConfig, type ConfigInput, type ServerConfig } from '../src/config.js';
import {
  OPTIONS,
  configurationMarkdown,
  explainError,
  loadConfigFile,
  loadEnv,
  loadFlags,
  mergeLayers,
  readLines,
  redact,
  type Layer,
  type OptionSpec,
} from '../src/config-file.js';
import { ConfigError, TurnkitError } from '../src/errors.js';
import { startServer } from '../src/index.js';
import { createLogger } from '../src/services/logger.js';
import { onHangup } from '../src/services/hangup.js';
import { ensureSecret } from '../src/services/state.js';
import { mintRestCredential } from '../src/turn/credentials.js';

/**
 * Prints one line for an error and exits: 1 when a listener could not be opened (the host's state:
 * port taken, IP not here), 2 for anything the command line or configuration can fix.
 */
function fail(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`turnkit: ${message}\n`);
  process.exit(err instanceof TurnkitError && err.code === 'ERR_LISTEN_FAILED' ? 1 : 2);
}

/** Flags whose values repeat (lists): each occurrence is kept. */
const REPEATABLE = new Set(['list', 'hostports', 'users']);

/** Adds every schema option to a command, plus the negations that turn a listener or SOFTWARE off. */
function addSchemaOptions(cmd: Command): Command {
  for (const spec of OPTIONS) {
    const description = `${spec.doc} (default: ${spec.default}; file: ${spec.key})`;
    if (REPEATABLE.has(spec.type)) {
      cmd.option(spec.flag, `${description}; repeatable`, (v: string, prev: string[] = []) => [...prev, v]);
    } else if (spec.key === 'log_level') {
      cmd.addOption(new Option(spec.flag, description).choices(['debug', 'info', 'warn', 'error', 'silent']));
    } else {
      cmd.option(spec.flag, description);
    }
  }
  return cmd
    .option('--no-software', 'send no SOFTWARE attribute')
    .option('--no-http', 'no credential service')
    .option('--no-metrics', 'no metrics listener')
    .option('--config <file>', 'YAML configuration file (flags > TURNKIT_* environment > file > defaults)');
}

/** The negated flags that turn a listener off, and the setting each one sets to false. */
const LISTENER_OFF_FLAGS = [
  ['http', 'http_listen'],
  ['metrics', 'metrics_listen'],
] as const;

/** The commander property name of a flag ("--max-lifetime <s>" → maxLifetime). */
function attributeName(spec: OptionSpec): string {
  // A negated flag ("--no-web") is stored by commander under the positive name (web).
  const long = spec.flag.split(' ')[0]!.replace(/^--(no-)?/, '');
  return long.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Builds the layered input from a config file, the environment and the command's flags. */
function gatherInput(opts: Record<string, unknown>): { input: ConfigInput; explain: (e: ConfigError) => ConfigError } {
  const layers: Layer[] = [];
  if (typeof opts.config === 'string') layers.push({ input: loadConfigFile(opts.config), source: { kind: 'file', path: opts.config } });
  layers.push({ input: loadEnv(process.env), source: { kind: 'env' } });
  const flags = new Map<OptionSpec, unknown>();
  for (const spec of OPTIONS) {
    const value = opts[attributeName(spec)];
    // --no-software makes commander store false under the option's own name.
    if (value === false) flags.set(spec, false);
    else if (value !== undefined && value !== true) flags.set(spec, value);
  }
  // --no-http and --no-metrics are stored as http / metrics: they turn those listeners off.
  for (const [negated, key] of LISTENER_OFF_FLAGS) {
    if (opts[negated] === false) flags.set(OPTIONS.find((o) => o.key === key)!, false);
  }
  const flagInput = loadFlags(flags);
  layers.push({ input: flagInput, source: { kind: 'flag' } });
  const { input, sources } = mergeLayers(layers);
  return { input, explain: (e) => explainError(e, sources) };
}

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('turnkit')
  .description('Self-hosted STUN/TURN server')
  .version(version, '-V, --version', 'print the version and exit')
  .showSuggestionAfterError()
  // Usage errors get the same one line and status 2 as configuration errors; help and the version exit 0.
  .configureOutput({ outputError: (text, write) => write(`turnkit: ${text.replace(/^error: /, '').replace(/\n(?=.)/g, ' ')}`) })
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

addSchemaOptions(
  program.command('serve', { isDefault: true }).description('run the STUN/TURN server, credential service and metrics'),
).action(async (opts: Record<string, unknown>) => {
  // Handlers go in before the listeners open, so a signal that races start-up still ends cleanly.
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  let drainSeconds = 0;
  let logLevel: ServerConfig['logLevel'] = 'info';
  let stopping = false;
  const stop = (): void => {
    if (stopping) {
      // A second signal skips what is left of the drain.
      void server?.close().then(() => process.exit(0));
      return;
    }
    stopping = true;
    if (server) void server.drain(drainSeconds * 1000).then(() => server!.close()).then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  let explain: (e: ConfigError) => ConfigError = (e) => e;
  /** The layered input, with the state directory's secret when nothing else gives TURN a credential. */
  const load = (): { input: ConfigInput; generated?: ReturnType<typeof ensureSecret> } => {
    const gathered = gatherInput(opts);
    explain = gathered.explain;
    const input = gathered.input;
    if (input.secrets || input.users) return { input };
    const generated = ensureSecret(resolveConfig(input).stateDir);
    input.secrets = [generated.secret];
    return { input, generated };
  };
  try {
    // With no credential configured at all, a newcomer still gets working TURN: a random secret,
    // generated once and kept in the state directory (said in the log once the server is up).
    const { input, generated } = load();
    const config = resolveConfig(input);
    drainSeconds = config.drainTimeout;
    logLevel = config.logLevel;
    server = await startServer(input);
    if (generated) {
      createLogger(config.logLevel).info('TURN shared secret kept in the state directory', {
        file: generated.file,
        created: generated.created,
      });
    }
  } catch (err) {
    fail(err instanceof ConfigError ? explain(err) : err);
  }
  // SIGHUP: read the file and the environment again; a bad new config leaves the running one alone,
  // drain_timeout included, and says so in the JSON log like every other event.
  const refused = (err: Error): void =>
    createLogger(logLevel).error('reload refused, still running the previous config', { reason: err.message });
  // Hangups held since the process started (a reload racing start-up) come through here now, once.
  onHangup(() => {
    try {
      const config = resolveConfig(load().input);
      server!.reload(config).then(
        () => {
          drainSeconds = config.drainTimeout;
          logLevel = config.logLevel;
        },
        (err: unknown) => refused(err as Error),
      );
    } catch (err) {
      refused(err instanceof ConfigError ? explain(err) : (err as Error));
    }
  });
  if (stopping) await server!.close().then(() => process.exit(0));
});

addSchemaOptions(
  program
    .command('check-config')
    .description('validate a configuration file (with the environment and any flags) and print the effective config, secrets redacted')
    .argument('[file]', 'YAML configuration file')
    .option('--docs [out]', 'print (or write to out) docs/configuration.md generated from the schema'),
).action((file: string | undefined, opts: Record<string, unknown>) => {
  if (opts.docs !== undefined) {
    const md = configurationMarkdown();
    if (typeof opts.docs === 'string') writeFileSync(opts.docs, md);
    else process.stdout.write(md);
    return;
  }
  let explain: (e: ConfigError) => ConfigError = (e) => e;
  try {
    const gathered = gatherInput({ ...opts, ...(file ? { config: file } : {}) });
    explain = gathered.explain;
    const config = resolveConfig(gathered.input);
    process.stdout.write(`${JSON.stringify(redact(config as unknown as Record<string, unknown>), null, 2)}\n`);
  } catch (err) {
    fail(err instanceof ConfigError ? explain(err) : err);
  }
});

program
  .command('credentials')
  .description('print an ephemeral TURN credential minted from a shared secret (TURN REST API scheme)')
  .option('--secret <secret>', 'the shared secret (prefer --secret-file: arguments show in ps)')
  .option('--secret-file <file>', 'file whose first secret line is used')
  .requiredOption('--user <id>', 'user id to embed in the username')
  .option('--ttl <seconds>', 'lifetime in seconds', '86400')
  .option('--json', 'print {username, password, ttl} as JSON')
  .action((opts: { secret?: string; secretFile?: string; user: string; ttl: string; json?: boolean }) => {
    try {
      const secret = opts.secret ?? (opts.secretFile ? readLines('--secret-file', opts.secretFile)[0] : undefined);
      if (!secret) throw new ConfigError('credentials: give --secret-file FILE (or --secret S)');
      if (opts.user.includes(':')) throw new ConfigError('--user: a user id cannot contain ":"');
      if (!/^\d{1,9}$/.test(opts.ttl)) throw new ConfigError(`--ttl "${opts.ttl}": use whole seconds`);
      const c = mintRestCredential(secret, opts.user, Number(opts.ttl), Date.now());
      process.stdout.write(opts.json ? `${JSON.stringify(c)}\n` : `username: ${c.username}\npassword: ${c.password}\nttl:      ${c.ttl}\n`);
    } catch (err) {
      fail(err);
    }
  });

// `serve` is the default command, so a mistyped command would otherwise read as an argument to it.
const first = process.argv[2];
if (first !== undefined && !first.startsWith('-') && first !== 'help' && !program.commands.some((c) => c.name() === first || c.aliases().includes(first))) {
  const names = program.commands.map((c) => c.name()).join(', ');
  fail(new ConfigError(`unknown command "${first}" (commands: ${names}, help; see turnkit --help)`));
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  fail(err);
}
