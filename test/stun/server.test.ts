import t from 'tap';
import {
  AttributeType,
  ErrorCode,
  MAGIC_COOKIE,
  MessageClass,
  Method,
} from '../../src/stun/constants.js';
import { decodeAddress, decodeXorAddress, encodeXorAddress } from '../../src/stun/attributes/address.js';
import { decodeErrorCode } from '../../src/stun/attributes/error-code.js';
import { encodeChangeRequest, encodeResponsePort } from '../../src/stun/attributes/nat-behavior.js';
import { decodeUnknownAttributes } from '../../src/stun/attributes/unknown-attributes.js';
import { decodeMessage, encodeMessage, getAttribute, type StunAttribute, type StunMessage } from '../../src/stun/message.js';
import {
  handleStunMessage,
  SOFTWARE_MAX_BYTES,
  ECHO_ATTRIBUTE,
  ECHO_MAX_BYTES,
  type BindingServerConfig,
  type SocketRole,
  type StunOutcome,
  type StunRequestEvent,
} from '../../src/stun/server.js';
import type { TransportAddress } from '../../src/stun/ip.js';

const CLIENT: TransportAddress = { family: 'IPv4', address: '198.18.0.2', port: 40000 };
const ADDRS: Record<SocketRole, TransportAddress> = {
  primary: { family: 'IPv4', address: '198.18.0.10', port: 3478 },
  'alt-port': { family: 'IPv4', address: '198.18.0.10', port: 3479 },
  'alt-ip': { family: 'IPv4', address: '198.18.0.11', port: 3478 },
  'alt-both': { family: 'IPv4', address: '198.18.0.11', port: 3479 },
};
const TXID = Buffer.from('turnkit-test', 'ascii');

function request(attributes: StunAttribute[] = [], opts: { fingerprint?: boolean; cookie?: number; method?: number; cls?: MessageClass } = {}): Buffer {
  return encodeMessage(
    {
      method: opts.method ?? Method.Binding,
      cls: opts.cls ?? MessageClass.Request,
      transactionId: TXID,
      cookie: opts.cookie ?? MAGIC_COOKIE,
      attributes,
    },
    { fingerprint: opts.fingerprint ?? false },
  );
}

function run(data: Buffer, config: BindingServerConfig, over: Partial<StunRequestEvent> = {}): StunOutcome {
  return handleStunMessage({ data, transport: 'udp', source: CLIENT, role: 'primary', local: ADDRS.primary, ...over }, config);
}

function response(outcome: StunOutcome): StunMessage {
  if (outcome.kind !== 'respond') throw new Error(`expected a response, got ${JSON.stringify(outcome)}`);
  const r = decodeMessage(outcome.data);
  if (!r.ok) throw new Error(`response does not decode: ${r.reason}`);
  return r.message;
}

const plain: BindingServerConfig = { software: 'turnkit' };
const rfc5780: BindingServerConfig = { software: 'turnkit', rfc5780: ADDRS };

t.test('Binding success carries XOR-MAPPED-ADDRESS of the source and the same transaction ID', async (t) => {
  const out = run(request(), plain);
  const m = response(out);
  t.equal(m.cls, MessageClass.SuccessResponse);
  t.equal(m.method, Method.Binding);
  t.ok(m.transactionId.equals(TXID));
  t.same(decodeXorAddress(getAttribute(m, AttributeType.XorMappedAddress)!.value, m.transactionId), CLIENT);
  t.same(decodeAddress(getAttribute(m, AttributeType.ResponseOrigin)!.value), ADDRS.primary);
  t.equal(getAttribute(m, AttributeType.OtherAddress), undefined, 'no OTHER-ADDRESS without an alternate address');
  t.equal(getAttribute(m, AttributeType.MappedAddress), undefined);
  t.equal(getAttribute(m, AttributeType.Fingerprint), undefined, 'no FINGERPRINT when the request had none');
  t.match(out, { to: CLIENT, from: 'primary', result: 'success' });
});

