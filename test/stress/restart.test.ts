/**
 * Restart safety: SIGTERM while clients are busy drains as promised (not ready at once, new
 * Allocates 508, live allocations keep relaying) and exits 0; SIGKILL followed by a restart on the
 * same state directory serves again at once, with the same generated secret, so credentials minted
 * before the crash still work.
 */
import t from 'tap';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { AttributeType } from '../../src/stun/constants.js';
import { LiveUdpClient, resultOf, startDaemon, xorAddressOf } from '../helpers/live-turn.js';
import { bindingRequest, channelBindRequest, channelData } from '../helpers/turn-client.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('SIGTERM during load: drains (not ready, 508 to new Allocates, live calls relay) and exits 0', async (t) => {
  const realm = 'drain.example';
  const d = await startDaemon(t, ['--realm', realm, '--user', 'u:u-pw', '--allow-peer', '127.0.0.1/32', '--drain-timeout', '3']);
  const peer = dgram.createSocket('udp4');
  await new Promise<void>((r) => peer.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => peer.close());
  const got: number[] = [];
  peer.on('message', (m) => got.push(m.readUInt32BE(0)));
  const c = await LiveUdpClient.open(t, d.udp, '127.0.7.1');
  const { answer, creds } = await c.allocate('u', 'u-pw', realm);
  t.equal(answer && resultOf(answer), 'success', 'a call is up');
  const bound = await c.request(channelBindRequest(creds, 0x4000, { family: 'IPv4', address: '127.0.0.1', port: peer.address().port }));
  t.equal(bound && resultOf(bound), 'success');

  // Load: Binding requests from 8 clients and the call's ChannelData, until the daemon exits.
  const loaders = await Promise.all(Array.from({ length: 8 }, (_, i) => LiveUdpClient.open(t, d.udp, `127.0.7.${10 + i}`)));
  let seq = 0;
  const load = setInterval(() => {
    for (const l of loaders) l.send(bindingRequest());
    const b = Buffer.alloc(4);
    b.writeUInt32BE(seq++);
    c.send(channelData(0x4000, b));
  }, 5);
  t.teardown(() => clearInterval(load));
  await sleep(300);

  d.proc.child.kill('SIGTERM');
  const termAt = Date.now();
  await sleep(300);
  const ready = await fetch(`http://127.0.0.1:${d.http}/readyz`).catch(() => undefined);
  t.equal(ready?.status, 503, 'not ready as soon as the drain starts');
  const late = await LiveUdpClient.open(t, d.udp, '127.0.7.2');
  const refused = await late.allocate('u', 'u-pw', realm);
  t.equal(refused.answer && resultOf(refused.answer), 508, 'a new Allocate during the drain → 508');
  const during = got.length;
  await sleep(500);
  t.ok(got.length > during, `the live call keeps relaying during the drain (${got.length - during} packets in 0.5 s)`);
  const exit = await d.proc.waitExit(10_000);
  clearInterval(load);
  t.same(exit, { code: 0, signal: null }, `exit status 0 after ${Date.now() - termAt} ms (drain timeout 3 s)`);
  t.ok(d.proc.lines('stdout').some((l) => l.includes('"msg":"draining"')), 'the drain was logged');
});

t.test('SIGKILL, then a restart on the same state directory: serving again at once, with the same secret', async (t) => {
  const first = await startDaemon(t, ['--realm', 'restart.example']);
  const secretFile = `${first.stateDir}/shared-secret`;
  const secret = readFileSync(secretFile, 'utf8');
  t.match(secret, /^[0-9a-f]{64}\n$/, 'a secret was generated and written whole');
  // A credential minted before the crash, by the daemon's own credential service.
  const ice = (await (await fetch(`http://127.0.0.1:${first.http}/ice-servers?username=survivor`)).json()) as { iceServers: Array<{ username: string; credential: string }> };
  const cred = ice.iceServers.find((s) => s.username)!;
  const before = await LiveUdpClient.open(t, first.udp, '127.0.8.1');
  const ok = await before.allocate(cred.username, cred.credential, 'restart.example');
  t.equal(ok.answer && resultOf(ok.answer), 'success', 'the credential works before the crash');

  first.proc.child.kill('SIGKILL');
  await first.proc.waitExit(5000);
  t.equal(readFileSync(secretFile, 'utf8'), secret, 'the state file is intact after SIGKILL');

  const started = Date.now();
  const second = await startDaemon(t, ['--realm', 'restart.example'], { stateDir: first.stateDir });
  const c = await LiveUdpClient.open(t, second.udp, '127.0.8.2');
  let served: number | undefined;
  while (served === undefined && Date.now() - started < 10_000) {
    const b = bindingRequest();
    const a = await c.request({ data: b, transactionId: b.subarray(8, 20) }, 200, false);
    if (a && resultOf(a) === 'success' && xorAddressOf(a, AttributeType.XorMappedAddress)) served = Date.now() - started;
  }
  t.ok(served !== undefined, `serving Binding ${served} ms after the restart began (process start included)`);
  t.comment(`restart to first Binding answer: ${served} ms`);
  const after = await c.allocate(cred.username, cred.credential, 'restart.example');
  t.equal(after.answer && resultOf(after.answer), 'success', 'the credential minted before the crash works after it: same secret');
  t.equal(readFileSync(secretFile, 'utf8'), secret, 'the secret was kept, not regenerated');
});
