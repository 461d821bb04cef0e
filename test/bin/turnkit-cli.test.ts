import t from 'tap';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AttributeType, MAGIC_COOKIE, MessageClass, Method } from '../../src/stun/constants.js';
import { decodeXorAddress } from '../../src/stun/attributes/address.js';
import { decodeMessage, encodeMessage, getAttribute } from '../../src/stun/message.js';

const BIN = fileURLToPath(new URL('../../bin/turnkit.js', import.meta.url));

/** Runs the CLI with a hard time limit and returns what it printed. */
function runCli(args: string[], timeoutMs = 10_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const badFlags: Array<[string[], RegExp]> = [
  [['serve', '--listen', '1.2.3:99'], /--listen "1\.2\.3:99".*not an IP address/],
  [['serve', '--listen', '127.0.0.1:70000'], /port must be a number from 0 to 65535/],
  [['serve', '--bogus'], /unknown option '--bogus'/],
  [['serve', '--alt-address', '127.0.0.2'], /--alt-address needs a specific --listen address/],
  [['serve', '--listen', '127.0.0.1:0', '--cert', '/nonexistent.pem', '--key', '/nonexistent.key'], /cannot read TLS certificate or key/],
  [['serve', '--log-level', 'loud'], /--log-level/],
  [['serve', '--tls-listen', '127.0.0.1:0'], /--tls-listen needs a certificate/],
  [['serve', '--stream-idle-timeout', 'soon'], /--stream-idle-timeout/],
  [['serve', '--user', 'alice'], /--user: expected NAME:PASSWORD/],
  [['serve', '--secret-file', '/nonexistent/secrets'], /--secret-file \/nonexistent\/secrets: cannot read it \(ENOENT\)/],
  [['serve', '--allow-peer', '10.0.0.0/33'], /--allow-peer/],
  [['serve', '--relay-ports', '1-2'], /--relay-ports/],
  [['serve', '--max-allocations-per-user', 'many'], /--max-allocations-per-user "many"/],
  [['serve', '--listen', '::1:3478'], /--listen "::1:3478": ambiguous: write \[::1\]:3478/],
  [['serve', '--listen', '[::1]:x'], /--listen "\[::1\]:x": port must be a number/],
  [['serve', '--tls-listen', '[127.0.0.1]:5349'], /brackets are for IPv6 addresses only/],
  [['serve', '--http-listen', '[::1:8080'], /--http-listen "\[::1:8080"/],
  [['serve', '--metrics-listen', '[::1]:99999'], /--metrics-listen "\[::1\]:99999": port must be a number/],
  [['serve', '--alternate-server', 'turn.example.com:3478'], /--alternate-server "turn\.example\.com:3478": "turn\.example\.com" is not an IP address/],
  [['serve', '--alternate-server', '[::]:3478'], /--alternate-server \[::\]:3478: give the specific IP address/],
  [['serve', '--relay-ip', '127.0.0.1', '--relay-ip', '127.0.0.2'], /--relay-ip "127\.0\.0\.2": one IPv4 address is already given/],
  [['serve', '--alternate-domain', 'turn.example.com'], /--alternate-domain .*--tls-alternate-server/],
  [['serve', 'extra'], /too many arguments for 'serve'/],
  [['frobnicate'], /unknown command "frobnicate" \(commands: serve, check-config, credentials, help/],
  [['check-config', '--no-wbe'], /unknown option '--no-wbe' \(Did you mean --no-web\?\)/],
  [['credentials', '--secret', 's'], /required option '--user <id>' not specified/],
];
for (const [args, message] of badFlags) {
  t.test(`bad flags exit with status 2 and one line: ${args.join(' ')}`, async (t) => {
    const r = await runCli(args);
    t.equal(r.code, 2, 'status 2: a usage or configuration error');
    t.match(r.stderr, message);
    t.equal(r.stderr.trim().split('\n').length, 1, 'exactly one line');
    t.equal(r.stdout, '', 'nothing on stdout');
  });
}

t.test('help, --version and a listener that cannot be opened: status 0, 0 and 1', async (t) => {
  for (const args of [['--help'], ['help'], ['help', 'serve'], ['serve', '--help']]) {
    const r = await runCli(args);
    t.equal(r.code, 0, `${args.join(' ')}: status 0`);
    t.match(r.stdout, /Usage: turnkit/, `${args.join(' ')}: usage on stdout`);
  }
  const v = await runCli(['--version']);
  t.equal(v.code, 0, '--version: status 0');
  t.equal(v.stdout.trim(), JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')).version, '--version prints package.json\'s version');
  // 198.18.0.1 is not on this host (tests never configure it outside a namespace): the bind fails.
  const r = await runCli(['serve', '--listen', '198.18.0.1:0', '--no-http', '--no-metrics']);
  t.equal(r.code, 1, 'an address that is not on this host: status 1 (the host, not the flags)');
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
});

/** The ready line a `serve` child logs (every line before it lands in `lines`). */
interface ReadyLine {
  listeners: Array<{ transport: string; address: string; port: number }>;
  credentials?: string;
  metrics?: string;
}

function readyLine(child: ReturnType<typeof spawn>, lines: string[]): Promise<ReadyLine> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no ready line')), 10_000);
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        const parsed = JSON.parse(line) as ReadyLine & { msg: string };
        if (parsed.msg === 'ready') {
          clearTimeout(timer);
          resolve(parsed);
        }
      }
    });
  });
}

