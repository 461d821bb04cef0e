import t from 'tap';
import { AttributeType, MAGIC_COOKIE, MessageClass, Method } from '../../src/stun/constants.js';
import {
  decodeMessage,
  effectiveAttributes,
  encodeMessage,
  fingerprintOf,
  getAttribute,
  hasMagicCookie,
  padded,
  type StunAttribute,
  type StunMessage,
} from '../../src/stun/message.js';
import { verifyMessageIntegrity, verifyMessageIntegritySha256 } from '../../src/stun/integrity.js';
import { attributeOffsets, hex, referenceFingerprint, referenceIntegrity } from './rfc-reference.js';

const TXID = Buffer.from('0102030405060708090a0b0c', 'hex');

/** Hand-assembled message bytes, so decoder tests do not depend on the encoder. */
function raw(type: number, cookie: number, txid: Buffer, attrs: Buffer[], lengthField?: number): Buffer {
  const body = Buffer.concat(attrs);
  const h = Buffer.alloc(20);
  h.writeUInt16BE(type, 0);
  h.writeUInt16BE(lengthField ?? body.length, 2);
  h.writeUInt32BE(cookie >>> 0, 4);
  txid.copy(h, 8);
  return Buffer.concat([h, body]);
}

/** One attribute TLV with explicit padding bytes. */
function tlv(type: number, value: Buffer, pad?: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(type, 0);
  h.writeUInt16BE(value.length, 2);
  return Buffer.concat([h, value, pad ?? Buffer.alloc(padded(value.length) - value.length)]);
}

function msg(attributes: StunAttribute[], method: number = Method.Binding, cls: MessageClass = MessageClass.Request) {
  return { method, cls, cookie: MAGIC_COOKIE, transactionId: TXID, attributes };
}

/** Decodes or throws, which tap reports as a failure of the enclosing test. */
function decodeOk(buf: Buffer): StunMessage {
  const r = decodeMessage(buf);
  if (!r.ok) throw new Error(`expected to decode, got ${r.reason}`);
  return r.message;
}

/** A correct FINGERPRINT appended by the reference code, to build otherwise-valid inputs. */
function withFingerprint(buf: Buffer): Buffer {
  const out = Buffer.concat([buf, Buffer.from([0x80, 0x28, 0, 4, 0, 0, 0, 0])]);
  out.writeUInt16BE(out.length - 20, 2);
  out.writeUInt32BE(referenceFingerprint(out, out.length - 8), out.length - 4);
  return out;
}

const software = tlv(AttributeType.Software, Buffer.from('abc'));

t.test('too-short: anything under the 20-byte header', async (t) => {
  for (let n = 0; n < 20; n++) t.strictSame(decodeMessage(Buffer.alloc(n)), { ok: false, reason: 'too-short' }, `${n}`);
  t.ok(decodeMessage(Buffer.alloc(20)).ok, 'an empty 20-byte Binding request with zero cookie is well formed');
});

t.test('not-stun: the two top bits must be zero (RFC 8489 §6.3)', async (t) => {
  for (const top of [0x4000, 0x8000, 0xc000]) {
    const buf = raw(0x0001 | top, MAGIC_COOKIE, TXID, []);
    t.strictSame(decodeMessage(buf), { ok: false, reason: 'not-stun' }, top.toString(16));
  }
  // 0x3fff is the largest type that is still STUN.
  t.ok(decodeMessage(raw(0x3fff, MAGIC_COOKIE, TXID, [])).ok);
});

