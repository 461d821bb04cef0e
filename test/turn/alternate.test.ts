/**
 * 300 Try Alternate (RFC 8489 §10, RFC 8656 §6.2) in the engine: a draining or full node names an
 * alternate server in ALTERNATE-SERVER (and ALTERNATE-DOMAIN over TLS), signed like every answer to an
 * authenticated request; without alternates it answers 508 as before.
 */
import t from 'tap';
import { decodeAddress } from '../../src/stun/attributes/address.js';
import { AttributeType } from '../../src/stun/constants.js';
import type { TransportAddress } from '../../src/stun/ip.js';
import { getAttribute, type StunMessage } from '../../src/stun/message.js';
import { T0, TurnTestClient, engineConfig, makeEngine, newClientAddress, responseOf, verdict, type EngineOptions } from '../helpers/turn-client.js';

const A4: TransportAddress = { family: 'IPv4', address: '192.0.2.50', port: 3478 };
const B4: TransportAddress = { family: 'IPv4', address: '192.0.2.51', port: 3479 };
const A6: TransportAddress = { family: 'IPv6', address: '2001:db8::50', port: 3478 };
const TLS4: TransportAddress = { family: 'IPv4', address: '192.0.2.60', port: 5349 };

function setup(o: EngineOptions = {}) {
  const engine = makeEngine(engineConfig(o));
  return { engine, client: (opts: ConstructorParameters<typeof TurnTestClient>[1] = {}) => new TurnTestClient(engine, opts) };
}

function alternateOf(m: StunMessage): TransportAddress | undefined {
  const a = getAttribute(m, AttributeType.AlternateServer);
  return a ? decodeAddress(a.value) : undefined;
}

t.test('draining with alternates: 300, ALTERNATE-SERVER, signed, counted as a redirect; round robin', async (t) => {
  const { engine, client } = setup({ alternates: { udp: [A4, B4], tls: [] } });
  engine.startDraining();
  const seen: Array<TransportAddress | undefined> = [];
  for (let i = 0; i < 3; i++) {
    const c = client();
    const out = c.requestAllocation(T0);
    t.equal(verdict(out), 300);
    const m = responseOf(out);
    t.ok(c.signedByMe(m), 'MESSAGE-INTEGRITY with the client key (RFC 8489 §10: the client must be able to trust it)');
    t.equal(getAttribute(m, AttributeType.AlternateDomain), undefined, 'no ALTERNATE-DOMAIN over UDP');
    if (out.kind === 'respond') t.same(out.note, { event: 'redirect', reason: 'draining' });
    seen.push(alternateOf(m));
  }
  t.same(seen, [A4, B4, A4], 'the alternates take turns');
});

t.test('the client\'s own family first; the other family only when no alternate of its own exists', async (t) => {
  const { engine, client } = setup({ alternates: { udp: [A6, A4], tls: [] } });
  engine.startDraining();
  for (let i = 0; i < 2; i++) t.same(alternateOf(responseOf(client().requestAllocation(T0))), A4, 'IPv4 client → the IPv4 alternate');
  const v6 = client({ source: newClientAddress('2001:db8::7') });
  t.same(alternateOf(responseOf(v6.requestAllocation(T0))), A6, 'IPv6 client → the IPv6 alternate');
  const only6 = setup({ alternates: { udp: [A6], tls: [] } });
  only6.engine.startDraining();
  t.same(alternateOf(responseOf(only6.client().requestAllocation(T0))), A6, 'only an IPv6 alternate: better than none');
});

t.test('over TLS: the TLS alternates, with ALTERNATE-DOMAIN; UDP/TCP alternates are not offered to TLS clients', async (t) => {
  const { engine, client } = setup({ alternates: { udp: [A4], tls: [TLS4], domain: 'turn.example.com' } });
  engine.startDraining();
  const c = client({ transport: 'tls' });
  const m = responseOf(c.requestAllocation(T0));
  t.same(alternateOf(m), TLS4);
  t.equal(getAttribute(m, AttributeType.AlternateDomain)?.value.toString(), 'turn.example.com');
  t.same(alternateOf(responseOf(client({ transport: 'tcp' }).requestAllocation(T0))), A4, 'TCP gets the plain alternate');
  const noTls = setup({ alternates: { udp: [A4], tls: [] } });
  noTls.engine.startDraining();
  t.equal(verdict(noTls.client({ transport: 'tls' }).requestAllocation(T0)), 508, 'TLS without TLS alternates: 508');
});

t.test('without alternates: 508 while draining and when full, as before', async (t) => {
  const { engine, client } = setup({ quotas: { perUser: 0, perClientIp: 0, total: 1 } });
  client().allocate(T0);
  t.equal(verdict(client().requestAllocation(T0)), 508, 'full');
  engine.startDraining();
  t.equal(verdict(client().requestAllocation(T0)), 508, 'draining');
});

t.test('full (the total quota, or no relay port free) with alternates: 300; per-user and per-IP quotas stay 486', async (t) => {
  const { client } = setup({ alternates: { udp: [A4], tls: [] }, quotas: { perUser: 0, perClientIp: 0, total: 1 } });
  client().allocate(T0);
  const out = client().requestAllocation(T0);
  t.equal(verdict(out), 300, 'total quota reached: 300');
  if (out.kind === 'respond') t.same(out.note, { event: 'redirect', reason: 'full' });
  t.same(alternateOf(responseOf(out)), A4);

  const roomy = setup({ alternates: { udp: [A4], tls: [] } });
  const c = roomy.client();
  const failed = roomy.engine.completeAllocation(c.pendingAllocation(T0), { ok: false });
  t.equal(verdict(failed), 300, 'no free relay port: 300');
  t.equal(verdict(roomy.engine.completeAllocation(roomy.client().pendingAllocation(T0), { ok: false, refused: 440 })), 440, 'a missing family is not a capacity problem: 440');

  const perUser = setup({ alternates: { udp: [A4], tls: [] }, quotas: { perUser: 1, perClientIp: 0, total: 0 } });
  perUser.client().allocate(T0);
  t.equal(verdict(perUser.client().requestAllocation(T0)), 486, 'per-user quota: 486 (another node would count the same user)');
});
