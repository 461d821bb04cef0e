/** Channel bindings (src/turn/channels.ts, RFC 8656 §11–§12): lifetime, conflicts, 5-minute quarantine. */
import t from 'tap';
import { AllocationTable, type Allocation } from '../../src/turn/allocations.js';
import {
  CHANNEL_LIFETIME_MS,
  CHANNEL_QUARANTINE_MS,
  bindChannel,
  bindingForChannel,
  channelBindConflict,
  channelForPeer,
  pruneChannels,
} from '../../src/turn/channels.js';
import type { TransportAddress } from '../../src/stun/ip.js';
import { PEER_A, PEER_B, T0, TurnTestClient, engineConfig, makeEngine, verdict } from '../helpers/turn-client.js';

const S = 1000;
const P1: TransportAddress = { family: 'IPv4', address: '198.18.0.2', port: 5000 };
const P2: TransportAddress = { family: 'IPv4', address: '198.18.0.3', port: 5000 };
const P1b: TransportAddress = { ...P1, port: 5001 };

function allocation(): Allocation {
  return new AllocationTable().create({
    fiveTuple: { client: { family: 'IPv4', address: '198.51.100.7', port: 40000 }, server: { family: 'IPv4', address: '192.0.2.1', port: 3478 }, transport: 'udp', listenerId: 1 },
    username: 'alice',
    relayed: { family: 'IPv4', address: '10.0.0.1', port: 50000 },
    advertised: { family: 'IPv4', address: '10.0.0.1', port: 50000 },
    expiresAt: T0 + 3600 * S,
    createdAt: T0,
  });
}

t.test('RFC 8656 timings: bindings last 600 s, then 300 s of quarantine', async (t) => {
  t.equal(CHANNEL_LIFETIME_MS, 600 * S, 'RFC 8656 §11: 10 minutes');
  t.equal(CHANNEL_QUARANTINE_MS, 300 * S, 'RFC 8656 §11: 5 minutes after expiry');
});

t.test('a binding is usable in both directions for its lifetime only', async (t) => {
  const a = allocation();
  bindChannel(a, 0x4000, P1, T0);
  t.equal(bindingForChannel(a, 0x4000, T0 + 599_999)?.peer, P1);
  t.equal(channelForPeer(a, P1.address, P1.port, T0 + 599_999)?.channel, 0x4000);
  t.equal(channelForPeer(a, P1.address, P1b.port, T0), undefined, 'the peer is a transport address: another port has no channel');
  t.equal(bindingForChannel(a, 0x4001, T0), undefined);
  t.equal(bindingForChannel(a, 0x4000, T0 + 600_000), undefined, 'expired at 600 s');
  t.equal(channelForPeer(a, P1.address, P1.port, T0 + 600_000), undefined);
});

t.test('re-binding the same pair refreshes the lifetime', async (t) => {
  const a = allocation();
  bindChannel(a, 0x4000, P1, T0);
  t.equal(channelBindConflict(a, 0x4000, P1, T0 + 500 * S), undefined, 'same channel, same peer: no conflict');
  bindChannel(a, 0x4000, P1, T0 + 500 * S);
  t.ok(bindingForChannel(a, 0x4000, T0 + 1099 * S), 'alive until 500 + 600 s');
  t.notOk(bindingForChannel(a, 0x4000, T0 + 1100 * S));
  t.equal(a.channelsByNumber.size, 1);
});

t.test('conflicts: channel in use by another peer, peer bound to another channel', async (t) => {
  const a = allocation();
  bindChannel(a, 0x4000, P1, T0);
  t.equal(channelBindConflict(a, 0x4000, P2, T0), 'channel-in-use');
  t.equal(channelBindConflict(a, 0x4000, P1b, T0), 'channel-in-use', 'same IP, other port is another peer');
  t.equal(channelBindConflict(a, 0x4001, P1, T0), 'peer-bound-elsewhere');
  t.equal(channelBindConflict(a, 0x4001, P1b, T0), undefined, 'a free channel for a free peer');
});

t.test('quarantine: after expiry neither the number nor the peer may be rebound elsewhere for 5 minutes', async (t) => {
  const a = allocation();
  bindChannel(a, 0x4000, P1, T0);
  const expired = T0 + CHANNEL_LIFETIME_MS;
  for (const when of [expired, expired + 1, expired + CHANNEL_QUARANTINE_MS - 1]) {
    pruneChannels(a, when);
    t.equal(bindingForChannel(a, 0x4000, when), undefined, `unusable at +${(when - T0) / S} s`);
    t.equal(channelBindConflict(a, 0x4000, P2, when), 'channel-in-use', `number quarantined at +${(when - T0) / S} s`);
    t.equal(channelBindConflict(a, 0x4001, P1, when), 'peer-bound-elsewhere', `peer quarantined at +${(when - T0) / S} s`);
    t.equal(channelBindConflict(a, 0x4000, P1, when), undefined, 'the same pair may be bound again');
  }
  const free = expired + CHANNEL_QUARANTINE_MS;
  t.equal(channelBindConflict(a, 0x4000, P2, free), undefined, 'number free after the quarantine');
  t.equal(channelBindConflict(a, 0x4001, P1, free), undefined, 'peer free after the quarantine');
  pruneChannels(a, free);
  t.equal(a.channelsByNumber.size, 0, 'prune forgets it');
  t.equal(a.channelsByPeer.has(P1.address), false, 'and its peer index entry');
});