t.test('bad-length: length field not a multiple of 4 or not the datagram size', async (t) => {
  const good = raw(0x0001, MAGIC_COOKIE, TXID, [software]);
  t.ok(decodeMessage(good).ok);
  for (const lie of [1, 2, 3, 5, 6, 7, 9, 12, 4, 0, 0xfffc, 0xffff]) {
    if (lie === good.length - 20) continue;
    const b = Buffer.from(good);
    b.writeUInt16BE(lie, 2);
    t.strictSame(decodeMessage(b), { ok: false, reason: 'bad-length' }, `length field ${lie}`);
  }
  // A length field that matches the datagram but is not a multiple of 4 (RFC 8489 §5: the
  // length "MUST contain a multiple of 4"), so the size comparison alone would let it through.
  for (const extra of [1, 2, 3, 5, 7]) {
    const b = Buffer.concat([good, Buffer.alloc(extra)]);
    b.writeUInt16BE(b.length - 20, 2);
    t.strictSame(decodeMessage(b), { ok: false, reason: 'bad-length' }, `length field ${b.length - 20} = datagram`);
  }
  // Datagram longer or shorter than the length field says.
  t.strictSame(decodeMessage(Buffer.concat([good, Buffer.alloc(4)])), { ok: false, reason: 'bad-length' });
  t.strictSame(decodeMessage(good.subarray(0, good.length - 4)), { ok: false, reason: 'bad-length' });
  t.strictSame(decodeMessage(good.subarray(0, good.length - 1)), { ok: false, reason: 'bad-length' });
});

t.test('bad-attribute-length: an attribute runs past the end', async (t) => {
  // SOFTWARE says 9 bytes (12 with padding) but only 8 follow its header.
  const h = Buffer.from([0x80, 0x22, 0x00, 0x09]);
  const buf = raw(0x0001, MAGIC_COOKIE, TXID, [h, Buffer.alloc(8)]);
  t.strictSame(decodeMessage(buf), { ok: false, reason: 'bad-attribute-length' });
  // Value fits but its padding does not: length 5 with 8 bytes left.
  const h2 = Buffer.from([0x80, 0x22, 0x00, 0x05]);
  t.strictSame(decodeMessage(raw(0x0001, MAGIC_COOKIE, TXID, [h2, Buffer.alloc(4)])), {
    ok: false,
    reason: 'bad-attribute-length',
  });
  // An attribute claiming 0xffff bytes must not be trusted (nor allocate).
  const h3 = Buffer.from([0x00, 0x06, 0xff, 0xff]);
  t.strictSame(decodeMessage(raw(0x0001, MAGIC_COOKIE, TXID, [h3])), { ok: false, reason: 'bad-attribute-length' });
  // The same bytes with an honest length decode.
  const ok = decodeOk(raw(0x0001, MAGIC_COOKIE, TXID, [Buffer.from([0x80, 0x22, 0x00, 0x05]), Buffer.alloc(8)]));
  t.equal(ok.attributes[0]!.value.length, 5);
});

t.test('fingerprint-not-last and bad-fingerprint', async (t) => {
  const good = withFingerprint(raw(0x0001, MAGIC_COOKIE, TXID, [software]));
  const m = decodeOk(good);
  t.equal(m.attributes.at(-1)!.type, AttributeType.Fingerprint);

  // FINGERPRINT followed by anything, even a correct-looking one.
  const notLast = Buffer.concat([good, software]);
  notLast.writeUInt16BE(notLast.length - 20, 2);
  t.strictSame(decodeMessage(notLast), { ok: false, reason: 'fingerprint-not-last' });
  const twice = withFingerprint(good);
  t.strictSame(decodeMessage(twice), { ok: false, reason: 'fingerprint-not-last' });

  const wrong = Buffer.from(good);
  wrong[wrong.length - 1]! ^= 0x01;
  t.strictSame(decodeMessage(wrong), { ok: false, reason: 'bad-fingerprint' });
  // The CRC covers the header: a class change is caught.
  const cls = Buffer.from(good);
  cls[1]! ^= 0x10;
  t.strictSame(decodeMessage(cls), { ok: false, reason: 'bad-fingerprint' });
  // A FINGERPRINT that is not 4 bytes is not a FINGERPRINT (RFC 8489 §14.7).
  const long = raw(0x0001, MAGIC_COOKIE, TXID, [software, tlv(AttributeType.Fingerprint, Buffer.alloc(8))]);
  long.writeUInt32BE(referenceFingerprint(long, long.length - 12), long.length - 8);
  t.strictSame(decodeMessage(long), { ok: false, reason: 'bad-fingerprint' });
  const short = raw(0x0001, MAGIC_COOKIE, TXID, [software, tlv(AttributeType.Fingerprint, Buffer.alloc(0))]);
  t.strictSame(decodeMessage(short), { ok: false, reason: 'bad-fingerprint' });

  t.equal(fingerprintOf(good, good.length - 8), good.readUInt32BE(good.length - 4));
  t.equal(fingerprintOf(good, good.length - 8), referenceFingerprint(good, good.length - 8));
});