t.test('IPv6 source is XORed with the transaction ID', async (t) => {
  const v6: TransportAddress = { family: 'IPv6', address: '2001:db8::2', port: 5000 };
  const m = response(run(request(), plain, { source: v6, local: undefined }));
  t.same(decodeXorAddress(getAttribute(m, AttributeType.XorMappedAddress)!.value, TXID), v6);
  t.equal(getAttribute(m, AttributeType.ResponseOrigin), undefined, 'no RESPONSE-ORIGIN from a wildcard socket');
});

t.test('FINGERPRINT in the request gets one in the response, and it verifies', async (t) => {
  const out = run(request([], { fingerprint: true }), plain);
  const m = response(out); // decodeMessage rejects a wrong FINGERPRINT
  t.ok(getAttribute(m, AttributeType.Fingerprint));
});

t.test('SOFTWARE is sent unless turned off, and a bare request gets a small answer', async (t) => {
  const bare = request();
  const out = run(bare, plain);
  const m = response(out);
  t.equal(getAttribute(m, AttributeType.Software)?.value.toString(), 'turnkit');
  if (out.kind !== 'respond') return;
  // XOR-MAPPED-ADDRESS and RESPONSE-ORIGIN are 12 bytes each; SOFTWARE "turnkit" is 4 + 8.
  t.equal(out.data.length, bare.length + 12 + 12 + 12, 'request + two address attributes + SOFTWARE');
  const off = response(run(bare, { software: null }));
  t.equal(getAttribute(off, AttributeType.Software), undefined, 'software: null sends none');
  const long = response(run(bare, { software: 'x'.repeat(200) }));
  t.equal(getAttribute(long, AttributeType.Software)?.value.length, SOFTWARE_MAX_BYTES, 'SOFTWARE is capped');
});

t.test('RFC 3489 answers pad SOFTWARE inside its value to a multiple of 4', async (t) => {
  const m = response(run(request([], { cookie: 0x01020304 }), plain));
  const sw = getAttribute(m, AttributeType.Software)!;
  t.equal(sw.value.length % 4, 0);
  t.equal(sw.value.toString(), 'turnkit ');
});

t.test('unknown comprehension-required attributes get 420 listing each once; optional ones are ignored', async (t) => {
  const m = response(
    run(
      request([
        { type: 0x0033, value: Buffer.alloc(4) },
        { type: 0x7fff, value: Buffer.alloc(0) },
        { type: 0x0033, value: Buffer.alloc(4) },
        { type: 0xc001, value: Buffer.alloc(4) },
      ]),
      plain,
    ),
  );
  t.equal(m.cls, MessageClass.ErrorResponse);
  t.equal(decodeErrorCode(getAttribute(m, AttributeType.ErrorCode)!.value)?.code, ErrorCode.UnknownAttribute);
  t.same(decodeUnknownAttributes(getAttribute(m, AttributeType.UnknownAttributes)!.value), [0x0033, 0x7fff]);
  const ok = response(run(request([{ type: 0xc001, value: Buffer.alloc(4) }]), plain));
  t.equal(ok.cls, MessageClass.SuccessResponse, 'an unknown optional attribute alone is ignored');
});

t.test('an unknown attribute after MESSAGE-INTEGRITY is ignored (RFC 8489 §14.5)', async (t) => {
  const data = request([
    { type: AttributeType.MessageIntegrity, value: Buffer.alloc(20) },
    { type: 0x0033, value: Buffer.alloc(4) },
  ]);
  t.equal(response(run(data, plain)).cls, MessageClass.SuccessResponse);
});

