/**
 * Relay port draws (src/transport/relay.ts) over both data planes and real sockets on 127.0.0.1:
 * ports the plane already holds are skipped without a bind, so a range fills to its last port with
 * no failed bind, and a freed port is the one the next allocation gets.
 */
import t from 'tap';
import { jsDataPlane, type DataPlane } from '../../src/transport/datagram.js';
import { nativeDataPlane, nativePlaneUnavailable } from '../../src/transport/native-plane.js';
import { openRelay, type RelaySocket } from '../../src/transport/relay.js';
import { freePortRange } from '../integration/lib.js';

const nativeMissing = nativePlaneUnavailable();
const planes: Array<{ name: string; make: () => DataPlane; skip: string | false }> = [
  { name: 'js', make: jsDataPlane, skip: false },
  { name: 'native', make: nativeDataPlane, skip: nativeMissing ? `native data plane unavailable: ${nativeMissing}` : false },
];

/** The plane, with every bind that fails counted (the sockets stay real). */
function counting(plane: DataPlane): { plane: DataPlane; binds: number; failed: number } {
  const c = {
    binds: 0,
    failed: 0,
    plane: {
      name: plane.name,
      bind: (host: string, port: number, opts?: Parameters<DataPlane['bind']>[2]) => {
        c.binds++;
        return plane.bind(host, port, opts).catch((err: unknown) => {
          c.failed++;
          throw err;
        });
      },
      holds: (host: string, port: number) => plane.holds(host, port),
      project: plane.project.bind(plane),
      answerBindings: plane.answerBindings.bind(plane),
      counts: () => plane.counts(),
      close: () => plane.close(),
    } satisfies DataPlane,
  };
  return c;
}

for (const p of planes) {
  t.test(`${p.name} plane: a 64-port range fills to the last port without a failed bind; a freed port is reused`, { skip: p.skip }, async (t) => {
    const span = 64;
    const min = await freePortRange(['127.0.0.1'], span, ['udp']);
    const range = { min, max: min + span - 1 };
    const real = p.make();
    const c = counting(real);
    const open: RelaySocket[] = [];
    t.teardown(async () => {
      await Promise.all(open.map((r) => r.socket.close()));
      await real.close();
    });
    for (let i = 0; i < span; i++) {
      const r = await openRelay(c.plane, '127.0.0.1', range);
      if (!r) break;
      open.push(r.relay);
    }
    t.equal(open.length, span, 'every port of the range handed out');
    t.equal(new Set(open.map((r) => r.address.port)).size, span, 'each once');
    t.equal(c.failed, 0, 'no bind failed on a port the plane already held');
    t.equal(c.binds, span, 'one bind per relay');
    t.ok(open.every((r) => real.holds('127.0.0.1', r.address.port)), 'the plane reports each as held');

    t.equal(await openRelay(c.plane, '127.0.0.1', range), undefined, 'a full range: no relay (508)');
    t.equal(c.binds, span, 'and no bind tried for it');

    const freed = open.splice(17, 1)[0]!;
    await freed.socket.close();
    t.notOk(real.holds('127.0.0.1', freed.address.port), 'a closed socket is no longer held');
    const again = await openRelay(c.plane, '127.0.0.1', range);
    t.equal(again?.relay.address.port, freed.address.port, 'the freed port is the next one handed out');
    if (again) open.push(again.relay);
    t.equal(c.failed, 0);
  });
}