t.test('decode: fields and attribute views', async (t) => {
  const user = tlv(AttributeType.Username, Buffer.from('evtj:h6vY'), Buffer.from('   '));
  const buf = raw(0x0111, MAGIC_COOKIE, TXID, [software, user, tlv(0x7777, Buffer.alloc(0))]);
  const m = decodeOk(buf);
  t.equal(m.method, Method.Binding);
  t.equal(m.cls, MessageClass.ErrorResponse);
  t.equal(m.cookie, MAGIC_COOKIE);
  t.ok(hasMagicCookie(m));
  t.equal(hex(m.transactionId), hex(TXID));
  t.equal(m.raw, buf);
  t.strictSame(
    m.attributes.map((a) => [a.type, a.value.toString(), a.offset, a.padding ? hex(a.padding) : null]),
    [
      [AttributeType.Software, 'abc', 20, '00'],
      [AttributeType.Username, 'evtj:h6vY', 28, '202020'],
      [0x7777, '', 44, null],
    ],
  );
  // Values are views into the received bytes (no copy): documented in message.ts.
  buf[24] = 0x41;
  t.equal(m.attributes[0]!.value.toString(), 'Abc');
});

t.test('RFC 3489 messages (no magic cookie) decode and re-encode with the 16-byte transaction ID', async (t) => {
  const txid16 = Buffer.from('a1b2c3d4e5f60718293a4b5c6d7e8f90', 'hex');
  // MAPPED-ADDRESS 192.0.2.1:3478, as an RFC 3489 server would send.
  const mapped = tlv(AttributeType.MappedAddress, Buffer.from('00010d96c0000201', 'hex'));
  const h = Buffer.alloc(20);
  h.writeUInt16BE(0x0101, 0);
  h.writeUInt16BE(mapped.length, 2);
  txid16.copy(h, 4);
  const buf = Buffer.concat([h, mapped]);
  const m = decodeOk(buf);
  t.not(m.cookie, MAGIC_COOKIE);
  t.notOk(hasMagicCookie(m));
  t.equal(m.cookie, 0xa1b2c3d4);
  t.equal(hex(m.transactionId), hex(txid16.subarray(4)));
  t.equal(m.method, Method.Binding);
  t.equal(m.cls, MessageClass.SuccessResponse);
  const again = encodeMessage({ ...m, attributes: m.attributes.map((a) => ({ type: a.type, value: a.value })) });
  t.equal(hex(again.subarray(4, 20)), hex(txid16), 'cookie + transaction ID = the old 128-bit ID');
  t.equal(hex(again), hex(buf));
});

t.test('getAttribute: first occurrence, and nothing after MESSAGE-INTEGRITY but MI-SHA256/FINGERPRINT', async (t) => {
  const a = (type: number, v: string): StunAttribute => ({ type, value: Buffer.from(v) });
  const m: StunMessage = {
    ...msg([
      a(AttributeType.Username, 'first'),
      a(AttributeType.Username, 'second'),
      a(AttributeType.MessageIntegrity, 'x'.repeat(20)),
      a(AttributeType.Realm, 'after-mi'),
      a(AttributeType.MessageIntegrity, 'y'.repeat(20)),
      a(AttributeType.MessageIntegritySha256, 'z'.repeat(32)),
      a(AttributeType.Nonce, 'after-sha'),
      a(AttributeType.MessageIntegritySha256, 'w'.repeat(32)),
      a(AttributeType.Fingerprint, 'abcd'),
    ]),
  };
  t.equal(getAttribute(m, AttributeType.Username)?.value.toString(), 'first');
  t.equal(getAttribute(m, AttributeType.MessageIntegrity)?.value.toString(), 'x'.repeat(20));
  t.equal(getAttribute(m, AttributeType.Realm), undefined, 'REALM after MI is ignored');
  t.equal(getAttribute(m, AttributeType.MessageIntegritySha256)?.value.toString(), 'z'.repeat(32));
  t.equal(getAttribute(m, AttributeType.Nonce), undefined, 'NONCE after MI-SHA256 is ignored');
  t.equal(getAttribute(m, AttributeType.Fingerprint)?.value.toString(), 'abcd');
  t.equal(getAttribute(m, AttributeType.Software), undefined);
  t.strictSame(
    [...effectiveAttributes(m)].map((x) => x.value.toString()),
    ['first', 'second', 'x'.repeat(20), 'z'.repeat(32), 'abcd'],
  );

  // Without MI, everything counts.
  const plain = msg([a(AttributeType.Realm, 'r'), a(AttributeType.Nonce, 'n')]);
  t.equal(getAttribute(plain, AttributeType.Nonce)?.value.toString(), 'n');
  // MI-SHA256 alone also cuts off what follows (RFC 8489 §14.6).
  const sha = msg([a(AttributeType.MessageIntegritySha256, 'z'.repeat(32)), a(AttributeType.Realm, 'r')]);
  t.equal(getAttribute(sha, AttributeType.Realm), undefined);
});