t.test('CHANGE-REQUEST without an alternate address gets 420 naming CHANGE-REQUEST (RFC 5780 §6.1)', async (t) => {
  const m = response(run(request([{ type: AttributeType.ChangeRequest, value: encodeChangeRequest({ changeIp: true, changePort: false }) }]), plain));
  t.equal(decodeErrorCode(getAttribute(m, AttributeType.ErrorCode)!.value)?.code, 420);
  t.same(decodeUnknownAttributes(getAttribute(m, AttributeType.UnknownAttributes)!.value), [AttributeType.ChangeRequest]);
});

t.test('CHANGE-REQUEST with no flags set is answered normally', async (t) => {
  const out = run(request([{ type: AttributeType.ChangeRequest, value: encodeChangeRequest({ changeIp: false, changePort: false }) }]), plain);
  t.equal(response(out).cls, MessageClass.SuccessResponse);
});

t.test('malformed CHANGE-REQUEST gets 400', async (t) => {
  const m = response(run(request([{ type: AttributeType.ChangeRequest, value: Buffer.alloc(2) }]), rfc5780));
  t.equal(decodeErrorCode(getAttribute(m, AttributeType.ErrorCode)!.value)?.code, 400);
});

for (const [changeIp, changePort, role] of [
  [false, false, 'primary'],
  [true, false, 'alt-ip'],
  [false, true, 'alt-port'],
  [true, true, 'alt-both'],
] as const) {
  t.test(`RFC 5780: change-ip=${changeIp} change-port=${changePort} answers from ${role}`, async (t) => {
    const out = run(request([{ type: AttributeType.ChangeRequest, value: encodeChangeRequest({ changeIp, changePort }) }]), rfc5780);
    const m = response(out);
    t.match(out, { from: role, to: CLIENT });
    t.same(decodeAddress(getAttribute(m, AttributeType.ResponseOrigin)!.value), ADDRS[role]);
    t.same(decodeAddress(getAttribute(m, AttributeType.OtherAddress)!.value), ADDRS['alt-both'], 'OTHER-ADDRESS is relative to where the request arrived');
    t.same(decodeAddress(getAttribute(m, AttributeType.MappedAddress)!.value), CLIENT, 'a NAT-discovery server also sends MAPPED-ADDRESS (ALG detection)');
  });
}

t.test('RFC 5780: a request that arrived on alt-both names primary as OTHER-ADDRESS; change-port goes to alt-ip', async (t) => {
  const out = run(request([{ type: AttributeType.ChangeRequest, value: encodeChangeRequest({ changeIp: false, changePort: true }) }]), rfc5780, { role: 'alt-both', local: ADDRS['alt-both'] });
  const m = response(out);
  t.match(out, { from: 'alt-ip' });
  t.same(decodeAddress(getAttribute(m, AttributeType.OtherAddress)!.value), ADDRS.primary);
});

t.test('RFC 5780 belongs to the four sockets it names: another listener, family or TLS answers as a one-address server', async (t) => {
  const v6Local: TransportAddress = { family: 'IPv6', address: '2001:db8::10', port: 3478 };
  const v6Client: TransportAddress = { family: 'IPv6', address: '2001:db8::2', port: 5000 };
  const tlsLocal: TransportAddress = { ...ADDRS.primary, port: 5349 };
  const elsewhere: Array<[string, Partial<StunRequestEvent>, TransportAddress | undefined]> = [
    ['an IPv6 listener', { source: v6Client, local: v6Local }, v6Local],
    ['a TLS listener on the primary IP', { transport: 'tls', local: tlsLocal }, tlsLocal],
    ['TLS on the primary address itself', { transport: 'tls' }, ADDRS.primary],
    ['a wildcard listener', { local: undefined }, undefined],
  ];
  const change = { type: AttributeType.ChangeRequest, value: encodeChangeRequest({ changeIp: true, changePort: true }) };
  for (const [name, over, origin] of elsewhere) {
    const m = response(run(request(), rfc5780, over));
    const ro = getAttribute(m, AttributeType.ResponseOrigin);
    t.same(ro && decodeAddress(ro.value), origin, `${name}: RESPONSE-ORIGIN is its own address`);
    t.equal(getAttribute(m, AttributeType.OtherAddress), undefined, `${name}: no OTHER-ADDRESS`);
    t.equal(getAttribute(m, AttributeType.MappedAddress), undefined, `${name}: no discovery-mode MAPPED-ADDRESS`);
    const e = run(request([change]), rfc5780, over);
    t.match(e, { kind: 'respond', result: 'error', from: 'primary' }, `${name}: CHANGE-REQUEST is not answered from elsewhere`);
    t.equal(decodeErrorCode(getAttribute(response(e), AttributeType.ErrorCode)!.value)?.code, 420, `${name}: CHANGE-REQUEST gets 420`);
  }
  const tcp = response(run(request(), rfc5780, { transport: 'tcp' }));
  t.same(decodeAddress(getAttribute(tcp, AttributeType.OtherAddress)!.value), ADDRS['alt-both'], 'control: TCP on the primary socket still names OTHER-ADDRESS');
});

