#!/usr/bin/env node
import { Command } from 'commander';
import { parseHostPort, DEFAULT_PORT } from '../src/config.js';
import { TurnkitError } from '../src/errors.js';
import { classifyNatPresence } from '../src/nat-probe/classify.js';
import { probeBinding } from '../src/nat-probe/probe.js';
import { buildReport, formatReport } from '../src/nat-probe/report.js';

const program = new Command('nat-probe')
  .description('Ask a STUN server how this host is seen from outside (mapped address, NAT or not)')
  .requiredOption('--server <ip:port>', `STUN server address (port defaults to ${DEFAULT_PORT})`)
  .option('--json', 'print one JSON object instead of text')
  .option('--timeout <ms>', 'give up after this many milliseconds', '3000')
  .option('--local-address <ip>', 'send from this local IP')
  .action(async (opts: { server: string; json?: boolean; timeout: string; localAddress?: string }) => {
    const timeout = Number(opts.timeout);
    if (!Number.isInteger(timeout) || timeout < 100 || timeout > 600_000) {
      throw new TurnkitError('ERR_CONFIG_INVALID', `--timeout "${opts.timeout}": use milliseconds from 100 to 600000`);
    }
    const server = parseHostPort(opts.server, '--server', DEFAULT_PORT);
    const observation = await probeBinding(server, timeout, opts.localAddress);
    const nat = classifyNatPresence(observation);
    const report = buildReport(opts.server, observation, nat);
    process.stdout.write(`${opts.json ? JSON.stringify(report) : formatReport(report)}\n`);
    process.exitCode = nat === 'udp-blocked' ? 3 : 0;
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`nat-probe: ${(err as Error).message}\n`);
  process.exit(2);
}
