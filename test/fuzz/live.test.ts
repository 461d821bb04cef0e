/**
 * A bounded slice of the live fuzzing (`npm run fuzz -- --count N` runs more): 20,000 mutated
 * inputs through UDP, TCP, TLS, re-signed TURN requests, HTTP and WebSocket against a turnkit
 * daemon, with a Binding and an authenticated Allocate checked after every batch. The seed is printed
 * (and taken from FUZZ_SEED), so a failure can be replayed.
 */
import t from 'tap';
import { makeSelfSignedCert } from '../helpers/certs.js';
import { startDaemon } from '../helpers/live-turn.js';
import { skipUnless } from '../helpers/tools.js';
import { FUZZ_DAEMON_ARGS, runLiveFuzz } from './live.js';

const COUNT = 20_000;

t.test(`live fuzz: ${COUNT} inputs, every entry point, server healthy after each batch`, skipUnless('openssl'), async (t) => {
  const cert = makeSelfSignedCert();
  t.teardown(() => cert.cleanup());
  const daemon = await startDaemon(t, FUZZ_DAEMON_ARGS, { tls: cert });
  const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
  t.comment(`seed ${seed} (FUZZ_SEED=${seed} replays this run)`);
  const report = await runLiveFuzz(t, daemon, { count: COUNT, seed, batchSize: 2500 });
  t.comment(`${report.inputs} inputs in ${report.durationMs} ms; by entry point ${JSON.stringify(report.byEntry)}`);
  t.comment(`by mutation ${JSON.stringify(report.byMutation)}`);
  t.equal(report.inputs, COUNT, 'every input was sent');
  t.same(report.failures.map((f) => `${f.kind} in batch ${f.batch}: ${f.detail}\n${f.lastInputs.slice(-5).join('\n')}`), [], 'no crash, hang, wrong answer or internal error');
  for (const entry of Object.keys(report.byEntry) as Array<keyof typeof report.byEntry>) {
    t.ok(report.byEntry[entry] > 0, `inputs reached ${entry}`);
  }
  const dropped = await daemon.metric('turnkit_stun_dropped_total');
  t.ok(dropped > 0, `malformed inputs were dropped and counted (${dropped})`);
  t.equal(daemon.proc.exitStatus, null, 'the daemon is still running');
});
