#!/usr/bin/env node
// nat-probe: what kind of NAT is this host behind? See docs/nat-probe.md.
// Exit status: 0 classified, 1 internal error, 2 usage error, 3 no STUN answer over UDP,
// 4 classified but every requested TURN Allocate failed.
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { Command, CommanderError } from 'commander';
import { DEFAULT_PORT } from '../src/config.js';
import { TurnkitError } from '../src/errors.js';
import { toTransportAddress } from '../src/transport/address.js';
import { classify } from '../src/nat-probe/classify.js';
import { interfaceAddresses, probeLifetime, runProbe, type LifetimeResult } from '../src/nat-probe/probe.js';
import { buildReport, formatReport, noResponseSummary, udpSilence } from '../src/nat-probe/report.js';
import { parseTurnUri, probeTurn, type TurnResult } from '../src/nat-probe/turn.js';
import { fetchCredentials } from '../src/nat-probe/credentials-url.js';

/** A usage problem: one line on stderr, exit status 2. */
class UsageError extends Error {}

interface Options {
  server?: string;
  json?: boolean;
  timeout: string;
  localAddress?: string;
  turn: string[];
  username?: string;
  password?: string;
  credentialsUrl?: string;
  apiKey?: string;
  lifetime?: boolean;
  lifetimeMax: string;
}

/** Splits HOST[:PORT] / [IPv6]:PORT / bare IPv6. */
function splitHostPort(text: string): { host: string; port: number } {
  let host = text;
  let portText: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracket) {
    host = bracket[1]!;
    portText = bracket[2];
  } else if ((text.match(/:/g) ?? []).length === 1) {
    [host, portText] = text.split(':') as [string, string];
  }
  const port = portText === undefined ? DEFAULT_PORT : Number(portText);
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535 || (portText !== undefined && !/^\d+$/.test(portText))) {
    throw new UsageError(`--server "${text}": expected HOST[:PORT], e.g. stun.example.org:3478, 192.0.2.1 or [2001:db8::1]:3478`);
  }
  return { host, port };
}

function intOption(text: string, name: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} "${text}": use a whole number from ${min} to ${max}`);
  return n;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/**
 * A --local-address the probe could not bind is the user's to fix: one line with the reason and
 * the addresses that would work, as a usage error. Anything else goes on unchanged.
 */
function localAddressProblem(err: unknown, localAddress: string | undefined): unknown {
  if (!(err instanceof TurnkitError) || err.code !== 'ERR_LISTEN_FAILED' || localAddress === undefined) return err;
  const code = (err.cause as NodeJS.ErrnoException | undefined)?.code;
  const family = net.isIP(localAddress);
  // Link-local addresses need a scope id to bind, so they would be no help here.
  const own = [...new Set(interfaceAddresses().filter((a) => net.isIP(a) === family && !/^fe80:/i.test(a)))].slice(0, 8);
  const fix = `use one of this host's addresses (${own.join(', ') || 'none of this family'}) or leave --local-address out`;
  if (code === 'EADDRNOTAVAIL') return new UsageError(`--local-address ${localAddress}: this host has no such address (EADDRNOTAVAIL); ${fix}`);
  return new UsageError(`--local-address ${localAddress}: cannot bind to it (${code ?? err.message}); ${fix}`);
}