t.test('getAttribute on the wire: an attribute appended after MI is ignored and MI still verifies', async (t) => {
  const key = Buffer.from('secret');
  const signed = encodeMessage(msg([{ type: AttributeType.Username, value: Buffer.from('u') }]), { integrity: key });
  const tampered = Buffer.concat([signed, tlv(AttributeType.Realm, Buffer.from('evil'))]);
  tampered.writeUInt16BE(tampered.length - 20, 2);
  const m = decodeOk(tampered);
  t.equal(m.attributes.length, 3, 'decoded, the attribute is there');
  t.equal(getAttribute(m, AttributeType.Realm), undefined, 'but not seen');
  t.ok(verifyMessageIntegrity(m, key));
});

t.test('encodeMessage with integrity + integritySha256 + fingerprint', async (t) => {
  const k1 = Buffer.from('short-term-key');
  const k2 = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
  for (const shaLen of [16, 20, 24, 28, 32, undefined]) {
    const attrs = [
      { type: AttributeType.Username, value: Buffer.from('evtj:h6vY'), padding: Buffer.from('   ') },
      { type: AttributeType.Software, value: Buffer.from('turnkit') },
    ];
    const out = encodeMessage(msg(attrs), {
      integrity: k1,
      integritySha256: k2,
      integritySha256Length: shaLen,
      fingerprint: true,
    });
    const len = shaLen ?? 32;
    t.equal(out.readUInt16BE(2), out.length - 20, 'final length field counts everything');
    const offs = attributeOffsets(out)!;
    t.strictSame(
      offs.map((o) => o.type),
      [
        AttributeType.Username,
        AttributeType.Software,
        AttributeType.MessageIntegrity,
        AttributeType.MessageIntegritySha256,
        AttributeType.Fingerprint,
      ],
      'MI, then MI-SHA256, then FINGERPRINT (RFC 8489 §14.5–14.7)',
    );
    t.equal(hex(out.subarray(33, 36)), '202020', 'given padding is sent');
    const [, , mi, sha, fp] = offs;
    t.equal(sha!.length, len);

    const m = decodeOk(out);
    t.ok(verifyMessageIntegrity(m, k1), `MI (${len})`);
    t.ok(verifyMessageIntegritySha256(m, k2), `MI-SHA256 (${len})`);
    t.notOk(verifyMessageIntegrity(m, k2));
    t.notOk(verifyMessageIntegritySha256(m, k1));

    // And by the RFC text, independently of integrity.ts.
    t.equal(hex(out.subarray(mi!.offset + 4, mi!.offset + 24)), hex(referenceIntegrity(out, mi!.offset, 20, 'sha1', k1)));
    t.equal(
      hex(out.subarray(sha!.offset + 4, sha!.offset + 4 + len)),
      hex(referenceIntegrity(out, sha!.offset, len, 'sha256', k2).subarray(0, len)),
    );
    t.equal(out.readUInt32BE(fp!.offset + 4), referenceFingerprint(out, fp!.offset));
  }
});

