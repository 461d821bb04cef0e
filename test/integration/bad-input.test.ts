/**
 * UDP edge cases against the in-process server: malformed datagrams are dropped silently and
 * counted, unknown attributes get 420, FINGERPRINT rules, response size and SOFTWARE, and the
 * RFC 5780 / RFC 3489 behaviour with an alternate address (CHANGE-REQUEST, OTHER-ADDRESS,
 * RESPONSE-ORIGIN, RESPONSE-PORT, PADDING, MAPPED/SOURCE/CHANGED-ADDRESS).
 * What coturn does with the same requests is in README.md ("Raw answers of coturn").
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { getAttribute } from '../../src/stun/message.js';
import { isComprehensionRequired } from '../../src/stun/constants.js';
import { decodeErrorCode } from '../../src/stun/attributes/error-code.js';
import { decodeUnknownAttributes } from '../../src/stun/attributes/unknown-attributes.js';
import { encodeChangeRequest, encodeResponsePort } from '../../src/stun/attributes/nat-behavior.js';
import {
  AttributeType,
  MessageClass,
  Method,
  attrTypes,
  bindingRequest,
  canBindAltLoopback,
  canBindIpv6Loopback,
  freePortRange,
  counterSum,
  hasMetric,
  metricsJson,
  hostPort,
  mustDecode,
  plainAddress,
  rfc3489BindingRequest,
  startTurnkit,
  startTurnkitRfc5780,
  UdpClient,
  waitForCounter,
  xorMapped,
  type RunningServer,
  type StunMessage,
} from './lib.js';

t.setTimeout(120_000);

const DROPPED = 'turnkit_stun_dropped_total';
const RELAY_DROPPED = 'turnkit_relay_dropped_total';
const REQUESTS = 'turnkit_stun_requests_total';
const ALT_OK = await canBindAltLoopback();
const IPV6_OK = await canBindIpv6Loopback();
const needAlt = ALT_OK ? false : '127.0.0.2 cannot be bound on this host (RFC 5780 needs a second loopback IP)';
const NO_ANSWER_MS = 400;

const udpPort = (s: RunningServer, address = '127.0.0.1'): number => {
  const l = s.listeners.find((x) => x.transport === 'udp' && x.address === address);
  if (!l) throw new Error(`no UDP listener on ${address}: ${JSON.stringify(s.listeners)}`);
  return l.port;
};

const changeRequest = (changeIp: boolean, changePort: boolean) => ({
  type: AttributeType.ChangeRequest,
  value: encodeChangeRequest({ changeIp, changePort }),
});

function errorCode(m: StunMessage): number | undefined {
  const a = getAttribute(m, AttributeType.ErrorCode);
  return a ? decodeErrorCode(a.value)?.code : undefined;
}

function unknownList(m: StunMessage): number[] | undefined {
  const a = getAttribute(m, AttributeType.UnknownAttributes);
  return a ? decodeUnknownAttributes(a.value) : undefined;
}

// ---------------------------------------------------------------------------------------------

t.test('malformed datagrams: no answer, counted in turnkit_stun_dropped_total, server keeps answering', async (tt) => {
  const server = await startTurnkit(tt, { listen: [{ host: '127.0.0.1', port: 0 }] });
  const port = udpPort(server);
  const c = await UdpClient.open(tt);
  tt.equal(typeof (server.metrics as { getMetricsAsJSON?: unknown }).getMetricsAsJSON, 'function',
    'contract: startServer().metrics is the prom-client Registry (getMetricsAsJSON/metrics)');
  tt.ok(await hasMetric(server.metrics, DROPPED), `${DROPPED} is registered`);

  const valid = bindingRequest();
  const lyingLength = Buffer.from(valid);
  lyingLength.writeUInt16BE(100, 2); // claims 100 bytes of attributes, has none
  const lyingShort = bindingRequest([{ type: 0x8033, value: Buffer.alloc(8) }]);
  lyingShort.writeUInt16BE(4, 2); // claims fewer bytes than it has
  const attrOverrun = bindingRequest([{ type: 0x8033, value: Buffer.alloc(8) }]);
  attrOverrun.writeUInt16BE(200, 22); // attribute says 200 bytes inside a 12-byte body
  const notMultipleOf4 = Buffer.from(valid);
  notMultipleOf4.writeUInt16BE(2, 2);
  const successResponse = Buffer.from(valid);
  successResponse.writeUInt16BE(0x0101, 0); // a Binding success response sent to the server
  const randomJunk = randomBytes(2000);
  randomJunk[0] = 0xff; // never looks like STUN by accident

  const cases: Array<[string, Buffer]> = [
    ['2000 random bytes', randomJunk],
    ['2000 bytes of 0xAB', Buffer.alloc(2000, 0xab)],
    ['truncated header (10 bytes)', valid.subarray(0, 10)],
    ['one byte', Buffer.from([0x00])],
    ['STUN header whose length claims 100 bytes that are not there', lyingLength],
    ['STUN header whose length is shorter than the datagram', lyingShort],
    ['length not a multiple of 4', notMultipleOf4],
    ['attribute length beyond the message', attrOverrun],
    ['a success response (not a request)', successResponse],
  ];
  for (const [name, bytes] of cases) {
    const before = await counterSum(server.metrics, DROPPED, { transport: 'udp' });
    const answer = await c.request(bytes, port, '127.0.0.1', NO_ANSWER_MS);
    tt.equal(answer, undefined, `${name}: no answer`);
    const after = await waitForCounter(server.metrics, DROPPED, { transport: 'udp' }, before + 1);
    tt.equal(after, before + 1, `${name}: ${DROPPED}{transport="udp"} +1`);
  }
  // ChannelData is TURN data-plane traffic: without an allocation it is a relay drop, counted apart.
  const relayBefore = await counterSum(server.metrics, RELAY_DROPPED, { reason: 'no-allocation' });
  const channelData = await c.request(Buffer.from([0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4]), port, '127.0.0.1', NO_ANSWER_MS);
  tt.equal(channelData, undefined, 'ChannelData without an allocation: no answer');
  tt.equal(
    await waitForCounter(server.metrics, RELAY_DROPPED, { reason: 'no-allocation' }, relayBefore + 1),
    relayBefore + 1,
    `ChannelData without an allocation: ${RELAY_DROPPED}{reason="no-allocation"} +1`,
  );

  const all = await metricsJson(server.metrics);
  const dropped = all.find((m) => m.name === DROPPED);
  tt.comment(`dropped counters: ${JSON.stringify(dropped?.values.filter((v) => v.value > 0))}`);
  for (const v of dropped?.values ?? []) {
    tt.ok(typeof v.labels.reason === 'string' && v.labels.reason !== '', `every drop has a reason label (${v.labels.reason})`);
  }

  const req = bindingRequest();
  const ok = await c.request(req, port);
  tt.ok(ok, 'a correct Binding right after is answered');
  if (ok) {
    const m = mustDecode(ok.msg);
    tt.equal(m.cls, MessageClass.SuccessResponse, 'success');
    tt.same(xorMapped(m), { family: 'IPv4', ...c.address }, 'XOR-MAPPED-ADDRESS = client');
  }
  tt.ok((await counterSum(server.metrics, REQUESTS, { transport: 'udp' })) >= 1, `${REQUESTS}{transport="udp"} counts the answered request`);
});

t.test('unknown comprehension-required attribute → 420 with UNKNOWN-ATTRIBUTES; unknown optional ones are ignored', async (tt) => {
  const server = await startTurnkit(tt, { listen: [{ host: '127.0.0.1', port: 0 }] });
  const port = udpPort(server);
  const c = await UdpClient.open(tt);

  const req = bindingRequest([{ type: 0x0033, value: Buffer.alloc(4) }]);
  const r = await c.request(req, port);
  tt.ok(r, 'answered');
  if (r) {
    const m = mustDecode(r.msg);
    tt.equal(m.cls, MessageClass.ErrorResponse, 'an error response');
    tt.equal(m.method, Method.Binding, 'for Binding');
    tt.ok(r.msg.subarray(8, 20).equals(req.subarray(8, 20)), 'same transaction ID');
    tt.equal(errorCode(m), 420, 'ERROR-CODE 420');
    tt.same(unknownList(m), [0x0033], 'UNKNOWN-ATTRIBUTES = [0x0033]');
    tt.notOk(getAttribute(m, AttributeType.XorMappedAddress), 'no XOR-MAPPED-ADDRESS in the error');
  }

  const two = await c.request(bindingRequest([{ type: 0x0033, value: Buffer.alloc(4) }, { type: 0x7ffe, value: Buffer.alloc(1) }], { fingerprint: true }), port);
  tt.ok(two, 'two unknown attributes: answered');
  if (two) {
    const m = mustDecode(two.msg);
    tt.same([...(unknownList(m) ?? [])].sort((a, b) => a - b), [0x0033, 0x7ffe], 'UNKNOWN-ATTRIBUTES lists both');
    tt.equal(m.attributes.at(-1)?.type, AttributeType.Fingerprint, 'error response carries FINGERPRINT as the request did');
  }

  const opt = await c.request(bindingRequest([{ type: 0x8033, value: Buffer.alloc(4) }]), port);
  tt.ok(opt, 'unknown optional 0x8033: answered');
  if (opt) tt.equal(mustDecode(opt.msg).cls, MessageClass.SuccessResponse, 'unknown optional 0x8033: success (ignored)');
});

t.test('unknown methods → 400, and they all count under method="other": no label per method number', async (tt) => {
  // TURN on, so that requests also reach the TURN engine's error and duration metrics.
  const server = await startTurnkit(tt, { listen: [{ host: '127.0.0.1', port: 0 }], users: { u: 'p' }, realm: 'example.org' });
  const port = udpPort(server);
  const c = await UdpClient.open(tt);
  const known = new Set<string>([...Object.keys(Method), 'other']);
  // RFC 8489 §5: the 12 method bits are split around the two class bits (C0 at bit 4, C1 at bit 8).
  const requestType = (method: number): number => (method & 0x00f) | ((method & 0x070) << 1) | ((method & 0xf80) << 2);
  const methods = Array.from({ length: 40 }, (_, i) => 0x100 + i * 37);
  for (const method of methods) {
    const req = bindingRequest();
    req.writeUInt16BE(requestType(method), 0);
    const r = await c.request(req, port);
    const m = r && mustDecode(r.msg);
    tt.ok(m && m.method === method && m.cls === MessageClass.ErrorResponse && errorCode(m) === 400, `method 0x${method.toString(16)}: 400`);
  }
  tt.equal(await counterSum(server.metrics, REQUESTS, { method: 'other', result: 'error' }), methods.length, `${REQUESTS}{method="other",result="error"} counts all ${methods.length}`);
  for (const name of [REQUESTS, 'turnkit_errors_total', 'turnkit_request_duration_seconds']) {
    const metric = (await metricsJson(server.metrics)).find((m) => m.name === name);
    const labels = new Set((metric?.values ?? []).map((v) => String(v.labels.method)).filter((l) => l !== 'undefined'));
    tt.ok(labels.has('other'), `${name} has method="other"`);
    tt.same([...labels].filter((l) => !known.has(l)), [], `${name}: every method label is a known method or "other"`);
  }
});

t.test('FINGERPRINT: bad one → no answer (counted); present iff the request had one', async (tt) => {
  const server = await startTurnkit(tt, { listen: [{ host: '127.0.0.1', port: 0 }] });
  const port = udpPort(server);
  const c = await UdpClient.open(tt);

  const bad = bindingRequest([], { fingerprint: true });
  bad[bad.length - 1]! ^= 0x01;
  const before = await counterSum(server.metrics, DROPPED, { transport: 'udp' });
  tt.equal(await c.request(bad, port, '127.0.0.1', NO_ANSWER_MS), undefined, 'bad FINGERPRINT: no answer');
  tt.equal(await waitForCounter(server.metrics, DROPPED, { transport: 'udp' }, before + 1), before + 1, 'bad FINGERPRINT: counted as dropped');

  const notLast = bindingRequest([{ type: 0x8033, value: Buffer.alloc(4) }], { fingerprint: true });
  // Move FINGERPRINT before the other attribute: [FP][0x8033] — FINGERPRINT must be last.
  const body = Buffer.concat([notLast.subarray(32, 40), notLast.subarray(20, 32)]);
  const reordered = Buffer.concat([notLast.subarray(0, 20), body]);
  tt.equal(await c.request(reordered, port, '127.0.0.1', NO_ANSWER_MS), undefined, 'FINGERPRINT not last: no answer');

  const without = await c.request(bindingRequest(), port);
  tt.ok(without, 'request without FINGERPRINT answered');
  if (without) tt.notOk(attrTypes(mustDecode(without.msg)).includes(AttributeType.Fingerprint), 'response without FINGERPRINT');

  const withFp = await c.request(bindingRequest([], { fingerprint: true }), port);
  tt.ok(withFp, 'request with FINGERPRINT answered');
  if (withFp) {
    const types = attrTypes(mustDecode(withFp.msg)); // mustDecode checks the CRC
    tt.equal(types.at(-1), AttributeType.Fingerprint, 'response ends with a valid FINGERPRINT');
    tt.equal(types.filter((x) => x === AttributeType.Fingerprint).length, 1, 'exactly one FINGERPRINT');
  }
});

t.test('response to an unauthenticated Binding: bounded size, expected attributes, SOFTWARE', async (tt) => {
  const server = await startTurnkit(tt, { listen: [{ host: '127.0.0.1', port: 0 }] });
  const port = udpPort(server);
  const c = await UdpClient.open(tt);
  const allowed = new Set<number>([
    AttributeType.XorMappedAddress, AttributeType.MappedAddress, AttributeType.ResponseOrigin,
    AttributeType.OtherAddress, AttributeType.Software, AttributeType.Fingerprint,
  ]);
  for (const fingerprint of [false, true]) {
    const req = bindingRequest([], { fingerprint });
    const r = await c.request(req, port);
    tt.ok(r, `answered (fingerprint ${fingerprint})`);
    if (!r) continue;
    const m = mustDecode(r.msg);
    tt.comment(`request ${req.length} bytes → response ${r.msg.length} bytes, attributes ${attrTypes(m).map((x) => '0x' + x.toString(16)).join(' ')}`);
    for (const type of attrTypes(m)) tt.ok(allowed.has(type), `attribute 0x${type.toString(16)} is one a Binding response carries`);
    const software = getAttribute(m, AttributeType.Software);
    // Request + the four IPv4 address attributes (12 bytes each) + SOFTWARE of at most 128 bytes.
    const bound = req.length + 4 * 12 + 4 + 128;
    tt.ok(r.msg.length <= bound, `response ${r.msg.length} bytes <= ${bound} (request + address attributes + SOFTWARE)`);
    tt.ok(software, `SOFTWARE present (contract: "SOFTWARE unless --no-software"; fingerprint ${fingerprint})`);
    tt.same(xorMapped(m), { family: 'IPv4', ...c.address }, 'XOR-MAPPED-ADDRESS = client');
  }
});

t.test('--no-software (software: null): no SOFTWARE attribute', async (tt) => {
  const server = await startTurnkit(tt, { listen: [{ host: '127.0.0.1', port: 0 }], software: null });
  const port = udpPort(server);
  const c = await UdpClient.open(tt);
  // A big request too, so that no size budget can be why SOFTWARE is missing.
  for (const req of [bindingRequest(), bindingRequest([{ type: 0x8033, value: Buffer.alloc(400) }], { fingerprint: true })]) {
    const r = await c.request(req, port);
    tt.ok(r, `answered (${req.length}-byte request)`);
    if (r) tt.notOk(attrTypes(mustDecode(r.msg)).includes(AttributeType.Software), `no SOFTWARE (${req.length}-byte request)`);
  }
});

t.test('without --alt-address: CHANGE-REQUEST → 420 listing it, no OTHER-ADDRESS', async (tt) => {
  const server = await startTurnkit(tt, { listen: [{ host: '127.0.0.1', port: 0 }] });
  const port = udpPort(server);
  const c = await UdpClient.open(tt);
  for (const [ip, p] of [[true, false], [false, true], [true, true]] as const) {
    const name = `change ip=${ip} port=${p}`;
    const r = await c.request(bindingRequest([changeRequest(ip, p)]), port);
    tt.ok(r, `${name}: answered`);
    if (!r) continue;
    tt.same(r.from, { address: '127.0.0.1', port }, `${name}: from the socket it was sent to`);
    const m = mustDecode(r.msg);
    tt.equal(m.cls, MessageClass.ErrorResponse, `${name}: error response`);
    tt.equal(errorCode(m), 420, `${name}: 420`);
    tt.same(unknownList(m), [AttributeType.ChangeRequest], `${name}: UNKNOWN-ATTRIBUTES = [CHANGE-REQUEST] (RFC 8489 §6.3.1.1)`);
    tt.notOk(getAttribute(m, AttributeType.OtherAddress), `${name}: no OTHER-ADDRESS`);
  }
  const plain = await c.request(bindingRequest(), port);
  tt.ok(plain, 'plain request answered');
  if (plain) tt.notOk(getAttribute(mustDecode(plain.msg), AttributeType.OtherAddress), 'no OTHER-ADDRESS without an alternate address');
  // CHANGE-REQUEST with neither flag set asks for nothing: a normal answer.
  const none = await c.request(bindingRequest([changeRequest(false, false)]), port);
  tt.ok(none && mustDecode(none.msg).cls === MessageClass.SuccessResponse, 'CHANGE-REQUEST with no flags: success');
});

// ---------------------------------------------------------------------------------------------
// RFC 5780 with an alternate address

t.test('RFC 5780 (--alt-address 127.0.0.2): CHANGE-REQUEST, OTHER-ADDRESS, RESPONSE-ORIGIN', { skip: needAlt }, async (tt) => {
  const { port: P } = await startTurnkitRfc5780(tt);
  const c = await UdpClient.open(tt);
  const cases: Array<[string, boolean, boolean, string]> = [
    ['no change', false, false, `127.0.0.1:${P}`],
    ['change ip', true, false, `127.0.0.2:${P}`],
    ['change port', false, true, `127.0.0.1:${P + 1}`],
    ['change ip+port', true, true, `127.0.0.2:${P + 1}`],
  ];
  for (const [name, ip, p, expectFrom] of cases) {
    const req = bindingRequest(ip || p ? [changeRequest(ip, p)] : []);
    const r = await c.request(req, P);
    tt.ok(r, `${name}: answered`);
    if (!r) continue;
    const m = mustDecode(r.msg);
    tt.equal(m.cls, MessageClass.SuccessResponse, `${name}: success`);
    tt.equal(hostPort(r.from), expectFrom, `${name}: the datagram comes from ${expectFrom}`);
    tt.equal(hostPort(plainAddress(m, AttributeType.ResponseOrigin)), expectFrom, `${name}: RESPONSE-ORIGIN = ${expectFrom}`);
    tt.equal(hostPort(plainAddress(m, AttributeType.OtherAddress)), `127.0.0.2:${P + 1}`, `${name}: OTHER-ADDRESS = 127.0.0.2:${P + 1}`);
    tt.same(xorMapped(m), { family: 'IPv4', ...c.address }, `${name}: XOR-MAPPED-ADDRESS = client`);
  }
  // Requests sent to the other three sockets: each answers from itself; OTHER-ADDRESS is the
  // address a change ip+port would answer from (RFC 5780 §7.4), i.e. the diagonal socket.
  const others: Array<[string, number, string]> = [
    ['127.0.0.2', P, `127.0.0.1:${P + 1}`],
    ['127.0.0.1', P + 1, `127.0.0.2:${P}`],
    ['127.0.0.2', P + 1, `127.0.0.1:${P}`],
  ];
  for (const [host, port, other] of others) {
    const r = await c.request(bindingRequest(), port, host);
    const name = `sent to ${host}:${port}`;
    tt.ok(r, `${name}: answered`);
    if (!r) continue;
    const m = mustDecode(r.msg);
    tt.equal(hostPort(r.from), `${host}:${port}`, `${name}: answered from that socket`);
    tt.equal(hostPort(plainAddress(m, AttributeType.ResponseOrigin)), `${host}:${port}`, `${name}: RESPONSE-ORIGIN`);
    tt.equal(hostPort(plainAddress(m, AttributeType.OtherAddress)), other, `${name}: OTHER-ADDRESS = ${other} (coturn says 127.0.0.2:P+1 here; RFC 5780 §7.4)`);
  }
});

t.test('RFC 5780 belongs to its four IPv4 sockets: an IPv6 listener names itself and refuses CHANGE-REQUEST', { skip: needAlt || (IPV6_OK ? false : '::1 cannot be bound on this host') }, async (tt) => {
  const P = await freePortRange(['127.0.0.1', '127.0.0.2'], 2);
  const server = await startTurnkit(tt, {
    listen: [{ host: '127.0.0.1', port: P }, { host: '::1', port: 0 }],
    altAddress: '127.0.0.2',
    altPort: P + 1,
  });
  const P6 = udpPort(server, '::1');
  const c = await UdpClient.open(tt, '::1');
  const r = await c.request(bindingRequest(), P6, '::1');
  tt.ok(r, 'IPv6 Binding answered');
  if (r) {
    const m = mustDecode(r.msg);
    tt.equal(hostPort(plainAddress(m, AttributeType.ResponseOrigin)), `::1:${P6}`, 'RESPONSE-ORIGIN is the IPv6 socket itself');
    tt.equal(getAttribute(m, AttributeType.OtherAddress), undefined, 'no OTHER-ADDRESS: there is no IPv6 alternate address');
    tt.equal(getAttribute(m, AttributeType.MappedAddress), undefined, 'no discovery-mode MAPPED-ADDRESS');
  }
  for (const [name, ip, port] of [['change ip+port', true, true], ['change port', false, true], ['change ip', true, false]] as const) {
    const e = await c.request(bindingRequest([changeRequest(ip, port)]), P6, '::1');
    const m = e && mustDecode(e.msg);
    tt.ok(m && m.cls === MessageClass.ErrorResponse && errorCode(m) === 420, `IPv6 ${name}: 420 (RFC 5780 §6.1), not a success from the same socket`);
    if (e) tt.equal(hostPort(e.from), `::1:${P6}`, `IPv6 ${name}: answered from the socket asked`);
  }
  // Control: the IPv4 primary still does discovery.
  const c4 = await UdpClient.open(tt);
  const r4 = await c4.request(bindingRequest([changeRequest(true, true)]), P);
  tt.equal(r4 && hostPort(r4.from), `127.0.0.2:${P + 1}`, 'IPv4 change ip+port: answered from 127.0.0.2:P+1');
  tt.equal(r4 && hostPort(plainAddress(mustDecode(r4.msg), AttributeType.OtherAddress)), `127.0.0.2:${P + 1}`, 'IPv4: OTHER-ADDRESS');
});

t.test('RFC 5780 RESPONSE-PORT: the answer goes to the client IP at that port', { skip: needAlt }, async (tt) => {
  const { port: P } = await startTurnkitRfc5780(tt);
  const sender = await UdpClient.open(tt);
  const receiver = await UdpClient.open(tt);
  const req = bindingRequest([{ type: AttributeType.ResponsePort, value: encodeResponsePort(receiver.address.port) }]);
  sender.send(req, P);
  const got = await receiver.next(1000);
  tt.ok(got, `answer arrived on the RESPONSE-PORT socket (${receiver.address.port})`);
  if (got) {
    const m = mustDecode(got.msg);
    tt.ok(got.msg.subarray(8, 20).equals(req.subarray(8, 20)), 'same transaction ID');
    tt.equal(hostPort(got.from), `127.0.0.1:${P}`, 'from the socket the request went to');
    tt.same(xorMapped(m), { family: 'IPv4', ...sender.address }, 'XOR-MAPPED-ADDRESS = the sending socket, not the RESPONSE-PORT');
  }
  tt.same(await sender.drain(200), [], 'nothing sent to the requesting socket');
  // Combined with CHANGE-REQUEST, as turnutils_stunclient does.
  const req2 = bindingRequest([{ type: AttributeType.ResponsePort, value: encodeResponsePort(receiver.address.port) }, changeRequest(true, true)]);
  sender.send(req2, P);
  const got2 = await receiver.next(1000);
  tt.ok(got2, 'RESPONSE-PORT + change ip+port: answered on the RESPONSE-PORT socket');
  if (got2) tt.equal(hostPort(got2.from), `127.0.0.2:${P + 1}`, 'from 127.0.0.2:P+1');
  // RFC 5780 §6.1: PADDING together with RESPONSE-PORT is a 400, sent to the requester, never padded elsewhere.
  const req3 = bindingRequest([{ type: AttributeType.ResponsePort, value: encodeResponsePort(receiver.address.port) }, { type: AttributeType.Padding, value: Buffer.alloc(512) }]);
  const r3 = await sender.request(req3, P);
  const m3 = r3 && mustDecode(r3.msg);
  tt.ok(m3 && m3.cls === MessageClass.ErrorResponse && errorCode(m3) === 400, 'RESPONSE-PORT + PADDING: 400 to the requesting socket');
  tt.ok(r3 && r3.msg.length <= req3.length, 'the 400 is no larger than the request');
  tt.same(await receiver.drain(200), [], 'nothing sent to the RESPONSE-PORT');
});

t.test('RFC 5780 PADDING: the response carries PADDING and is at least as large as the request', { skip: needAlt }, async (tt) => {
  const { port: P } = await startTurnkitRfc5780(tt);
  const c = await UdpClient.open(tt);
  // RFC 5780 §6.1/§7.6: a request with PADDING gets a response with PADDING, so that both
  // fragment alike (coturn pads to 1500; see README). 1500 is what coturn's tools send.
  const req = bindingRequest([{ type: AttributeType.Padding, value: Buffer.alloc(1500) }], { fingerprint: true });
  const r = await c.request(req, P);
  tt.ok(r, 'answered');
  if (!r) return;
  const m = mustDecode(r.msg);
  tt.comment(`request ${req.length} bytes → response ${r.msg.length} bytes`);
  tt.equal(m.cls, MessageClass.SuccessResponse, 'success');
  tt.ok(getAttribute(m, AttributeType.Padding), 'PADDING attribute present');
  tt.ok(r.msg.length >= req.length, `response (${r.msg.length}) >= request (${req.length}): it fragments like the request`);
  tt.ok(r.msg.length <= req.length + 256, `response (${r.msg.length}) <= request + 256: no amplification`);
  tt.same(xorMapped(m), { family: 'IPv4', ...c.address }, 'XOR-MAPPED-ADDRESS = client');
});

t.test('RFC 3489 request (no magic cookie): MAPPED-ADDRESS, SOURCE-ADDRESS, CHANGED-ADDRESS, 16-byte ID echoed', { skip: needAlt }, async (tt) => {
  const { port: P } = await startTurnkitRfc5780(tt);
  const c = await UdpClient.open(tt);
  const cases: Array<[string, boolean, boolean, string]> = [
    ['plain', false, false, `127.0.0.1:${P}`],
    ['change ip', true, false, `127.0.0.2:${P}`],
    ['change port', false, true, `127.0.0.1:${P + 1}`],
    ['change ip+port', true, true, `127.0.0.2:${P + 1}`],
  ];
  for (const [name, ip, p, from] of cases) {
    const req = rfc3489BindingRequest(ip || p ? [changeRequest(ip, p)] : []);
    const r = await c.request(req, P);
    tt.ok(r, `${name}: answered`);
    if (!r) continue;
    const m = mustDecode(r.msg);
    tt.equal(r.msg.readUInt16BE(0), 0x0101, `${name}: Binding success response`);
    tt.ok(r.msg.subarray(4, 20).equals(req.subarray(4, 20)), `${name}: all 16 bytes of the transaction ID echoed`);
    tt.equal(hostPort(r.from), from, `${name}: sent from ${from}`);
    tt.same(plainAddress(m, AttributeType.MappedAddress), { family: 'IPv4', ...c.address }, `${name}: MAPPED-ADDRESS = client`);
    tt.equal(hostPort(plainAddress(m, AttributeType.SourceAddress)), from, `${name}: SOURCE-ADDRESS = ${from}`);
    tt.ok(plainAddress(m, AttributeType.ChangedAddress), `${name}: CHANGED-ADDRESS present`);
    if (!ip && !p) tt.equal(hostPort(plainAddress(m, AttributeType.ChangedAddress)), `127.0.0.2:${P + 1}`, 'CHANGED-ADDRESS = 127.0.0.2:P+1');
    // RFC 3489 clients reject unknown comprehension-required attributes (vovida stops parsing at
    // one), so XOR-MAPPED-ADDRESS (0x0020) and friends must not be there.
    const required = attrTypes(m).filter(isComprehensionRequired);
    const rfc3489Types: number[] = [AttributeType.MappedAddress, AttributeType.SourceAddress, AttributeType.ChangedAddress];
    tt.same(required.filter((x) => !rfc3489Types.includes(x)), [],
      `${name}: only RFC 3489 comprehension-required attributes (${required.map((x) => '0x' + x.toString(16)).join(' ')})`);
    // RFC 3489 attributes must be multiples of 4 long.
    tt.ok(m.attributes.every((a) => a.value.length % 4 === 0), `${name}: every attribute length is a multiple of 4 (RFC 3489 §11.2)`);
  }
});
