/**
 * Port and file-descriptor exhaustion against a live daemon: with a two-port relay range the third
 * Allocate gets 508 and works again as soon as a port is freed; with a low open-files limit
 * (prlimit on the child) Allocates get 508, TCP and HTTP connections beyond the limit are refused,
 * Binding keeps working and nothing crashes.
 */
import t from 'tap';
import net from 'node:net';
import { AttributeType, Method } from '../../src/stun/constants.js';
import { LiveUdpClient, processUsage, resultOf, startDaemon, type Daemon } from '../helpers/live-turn.js';
import { bindingRequest, turnRequest, lifetime, type Credentials } from '../helpers/turn-client.js';
import { skipUnless } from '../helpers/tools.js';
import { freePortRange } from '../integration/lib.js';
import type { Test } from 'tap';

const REALM = 'load.example';
const ARGS = ['--realm', REALM, '--user', 'u:u-pw', '--max-allocations-per-user', '1000', '--max-allocations-per-ip', '1000'];

async function binding(t: Test, d: Daemon, ip = '127.0.0.1'): Promise<string | number | undefined> {
  const c = await LiveUdpClient.open(t, d.udp, ip);
  const b = bindingRequest();
  const a = await c.request({ data: b, transactionId: b.subarray(8, 20) });
  c.close();
  return a ? resultOf(a) : 'none';
}

async function allocate(t: Test, d: Daemon, ip: string): Promise<{ c: LiveUdpClient; creds: Credentials; code: string | number | undefined }> {
  const c = await LiveUdpClient.open(t, d.udp, ip);
  const { answer, creds } = await c.allocate('u', 'u-pw', REALM);
  return { c, creds, code: answer ? resultOf(answer) : 'none' };
}

const release = (a: { c: LiveUdpClient; creds: Credentials }) => a.c.request(turnRequest(Method.Refresh, [lifetime(0)], a.creds));

t.test('a two-port relay range: the third Allocate → 508, and it works once a port is freed', async (t) => {
  const low = await freePortRange(['127.0.0.1'], 2, ['udp']);
  const d = await startDaemon(t, [...ARGS, '--relay-ports', `${low}-${low + 1}`], { http: false });
  const a = await allocate(t, d, '127.0.0.1');
  const b = await allocate(t, d, '127.0.0.1');
  t.same([a.code, b.code], ['success', 'success'], 'two allocations fill the range');
  const c = await allocate(t, d, '127.0.0.1');
  t.equal(c.code, 508, 'the third → 508 Insufficient Capacity');
  t.equal(await d.metric('turnkit_errors_total', { method: 'Allocate', code: '508' }), 1, 'counted');
  const freed = await release(a);
  t.equal(freed && resultOf(freed), 'success', 'one allocation deleted');
  const again = await c.c.request(turnRequest(Method.Allocate, [{ type: AttributeType.RequestedTransport, value: Buffer.from([17, 0, 0, 0]) }], c.creds));
  t.equal(again && resultOf(again), 'success', 'the same client allocates at once on the freed port');
  t.equal(await binding(t, d), 'success', 'Binding unaffected throughout');
});

t.test('a low open-files limit: Allocate → 508, extra connections refused, Binding keeps working, no crash', skipUnless('prlimit'), async (t) => {
  const limit = 64;
  const d = await startDaemon(t, ARGS, { wrapper: ['prlimit', `--nofile=${limit}:${limit}`, '--'] });
  const before = processUsage(d.pid);
  t.comment(`daemon holds ${before.fds} descriptors of ${limit} at start`);
  const held: Array<{ c: LiveUdpClient; creds: Credentials }> = [];
  let refused: string | number | undefined;
  for (let i = 0; i < limit && refused === undefined; i++) {
    const a = await allocate(t, d, `127.0.1.${1 + (i % 250)}`);
    if (a.code === 'success') held.push(a);
    else refused = a.code;
  }
  t.equal(refused, 508, `after ${held.length} allocations the descriptors ran out: 508`);
  t.equal(await binding(t, d), 'success', 'Binding still answered');

  // Connections the process has no descriptor for: refused, and the listeners survive.
  const sockets: net.Socket[] = [];
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  const connect = (port: number): Promise<void> =>
    new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      sockets.push(s);
      s.on('error', () => resolve());
      s.on('connect', () => resolve());
      setTimeout(resolve, 500);
    });
  for (let i = 0; i < 20; i++) {
    await connect(d.tcp);
    await connect(d.http!);
  }
  await new Promise((r) => setTimeout(r, 500));
  t.equal(d.proc.exitStatus, null, 'the daemon is still running after accept() failed');
  t.equal(await binding(t, d), 'success', 'Binding still answered');
  sockets.forEach((s) => s.destroy());
  await new Promise((r) => setTimeout(r, 300));

  for (const a of held.splice(0, 2)) await release(a);
  await new Promise((r) => setTimeout(r, 300));
  const after = await allocate(t, d, '127.0.2.1');
  t.equal(after.code, 'success', 'once descriptors are freed, Allocate works again');
  const health = await fetch(`http://127.0.0.1:${d.http}/healthz`);
  t.equal(health.status, 200, 'the HTTP listener serves again');
  t.equal(d.proc.exitStatus, null, 'no crash');
});
