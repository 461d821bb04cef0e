/**
 * A garbage flood for the stress tests, as its own process: `node flooder.js PORT SECONDS MAX [RATE]`
 * sends malformed datagrams (mutated corpus messages and random bytes) to 127.0.0.1:PORT from 4
 * sockets on 127.0.6.x, as fast as it can or at RATE datagrams a second, for at most SECONDS and
 * MAX datagrams, then prints `{"sent":N,"ms":T}`. Loopback only.
 */
import dgram from 'node:dgram';
import { Rng, corpusSeeds, mutate } from '../fuzz/mutate.js';

/** How many sends may wait for their callback at once (bounds this process's memory). */
const IN_FLIGHT = 512;

async function main(port: number, seconds: number, max: number, rate: number): Promise<void> {
  const rng = new Rng(12345);
  const seeds = corpusSeeds();
  // Malformed only: a FINGERPRINT-less header with a bad cookie or a lying length is dropped at once.
  const garbage = Array.from({ length: 2048 }, (_, i) => {
    const b = mutate(rng, seeds, 1200).data;
    if (i % 2 === 0 && b.length >= 8) b.writeUInt32BE(0xdeadbeef, 4);
    if (b.length >= 4) b.writeUInt16BE((b.readUInt16BE(2) | 1) & 0xffff, 2);
    return b;
  });
  const sockets = await Promise.all(
    Array.from({ length: 4 }, (_, i) => new Promise<dgram.Socket>((resolve) => {
      const s = dgram.createSocket('udp4');
      s.on('error', () => undefined);
      s.bind(0, `127.0.6.${i + 1}`, () => resolve(s));
    })),
  );
  const started = Date.now();
  const deadline = started + seconds * 1000;
  let sent = 0;
  let inFlight = 0;
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      // At a given rate, never ahead of schedule: what is due by now, in 10 ms steps.
      const due = rate > 0 ? Math.min(max, Math.floor(((Date.now() - started) / 1000) * rate)) : max;
      if (rate > 0 && sent >= due && Date.now() < deadline) {
        setTimeout(pump, 5);
        return;
      }
      while (inFlight < IN_FLIGHT && sent < due) {
        if ((sent & 1023) === 0 && Date.now() >= deadline) break;
        inFlight++;
        sockets[sent & 3]!.send(garbage[sent & 2047]!, port, '127.0.0.1', () => {
          inFlight--;
          if (inFlight === 0 || inFlight === IN_FLIGHT / 2) setImmediate(pump);
        });
        sent++;
      }
      if ((sent >= max || Date.now() >= deadline) && inFlight === 0) resolve();
      else if (sent >= max || Date.now() >= deadline) setTimeout(pump, 10);
    };
    pump();
  });
  process.stdout.write(`${JSON.stringify({ sent, ms: Date.now() - started })}\n`);
  for (const s of sockets) s.close();
}

void main(Number(process.argv[2]), Number(process.argv[3] ?? 5), Number(process.argv[4] ?? 5_000_000), Number(process.argv[5] ?? 0));