t.test('serve binds, logs one ready line with its listeners, answers Binding, exits 0 on SIGTERM', async (t) => {
  const child = spawn(process.execPath, [BIN, 'serve', '--listen', '127.0.0.1:0', '--log-level', 'info'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const lines: string[] = [];
  const ready = await readyLine(child, lines);
  t.ok(lines.some((l) => /TLS listener off/.test(l)), 'says in one line that TLS is off without a certificate');
  const udp = ready.listeners.find((l) => l.transport === 'udp')!;
  t.equal(udp.address, '127.0.0.1');
  t.ok(ready.listeners.find((l) => l.transport === 'tcp' && l.port > 0));

  const socket = dgram.createSocket('udp4');
  t.teardown(() => socket.close());
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  const transactionId = randomBytes(12);
  const req = encodeMessage({ method: Method.Binding, cls: MessageClass.Request, transactionId, cookie: MAGIC_COOKIE, attributes: [] });
  const answer = new Promise<Buffer>((r) => socket.once('message', (m) => r(m)));
  socket.send(req, udp.port, '127.0.0.1');
  const res = decodeMessage(await answer);
  t.ok(res.ok);
  if (res.ok) {
    const mapped = decodeXorAddress(getAttribute(res.message, AttributeType.XorMappedAddress)!.value, transactionId);
    t.same(mapped, { family: 'IPv4', address: '127.0.0.1', port: socket.address().port });
  }
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'graceful shutdown exits 0');
});

t.test('--no-http and --no-metrics leave the credential service and the metrics listener off', async (t) => {
  const args = ['serve', '--listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0', '--log-level', 'info'];
  for (const [extra, credentials, metrics] of [
    [[], true, true],
    [['--no-http'], false, true],
    [['--no-metrics'], true, false],
    [['--no-http', '--no-metrics'], false, false],
  ] as const) {
    const child = spawn(process.execPath, [BIN, ...args, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    const ready = await readyLine(child, []).finally(() => child.kill('SIGKILL'));
    t.equal(ready.credentials !== undefined, credentials, `${extra.join(' ') || 'no flag'}: credential service ${credentials ? 'on' : 'off'}`);
    t.equal(ready.metrics !== undefined, metrics, `${extra.join(' ') || 'no flag'}: metrics ${metrics ? 'on' : 'off'}`);
  }
});
