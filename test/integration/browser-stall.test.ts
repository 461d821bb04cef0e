/**
 * browserStall (browser-relay.ts) decides when a failed browser run may be run again: only when the
 * relay demonstrably delivered every byte both ways. Anything the relay could have caused (a byte
 * missing on either side, a connection not up, a pair that is not relay ↔ relay) must not qualify.
 */
import t from 'tap';
import { browserStall, type PageResult } from './browser-relay.js';

/** A run where both sides connected relay ↔ relay and every byte arrived, but b's messages did not. */
function stalled(): PageResult {
  const relay = (port: number) => ({ candidateType: 'relay', address: '127.0.0.1', port, protocol: 'udp' });
  return {
    ok: false,
    error: 'timed out after 30000 ms',
    aToB: Array.from({ length: 10 }, (_, i) => `a->b ${i}`),
    bToA: [],
    candidates: { a: ['relay 127.0.0.1:40000'], b: ['relay 127.0.0.1:40002'] },
    iceErrors: [],
    selected: {
      a: { via: 'selectedCandidatePairId', local: relay(40000), remote: relay(40002), bytesSent: 2920, bytesReceived: 3137 },
      b: { via: 'selectedCandidatePairId', local: relay(40002), remote: relay(40000), bytesSent: 3137, bytesReceived: 2920 },
    },
    states: { a: 'connected', b: 'connected' },
  };
}

t.test('a stall with every byte relayed both ways qualifies, and says so', async (t) => {
  const why = browserStall(stalled());
  t.match(why, /every byte relayed/);
  t.match(why, /b→a 0/);
});

t.test('anything the relay could have caused does not qualify', async (t) => {
  const cases: Array<[string, (r: PageResult) => void]> = [
    ['the run passed', (r) => { r.ok = true; }],
    ['a byte from b missing at a', (r) => { r.selected.a.bytesReceived = 3136; }],
    ['a byte from a missing at b', (r) => { r.selected.b.bytesReceived = 2919; }],
    ['nothing sent by b', (r) => { r.selected.b.bytesSent = 0; r.selected.a.bytesReceived = 0; }],
    ['a not connected', (r) => { r.states.a = 'failed'; }],
    ['b still connecting', (r) => { r.states.b = 'connecting'; }],
    ['no selected pair on a', (r) => { r.selected.a = { via: 'none' }; }],
    ['a host candidate selected on b', (r) => { r.selected.b.local = { candidateType: 'host', port: 5000 }; }],
  ];
  for (const [name, spoil] of cases) {
    const r = stalled();
    spoil(r);
    t.equal(browserStall(r), undefined, name);
  }
});