t.test('encodeMessage: each trailing attribute alone', async (t) => {
  const key = Buffer.from('k');
  const base = msg([{ type: AttributeType.Software, value: Buffer.from('x') }], Method.Allocate);
  const onlyFp = encodeMessage(base, { fingerprint: true });
  t.equal(onlyFp.length, 20 + 8 + 8);
  t.equal(onlyFp.readUInt32BE(32), referenceFingerprint(onlyFp, 28));
  const onlyMi = encodeMessage(base, { integrity: key });
  t.equal(onlyMi.length, 20 + 8 + 24);
  t.equal(hex(onlyMi.subarray(32)), hex(referenceIntegrity(onlyMi, 28, 20, 'sha1', key)));
  const onlySha = encodeMessage(base, { integritySha256: key, integritySha256Length: 16 });
  t.equal(onlySha.length, 20 + 8 + 20);
  t.equal(hex(onlySha.subarray(32)), hex(referenceIntegrity(onlySha, 28, 16, 'sha256', key).subarray(0, 16)));
  const none = encodeMessage(base);
  t.equal(none.length, 28);
  t.equal(none.readUInt16BE(2), 8);
});

t.test('encodeMessage: header, padding and lengths', async (t) => {
  for (let n = 0; n <= 9; n++) {
    const value = Buffer.alloc(n, 0x61);
    const out = encodeMessage(msg([{ type: 0x8001, value }, { type: 0x8002, value: Buffer.from('z') }]));
    const p = Math.ceil(n / 4) * 4;
    t.equal(out.length, 20 + 4 + p + 8, `value of ${n}`);
    t.equal(out.readUInt16BE(22), 0x0000 | n, 'length excludes padding');
    t.ok(out.subarray(24 + n, 24 + p).every((b) => b === 0), 'default padding is zeros');
    t.equal(out.readUInt16BE(24 + p), 0x8002, 'next attribute starts on a 4-byte boundary');
  }
  // Padding of the wrong size is ignored rather than misaligning the message.
  const odd = encodeMessage(msg([{ type: 0x8001, value: Buffer.from('a'), padding: Buffer.from('  ') }]));
  t.equal(hex(odd.subarray(24)), '61000000');

  const out = encodeMessage(msg([], Method.Refresh, MessageClass.SuccessResponse));
  t.equal(hex(out), '01040000' + '2112a442' + hex(TXID));
  t.equal(padded(0), 0);
  t.equal(padded(1), 4);
  t.equal(padded(4), 4);
  t.equal(padded(5), 8);
});

t.test('decode → encode is byte-identical for a message with odd padding and unknown attributes', async (t) => {
  const buf = withFingerprint(
    raw(0x0016, MAGIC_COOKIE, TXID, [
      tlv(0xc001, Buffer.from('q'), Buffer.from('xyz')),
      tlv(AttributeType.Data, Buffer.alloc(0)),
      tlv(0x0042, Buffer.from('12345678')),
    ]),
  );
  const m = decodeOk(buf);
  t.equal(m.method, Method.Send);
  t.equal(m.cls, MessageClass.Indication);
  t.equal(hex(encodeMessage(m)), hex(buf));
});

t.test('getAttribute agrees with effectiveAttributes on every arrangement of MI, MI-SHA256, FINGERPRINT and others', async (t) => {
  // Exhaustive over sequences of up to 5 attributes drawn from 5 types (3,905 messages).
  const types = [AttributeType.Username, AttributeType.MessageIntegrity, AttributeType.MessageIntegritySha256, AttributeType.Fingerprint, AttributeType.Realm];
  let checked = 0;
  let mismatches = 0;
  const visit = (prefix: number[]): void => {
    if (prefix.length > 0) {
      const m = msg(prefix.map((type, i) => ({ type, value: Buffer.from([i]) })));
      const effective = effectiveAttributes(m);
      for (const type of types) {
        if (getAttribute(m, type) !== effective.find((x) => x.type === type)) mismatches++;
        checked++;
      }
    }
    if (prefix.length < 5) for (const type of types) visit([...prefix, type]);
  };
  visit([]);
  t.equal(checked, 3905 * types.length);
  t.equal(mismatches, 0);
});