t.test('RESPONSE-PORT with PADDING gets 400, answered to the requester (RFC 5780 §6.1)', async (t) => {
  const data = request([{ type: AttributeType.ResponsePort, value: encodeResponsePort(41000) }, { type: AttributeType.Padding, value: Buffer.alloc(400) }]);
  const out = run(data, rfc5780);
  t.match(out, { kind: 'respond', result: 'error', to: CLIENT });
  t.equal(decodeErrorCode(getAttribute(response(out), AttributeType.ErrorCode)!.value)?.code, 400);
});

t.test('CHANGE-REQUEST over TCP cannot be honoured: 420', async (t) => {
  const m = response(run(request([{ type: AttributeType.ChangeRequest, value: encodeChangeRequest({ changeIp: true, changePort: true }) }]), rfc5780, { transport: 'tcp' }));
  t.equal(decodeErrorCode(getAttribute(m, AttributeType.ErrorCode)!.value)?.code, 420);
});

t.test('RESPONSE-PORT redirects the response to the same IP, another port (UDP only)', async (t) => {
  const data = request([{ type: AttributeType.ResponsePort, value: encodeResponsePort(41000) }]);
  t.match(run(data, rfc5780), { kind: 'respond', to: { address: CLIENT.address, port: 41000 } });
  t.match(run(data, rfc5780, { transport: 'tcp' }), { kind: 'respond', to: CLIENT }, 'ignored over TCP');
  t.match(run(request([{ type: AttributeType.ResponsePort, value: encodeResponsePort(0) }]), rfc5780), { kind: 'drop', reason: 'response-port-unusable' });
  const bad = response(run(request([{ type: AttributeType.ResponsePort, value: Buffer.alloc(2) }]), rfc5780));
  t.equal(decodeErrorCode(getAttribute(bad, AttributeType.ErrorCode)!.value)?.code, 400);
});

t.test('PADDING pads the response as far as the request was padded, not further', async (t) => {
  const data = request([{ type: AttributeType.Padding, value: Buffer.alloc(400) }]);
  const out = run(data, rfc5780);
  const m = response(out);
  const pad = getAttribute(m, AttributeType.Padding);
  t.ok(pad, 'response has PADDING');
  if (out.kind !== 'respond') return;
  t.ok(out.data.length >= data.length - 4, `response ${out.data.length} B is about the request's ${data.length} B`);
  t.ok(out.data.length <= data.length + 4 * 12, 'never more than the request plus the four address attributes');
});

