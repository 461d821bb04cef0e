#!/usr/bin/env node
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { parseHostPort, parsePort, parseUser, DEFAULT_PORT, DEFAULT_TLS_PORT, type ConfigInput, type HostPort } from '../src/config.js';
import { TurnkitError } from '../src/errors.js';
import { startServer } from '../src/index.js';
import { mintRestCredential } from '../src/turn/credentials.js';

const collect =
  (option: string, defaultPort: number) =>
  (value: string, previous: HostPort[] = []): HostPort[] => [...previous, parseHostPort(value, option, defaultPort)];

const repeat = (value: string, previous: string[] = []): string[] => [...previous, value];

const integer = (option: string) => (value: string): number => {
  if (!/^\d+$/.test(value)) throw new TurnkitError('ERR_CONFIG_INVALID', `${option} "${value}": use a whole number`);
  return Number(value);
};

/** Reads non-empty, non-comment lines of a secrets or users file. */
function fileLines(option: string, file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TurnkitError('ERR_CONFIG_INVALID', `${option} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('#'));
}

/** Prints one line for a usage or configuration error and exits non-zero. */
function fail(err: unknown): never {
  const message = err instanceof TurnkitError ? err.message : (err as Error).message;
  process.stderr.write(`turnkit: ${message}\n`);
  process.exit(err instanceof TurnkitError && err.code !== 'ERR_CONFIG_INVALID' ? 1 : 2);
}

const program = new Command('turnkit').description('Self-hosted STUN/TURN server').showSuggestionAfterError();

program
  .command('serve', { isDefault: true })
  .description('run the STUN server (UDP and TCP on 3478, TLS on 5349 when a certificate is set)')
  .option('--listen <ip:port>', 'UDP and TCP listen address, repeatable (default 0.0.0.0:3478 and [::]:3478)', collect('--listen', DEFAULT_PORT))
  .option('--tls-listen <ip:port>', 'TLS listen address, repeatable (default 0.0.0.0:5349 and [::]:5349)', collect('--tls-listen', DEFAULT_TLS_PORT))
  .option('--cert <file>', 'PEM certificate chain for TLS')
  .option('--key <file>', 'PEM private key for TLS')
  .option('--alt-address <ip>', 'RFC 5780: a second local IP; enables CHANGE-REQUEST and OTHER-ADDRESS')
  .option('--alt-port <port>', 'RFC 5780: the second port (default: listen port + 1)', (v) => parsePort(v, '--alt-port'))
  .option('--software <text>', 'SOFTWARE attribute text (default "turnkit")')
  .option('--no-software', 'send no SOFTWARE attribute')
  .option('--stream-idle-timeout <seconds>', 'close idle TCP/TLS connections after this many seconds (default 30)', (v) => {
    if (!/^\d+$/.test(v)) throw new TurnkitError('ERR_CONFIG_INVALID', `--stream-idle-timeout "${v}": use whole seconds from 1 to 3600`);
    return Number(v);
  })
  .addOption(new Option('--log-level <level>', 'log threshold').choices(['debug', 'info', 'warn', 'error', 'silent']))
  .option('--realm <name>', 'TURN realm of long-term credentials (default: the host name)')
  .option('--user <name:password>', 'TURN user with a static password, repeatable', repeat)
  .option('--users-file <file>', 'file of name:password lines')
  .option('--secret <secret>', 'TURN REST shared secret for ephemeral credentials, repeatable (the first mints)', repeat)
  .option('--secret-file <file>', 'file with one shared secret per line')
  .option('--relay-ports <min-max>', 'relay port range (default 49152-65535)')
  .option('--relay-ip <ip>', 'local IP relay sockets bind to')
  .option('--external-ip <public[/private]>', 'public address to advertise when behind 1:1 NAT')
  .option('--allow-peer <cidr>', 'allow relaying to this network despite the default deny list, repeatable', repeat)
  .option('--deny-peer <cidr>', 'also deny relaying to this network, repeatable', repeat)
  .option('--max-allocations-per-user <n>', 'allocations one user may hold (default 10, 0 = no limit)', integer('--max-allocations-per-user'))
  .option('--max-allocations-per-ip <n>', 'allocations one client IP may hold (default 100, 0 = no limit)', integer('--max-allocations-per-ip'))
  .option('--max-allocations <n>', 'allocations in total (default 0 = as many as relay ports)', integer('--max-allocations'))
  .option('--max-lifetime <seconds>', 'longest allocation lifetime a client may ask for (default 3600)', integer('--max-lifetime'))
  .option('--max-permissions <n>', 'peer permissions per allocation (default 64)', integer('--max-permissions'))
  .option('--nonce-lifetime <seconds>', 'seconds before a nonce goes stale (default 600)', integer('--nonce-lifetime'))
  .option('--http-listen <ip:port>', 'credential service and health probes (default 127.0.0.1:8080)', (v) => parseHostPort(v, '--http-listen', 8080))
  .option('--no-http', 'no credential service')
  .option('--metrics-listen <ip:port>', 'Prometheus /metrics (default 127.0.0.1:9641)', (v) => parseHostPort(v, '--metrics-listen', 9641))
  .option('--no-metrics', 'no metrics listener')
  .option('--api-key <key>', 'key callers of the credential service present (Authorization: Bearer), repeatable', repeat)
  .option('--cors-origin <origin>', 'browser origin allowed to call the credential service, repeatable', repeat)
  .option('--max-credential-ttl <seconds>', 'longest credential the service hands out (default 86400)', integer('--max-credential-ttl'))
  .option('--public-host <name>', 'host name put in the TURN URIs the credential service returns')
  .action(async (opts: {
    listen?: HostPort[];
    tlsListen?: HostPort[];
    cert?: string;
    key?: string;
    altAddress?: string;
    altPort?: number;
    software?: string | boolean;
    streamIdleTimeout?: number;
    logLevel?: string;
    realm?: string;
    user?: string[];
    usersFile?: string;
    secret?: string[];
    secretFile?: string;
    relayPorts?: string;
    relayIp?: string;
    externalIp?: string;
    allowPeer?: string[];
    denyPeer?: string[];
    maxAllocationsPerUser?: number;
    maxAllocationsPerIp?: number;
    maxAllocations?: number;
    maxLifetime?: number;
    maxPermissions?: number;
    nonceLifetime?: number;
    http?: HostPort | false;
    httpListen?: HostPort;
    metrics?: HostPort | false;
    metricsListen?: HostPort;
    apiKey?: string[];
    corsOrigin?: string[];
    maxCredentialTtl?: number;
    publicHost?: string;
  }) => {
    const { user, usersFile, secret, secretFile, allowPeer, denyPeer, software, http, metrics, apiKey, corsOrigin, ...rest } = opts;
    const input: ConfigInput = { ...rest };
    if (http === false) input.httpListen = null;
    if (metrics === false) input.metricsListen = null;
    if (apiKey) input.apiKeys = apiKey;
    if (corsOrigin) input.corsOrigins = corsOrigin;
    if (software === false) input.software = null;
    else if (typeof software === 'string') input.software = software;
    try {
      const userLines = [...(user ?? []), ...(usersFile ? fileLines('--users-file', usersFile) : [])];
      if (userLines.length > 0) input.users = Object.fromEntries(userLines.map(parseUser));
      const secrets = [...(secret ?? []), ...(secretFile ? fileLines('--secret-file', secretFile) : [])];
      if (secrets.length > 0) input.secrets = secrets;
    } catch (err) {
      fail(err);
    }
    if (allowPeer) input.allowPeers = allowPeer;
    if (denyPeer) input.denyPeers = denyPeer;
    // Handlers go in before the listeners open, so a signal that races start-up still ends cleanly.
    let server: Awaited<ReturnType<typeof startServer>> | undefined;
    let stopping = false;
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      if (server) void server.close().then(() => process.exit(0));
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    try {
      server = await startServer(input);
    } catch (err) {
      fail(err);
    }
    if (stopping) await server.close().then(() => process.exit(0));
  });

program
  .command('credentials')
  .description('print an ephemeral TURN credential minted from a shared secret (TURN REST API scheme)')
  .option('--secret <secret>', 'the shared secret (prefer --secret-file: arguments show in ps)')
  .option('--secret-file <file>', 'file whose first secret line is used')
  .requiredOption('--user <id>', 'user id to embed in the username')
  .option('--ttl <seconds>', 'lifetime in seconds', integer('--ttl'), 86400)
  .option('--json', 'print {username, password, ttl} as JSON')
  .action((opts: { secret?: string; secretFile?: string; user: string; ttl: number; json?: boolean }) => {
    try {
      const secret = opts.secret ?? (opts.secretFile ? fileLines('--secret-file', opts.secretFile)[0] : undefined);
      if (!secret) throw new TurnkitError('ERR_CONFIG_INVALID', 'credentials: give --secret-file FILE (or --secret S)');
      if (opts.user.includes(':')) throw new TurnkitError('ERR_CONFIG_INVALID', '--user: a user id cannot contain ":"');
      const c = mintRestCredential(secret, opts.user, opts.ttl, Date.now());
      process.stdout.write(opts.json ? `${JSON.stringify(c)}\n` : `username: ${c.username}\npassword: ${c.password}\nttl:      ${c.ttl}\n`);
    } catch (err) {
      fail(err);
    }
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  fail(err);
}
