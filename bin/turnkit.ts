#!/usr/bin/env node
import { Command, Option } from 'commander';
import { parseHostPort, parsePort, DEFAULT_PORT, DEFAULT_TLS_PORT, type ConfigInput, type HostPort } from '../src/config.js';
import { TurnkitError } from '../src/errors.js';
import { startServer } from '../src/index.js';

const collect =
  (option: string, defaultPort: number) =>
  (value: string, previous: HostPort[] = []): HostPort[] => [...previous, parseHostPort(value, option, defaultPort)];

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
  }) => {
    const input: ConfigInput = { ...opts, software: opts.software === false ? null : opts.software === true ? undefined : opts.software };
    if (input.software === undefined) delete input.software;
    let server;
    try {
      server = await startServer(input);
    } catch (err) {
      fail(err);
    }
    let stopping = false;
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      void server.close().then(() => process.exit(0));
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  fail(err);
}