t.test('RFC 3489 request (no magic cookie) gets MAPPED, SOURCE and CHANGED-ADDRESS and its 16-byte ID back', async (t) => {
  const data = request([], { cookie: 0xdeadbeef });
  const out = run(data, rfc5780);
  const m = response(out);
  t.equal(m.cookie, 0xdeadbeef, 'the first 4 bytes of the classic transaction ID are echoed');
  t.ok(m.transactionId.equals(TXID));
  t.same(decodeAddress(getAttribute(m, AttributeType.MappedAddress)!.value), CLIENT);
  t.same(decodeAddress(getAttribute(m, AttributeType.SourceAddress)!.value), ADDRS.primary);
  t.same(decodeAddress(getAttribute(m, AttributeType.ChangedAddress)!.value), ADDRS['alt-both']);
  t.equal(getAttribute(m, AttributeType.XorMappedAddress), undefined);
});

t.test('not answered: indications, responses, malformed bytes, ChannelData', async (t) => {
  t.match(run(request([], { cls: MessageClass.Indication }), plain), { kind: 'indication', method: Method.Binding });
  t.match(run(request([], { cls: MessageClass.SuccessResponse }), plain), { kind: 'drop', reason: 'unexpected-class' });
  t.match(run(request([], { cls: MessageClass.ErrorResponse }), plain), { kind: 'drop', reason: 'unexpected-class' });
  t.match(run(Buffer.from('40000003616263', 'hex'), plain), { kind: 'drop', reason: 'channel-data' });
  t.match(run(Buffer.alloc(10), plain), { kind: 'drop', reason: 'too-short' });
  const lying = request();
  lying.writeUInt16BE(400, 2);
  t.match(run(lying, plain), { kind: 'drop', reason: 'bad-length' });
  const badFp = request([], { fingerprint: true });
  badFp[badFp.length - 1]! ^= 1;
  t.match(run(badFp, plain), { kind: 'drop', reason: 'bad-fingerprint' });
  t.match(run(Buffer.alloc(0), plain), { kind: 'drop', reason: 'too-short' });
});

t.test('a request for a method this server does not serve gets 400', async (t) => {
  const m = response(run(request([], { method: Method.Allocate }), plain));
  t.equal(m.method, Method.Allocate);
  t.equal(decodeErrorCode(getAttribute(m, AttributeType.ErrorCode)!.value)?.code, 400);
});

t.test('the responder never throws on mutated real requests', async (t) => {
  const base = request([
    { type: AttributeType.ChangeRequest, value: encodeChangeRequest({ changeIp: true, changePort: true }) },
    { type: AttributeType.XorMappedAddress, value: encodeXorAddress(CLIENT, TXID) },
    { type: AttributeType.Padding, value: Buffer.alloc(16) },
  ], { fingerprint: true });
  // A flip inside the CRC-covered bytes must be dropped; flips that turn the FINGERPRINT type into
  // another attribute leave a valid unfingerprinted message, which gets a well-formed answer.
  let answered = 0;
  for (let i = 0; i < base.length; i++) {
    for (const bit of [0x01, 0x80]) {
      const copy = Buffer.from(base);
      copy[i]! ^= bit;
      const out = run(copy, rfc5780);
      if (out.kind !== 'respond') continue;
      answered++;
      const fpTypeOffset = base.length - 8;
      t.ok(i === fpTypeOffset || i === fpTypeOffset + 1, `only a flip in the FINGERPRINT type is answered (byte ${i})`);
      t.ok(response(out).transactionId.equals(TXID));
    }
  }
  t.ok(answered <= 4);
});

t.test('the ECHO diagnostic attribute comes back unchanged; an oversized one is ignored', async (t) => {
  const value = Buffer.from('0001c0a80102', 'hex');
  const m = response(run(request([{ type: ECHO_ATTRIBUTE, value }]), plain));
  t.ok(getAttribute(m, ECHO_ATTRIBUTE)?.value.equals(value));
  const big = response(run(request([{ type: ECHO_ATTRIBUTE, value: Buffer.alloc(ECHO_MAX_BYTES + 4) }]), plain));
  t.equal(getAttribute(big, ECHO_ATTRIBUTE), undefined);
  t.equal(big.cls, MessageClass.SuccessResponse, 'an optional attribute never causes an error');
});