const program = new Command('nat-probe')
  .description('Classify the NAT between this host and a STUN server (RFC 5780 mapping and filtering, RFC 3489 type, hairpinning, ALGs, binding lifetime, TURN reachability)')
  .option('--server <host[:port]>', `STUN server, ideally turnkit with --alt-address (port defaults to ${DEFAULT_PORT})`)
  .option('--json', 'print one JSON object (schema: src/nat-probe/report.schema.json)')
  .option('--timeout <ms>', 'budget for the STUN tests, in milliseconds', '3000')
  .option('--local-address <ip>', 'send from this local IP (default: the one the route to the server uses)')
  .option('--turn <uri>', 'also try Allocate on this TURN server: turn:HOST[:PORT] (UDP and TCP) or turns:HOST[:PORT] (TLS); repeatable', collect, [])
  .option('--username <u>', 'TURN username')
  .option('--password <p>', 'TURN password')
  .option('--credentials-url <url>', 'get TURN username, password and (without --turn) URIs from a credential service (/turn-credentials or /ice-servers)')
  .option('--api-key <key>', 'Bearer key for --credentials-url')
  .option('--lifetime', 'also measure how long an idle UDP binding survives (takes up to about twice --lifetime-max)')
  .option('--lifetime-max <s>', 'longest idle time the lifetime search tries, in seconds', '120')
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) })
  .action(async (opts: Options) => {
    if (!opts.server) throw new UsageError('--server HOST[:PORT] is required (a STUN server; with two addresses for the full RFC 5780 tests)');
    const timeoutMs = intOption(opts.timeout, '--timeout', 100, 600_000);
    const lifetimeMax = intOption(opts.lifetimeMax, '--lifetime-max', 2, 3600);
    if (opts.localAddress && !net.isIP(opts.localAddress)) throw new UsageError(`--local-address "${opts.localAddress}" is not an IP address`);
    for (const u of opts.turn) {
      if (!parseTurnUri(u)) throw new UsageError(`--turn "${u}": expected turn:HOST[:PORT][?transport=udp|tcp] or turns:HOST[:PORT]`);
    }
    if (opts.credentialsUrl) {
      if (!/^https?:\/\//.test(opts.credentialsUrl)) throw new UsageError(`--credentials-url "${opts.credentialsUrl}": expected an http:// or https:// URL`);
      // A service that cannot be reached or refuses is a setup problem: one line, exit 2.
      const fetched = await fetchCredentials(opts.credentialsUrl, opts.apiKey, 5000).catch((e: Error) => {
        throw new UsageError(e.message);
      });
      opts.username = fetched.username;
      opts.password = fetched.password;
      if (opts.turn.length === 0) opts.turn = fetched.uris.filter((u) => parseTurnUri(u) !== undefined);
      if (opts.turn.length === 0) throw new UsageError(`--credentials-url: the answer names no turn: URI; add --turn`);
    }
    if (opts.turn.length > 0 && (opts.username === undefined || opts.password === undefined)) {
      throw new UsageError('--turn needs --username and --password (or --credentials-url)');
    }
    const { host, port } = splitHostPort(opts.server);
    let ip = host;
    if (!net.isIP(host)) {
      try {
        ip = (await lookup(host)).address;
      } catch (e) {
        process.stderr.write(`nat-probe: cannot resolve ${host}: ${(e as Error).message}\n`);
        process.exitCode = 3;
        return;
      }
    }
    if (opts.localAddress && net.isIP(opts.localAddress) !== net.isIP(ip)) {
      // Sends across families fail silently and would read as "UDP blocked" (exit 3).
      throw new UsageError(
        `--local-address ${opts.localAddress} is IPv${net.isIP(opts.localAddress)} but the server ${ip} is IPv${net.isIP(ip)}; give a local address of the server's family or leave --local-address out`,
      );
    }
    const server = toTransportAddress(ip, port);
    const probeOpts = { server, timeoutMs, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) };

    const turnPromise: Promise<TurnResult[]> | undefined =
      opts.turn.length > 0
        ? Promise.all(opts.turn.map((u) => probeTurn(u, opts.username!, opts.password!, Math.max(timeoutMs, 3000)))).then((r) => r.flat())
        : undefined;
    const result = await runProbe(probeOpts).catch((e: unknown) => {
      throw localAddressProblem(e, opts.localAddress);
    });
    const verdict = classify(result.observations);
    let lifetime: LifetimeResult | undefined;
    if (opts.lifetime && verdict.mapped) {
      process.stderr.write(`nat-probe: measuring the idle binding lifetime (up to ${lifetimeMax} s idle; this takes a while)\n`);
      lifetime = await probeLifetime({ ...probeOpts, maxSeconds: lifetimeMax, progress: (l) => process.stderr.write(`nat-probe: ${l}\n`) }).catch((e: unknown) => {
        throw localAddressProblem(e, opts.localAddress);
      });
    }
    const turn = turnPromise ? await turnPromise : undefined;
    const report = buildReport({
      server: opts.server,
      serverAddress: server,
      observations: result.observations,
      verdict,
      durationMs: result.durationMs,
      ...(result.otherAddress ? { otherAddress: result.otherAddress } : {}),
      ...(lifetime ? { lifetime } : {}),
      ...(turn ? { turn } : {}),
    });
    process.stdout.write(`${opts.json ? JSON.stringify(report, null, 2) : formatReport(report)}\n`);
    if (report.status === 'no-response') {
      process.stderr.write(`nat-probe: no STUN answer from ${opts.server} over UDP within ${timeoutMs} ms: ${noResponseSummary(udpSilence(server, turn), turn !== undefined)}\n`);
      process.exitCode = 3;
    } else if (turn && turn.length > 0 && turn.every((t) => !t.ok)) {
      process.exitCode = 4;
    } else {
      process.exitCode = 0;
    }
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version exit 0; anything else commander rejects is a usage error
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  if (err instanceof UsageError) {
    process.stderr.write(`nat-probe: ${err.message}\n`);
    process.exit(2);
  }
  if (err instanceof TurnkitError) {
    process.stderr.write(`nat-probe: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`nat-probe: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