t.test('pruneChannels keeps quarantined bindings and drops only those past quarantine', async (t) => {
  const a = allocation();
  bindChannel(a, 0x4000, P1, T0);
  bindChannel(a, 0x4001, P2, T0 + 200 * S);
  pruneChannels(a, T0 + 900 * S); // 0x4000 quarantine ends at 900 s; 0x4001's at 1100 s
  t.same([...a.channelsByNumber.keys()], [0x4001]);
  t.equal(channelForPeer(a, P1.address, P1.port, T0), undefined, 'peer index updated');
  t.equal(channelForPeer(a, P2.address, P2.port, T0 + 200 * S)?.channel, 0x4001);
});

t.test('one peer IP with channels on several ports: each port finds its own', async (t) => {
  const a = allocation();
  const P1c = { ...P1b, port: P1b.port + 1 };
  bindChannel(a, 0x4000, P1, T0);
  bindChannel(a, 0x4001, P1b, T0);
  bindChannel(a, 0x4002, P1c, T0);
  t.equal(channelForPeer(a, P1.address, P1.port, T0)?.channel, 0x4000);
  t.equal(channelForPeer(a, P1b.address, P1b.port, T0)?.channel, 0x4001);
  t.equal(channelForPeer(a, P1c.address, P1c.port, T0)?.channel, 0x4002);
  t.equal(channelForPeer(a, P1.address, P1c.port + 1, T0), undefined, 'an unbound port of the same IP');
  t.equal(channelBindConflict(a, 0x4003, P1b, T0), 'peer-bound-elsewhere');
  // 0x4001 and 0x4002 are refreshed, 0x4000 lapses and is pruned after its quarantine.
  bindChannel(a, 0x4001, P1b, T0 + 600 * S);
  bindChannel(a, 0x4002, P1c, T0 + 600 * S);
  pruneChannels(a, T0 + 900 * S);
  t.equal(channelForPeer(a, P1.address, P1.port, T0 + 900 * S), undefined, 'the pruned port is gone');
  t.equal(channelForPeer(a, P1b.address, P1b.port, T0 + 900 * S)?.channel, 0x4001);
  t.equal(channelForPeer(a, P1c.address, P1c.port, T0 + 900 * S)?.channel, 0x4002);
  // Down to one port: still found, and the IP's entry goes when the last binding does.
  pruneChannels(a, T0 + 1800 * S);
  t.equal(a.channelsByPeer.has(P1.address), false);
  bindChannel(a, 0x4005, P1c, T0 + 1800 * S);
  bindChannel(a, 0x4006, P1b, T0 + 1800 * S);
  bindChannel(a, 0x4006, P1, T0 + 1800 * S + 1);
  t.equal(channelForPeer(a, P1b.address, P1b.port, T0 + 1800 * S + 1), undefined, 'a number moved to another port leaves the old one');
  t.equal(channelForPeer(a, P1.address, P1.port, T0 + 1800 * S + 1)?.channel, 0x4006);
  t.equal(channelForPeer(a, P1c.address, P1c.port, T0 + 1800 * S + 1)?.channel, 0x4005);
});

t.test('rebinding a number whose quarantine ended moves it to the new peer in both indexes', async (t) => {
  const a = allocation();
  bindChannel(a, 0x4000, P1, T0);
  const later = T0 + CHANNEL_LIFETIME_MS + CHANNEL_QUARANTINE_MS;
  t.equal(channelBindConflict(a, 0x4000, P2, later), undefined);
  bindChannel(a, 0x4000, P2, later);
  t.equal(bindingForChannel(a, 0x4000, later)?.peer, P2);
  t.equal(channelForPeer(a, P2.address, P2.port, later)?.channel, 0x4000);
  t.equal(channelForPeer(a, P1.address, P1.port, later), undefined, 'old peer no longer maps to it');
});

t.test('engine: ChannelBind respects the quarantine (400), then allows the rebinding', async (t) => {
  const engine = makeEngine(engineConfig({ nonceLifetimeMs: 3600 * S }));
  const c = new TurnTestClient(engine);
  c.allocate(T0, { lifetime: 3600 });
  t.equal(verdict(c.channelBind(T0, 0x4000, PEER_A)), 'success');
  const inQuarantine = T0 + 700 * S;
  t.equal(verdict(c.channelBind(inQuarantine, 0x4000, PEER_B)), 400, 'number quarantined');
  t.equal(verdict(c.channelBind(inQuarantine, 0x4001, PEER_A)), 400, 'peer quarantined');
  t.equal(verdict(c.channelBind(inQuarantine, 0x4002, PEER_B)), 'success', 'fresh pair fine');
  const free = T0 + 901 * S;
  t.equal(verdict(c.channelBind(free, 0x4000, { ...PEER_A, port: 7000 })), 'success', 'number free after 600 + 300 s');
  t.equal(verdict(c.channelBind(free, 0x4003, PEER_A)), 'success', 'peer free after 600 + 300 s');
});
