import t from 'tap';
import { createHash } from 'node:crypto';
import { AttributeType, MAGIC_COOKIE, MessageClass, Method, PasswordAlgorithm } from '../../src/stun/constants.js';
import { decodeMessage, encodeMessage, type StunAttribute, type StunMessage } from '../../src/stun/message.js';
import {
  longTermKey,
  shortTermKey,
  userhash,
  verifyMessageIntegrity,
  verifyMessageIntegritySha256,
} from '../../src/stun/integrity.js';
import { attributeOffsets, hex, referenceIntegrity } from './rfc-reference.js';

const TXID = Buffer.from('b7e7a701bc34d686fa87dfae', 'hex');
const KEY = Buffer.from('VOkJxbRl1RmTxUk/WvJxBt');

function base(attributes: StunAttribute[]) {
  return { method: Method.Binding, cls: MessageClass.Request, cookie: MAGIC_COOKIE, transactionId: TXID, attributes };
}

function decoded(buf: Buffer): StunMessage {
  const r = decodeMessage(buf);
  if (!r.ok) throw new Error(r.reason);
  return r.message;
}

/** A message whose last attribute is an integrity attribute of `len` bytes, MAC'ed by the reference code. */
function signedByReference(type: number, len: number, hash: 'sha1' | 'sha256', key: Buffer): Buffer {
  const head = encodeMessage(base([{ type: AttributeType.Username, value: Buffer.from('user') }]));
  const buf = Buffer.concat([head, Buffer.alloc(4 + Math.ceil(len / 4) * 4)]);
  const off = head.length;
  buf.writeUInt16BE(buf.length - 20, 2);
  buf.writeUInt16BE(type, off);
  buf.writeUInt16BE(len, off + 2);
  const mac = referenceIntegrity(buf, off, len, hash, key);
  mac.copy(buf, off + 4, 0, Math.min(len, mac.length));
  return buf;
}

t.test('MESSAGE-INTEGRITY verifies a message the RFC procedure signed', async (t) => {
  const buf = signedByReference(AttributeType.MessageIntegrity, 20, 'sha1', KEY);
  t.ok(verifyMessageIntegrity(decoded(buf), KEY));
  t.notOk(verifyMessageIntegrity(decoded(buf), Buffer.from('VOkJxbRl1RmTxUk/WvJxBu')));
  t.notOk(verifyMessageIntegrity(decoded(buf), Buffer.alloc(0)));
});

t.test('MESSAGE-INTEGRITY: missing, wrong size, or not a decoded message', async (t) => {
  const noMi = decoded(encodeMessage(base([{ type: AttributeType.Username, value: Buffer.from('u') }])));
  t.notOk(verifyMessageIntegrity(noMi, KEY));
  t.notOk(verifyMessageIntegritySha256(noMi, KEY));

  // A correct HMAC-SHA1 in an attribute that does not say 20 bytes is rejected, not truncated.
  for (const len of [16, 24, 32]) {
    const buf = signedByReference(AttributeType.MessageIntegrity, len, 'sha1', KEY);
    t.notOk(verifyMessageIntegrity(decoded(buf), KEY), `MI of ${len} bytes`);
  }

  // Built (not received) messages have no raw bytes to check.
  const built = encodeMessage(base([]), { integrity: KEY });
  const m = decoded(built);
  t.ok(verifyMessageIntegrity(m, KEY));
  t.notOk(verifyMessageIntegrity({ ...m, raw: undefined }, KEY), 'no raw');
  t.notOk(verifyMessageIntegrity({ ...m, attributes: m.attributes.map((a) => ({ ...a, offset: undefined })) }, KEY));
});

t.test('MESSAGE-INTEGRITY-SHA256: 16 to 32 bytes in steps of 4, nothing else', async (t) => {
  for (let len = 4; len <= 36; len += 2) {
    const buf = signedByReference(AttributeType.MessageIntegritySha256, len, 'sha256', KEY);
    const valid = len >= 16 && len <= 32 && len % 4 === 0;
    t.equal(verifyMessageIntegritySha256(decoded(buf), KEY), valid, `length ${len}`);
    if (valid) t.notOk(verifyMessageIntegritySha256(decoded(buf), Buffer.from('other')), `length ${len}, wrong key`);
  }
  // Truncation keeps the leading bytes: a MAC made of the trailing bytes must fail.
  const buf = signedByReference(AttributeType.MessageIntegritySha256, 16, 'sha256', KEY);
  const off = buf.length - 20;
  t.equal(buf.readUInt16BE(off), AttributeType.MessageIntegritySha256);
  referenceIntegrity(buf, off, 16, 'sha256', KEY).copy(buf, off + 4, 16, 32);
  t.notOk(verifyMessageIntegritySha256(decoded(buf), KEY));
});

t.test('the length field is rewritten to end at the integrity attribute (vectors.md pitfall 2)', async (t) => {
  // Append FINGERPRINT after MI: the MI must still verify, since FINGERPRINT is outside the hash
  // and the receiver recomputes with the length that ends at MI.
  const withFp = encodeMessage(base([{ type: AttributeType.Software, value: Buffer.from('x') }]), {
    integrity: KEY,
    fingerprint: true,
  });
  const m = decoded(withFp);
  t.ok(verifyMessageIntegrity(m, KEY));
  const mi = attributeOffsets(withFp)!.find((a) => a.type === AttributeType.MessageIntegrity)!;
  // Hashing with the final length (the classic bug) gives a different MAC.
  const wrong = referenceIntegrity(withFp, mi.offset, 28, 'sha1', KEY);
  t.not(hex(wrong), hex(withFp.subarray(mi.offset + 4, mi.offset + 24)));
});

t.test('integrity covers padding as received (vectors.md pitfall 1)', async (t) => {
  const user = { type: AttributeType.Username, value: Buffer.from('evtj:h6vY'), padding: Buffer.from('   ') };
  const spaced = encodeMessage(base([user]), { integrity: KEY });
  t.ok(verifyMessageIntegrity(decoded(spaced), KEY));
  const zeroed = Buffer.from(spaced);
  zeroed.fill(0, 20 + 4 + 9, 20 + 4 + 12);
  t.notOk(verifyMessageIntegrity(decoded(zeroed), KEY), 'the verifier must not re-encode with zero padding');
});

t.test('MI and MI-SHA256 together: the SHA-256 MAC covers the MI attribute', async (t) => {
  const k2 = Buffer.from('another key');
  const buf = encodeMessage(base([]), { integrity: KEY, integritySha256: k2 });
  const m = decoded(buf);
  t.ok(verifyMessageIntegrity(m, KEY));
  t.ok(verifyMessageIntegritySha256(m, k2));
  const changed = Buffer.from(buf);
  changed[20 + 4]! ^= 1; // first byte of the MI value
  t.notOk(verifyMessageIntegrity(decoded(changed), KEY));
  t.notOk(verifyMessageIntegritySha256(decoded(changed), k2));
});

t.test('attributes after MI: ignored for the check, not covered by it', async (t) => {
  const signed = encodeMessage(base([{ type: AttributeType.Username, value: Buffer.from('u') }]), { integrity: KEY });
  // A second MESSAGE-INTEGRITY after the first is ignored, whatever it holds.
  const extra = Buffer.concat([signed, Buffer.from('00080014', 'hex'), Buffer.alloc(20, 0xee)]);
  extra.writeUInt16BE(extra.length - 20, 2);
  t.ok(verifyMessageIntegrity(decoded(extra), KEY));
  // But a bad first MI is not rescued by a good one after it.
  const badFirst = Buffer.from(signed);
  badFirst[badFirst.length - 1]! ^= 1;
  const goodSecond = Buffer.concat([Buffer.from('00080014', 'hex'), signed.subarray(signed.length - 20)]);
  const bad = Buffer.concat([badFirst, goodSecond]);
  bad.writeUInt16BE(bad.length - 20, 2);
  t.notOk(verifyMessageIntegrity(decoded(bad), KEY));
});

t.test('shortTermKey: OpaqueString-prepared password bytes (RFC 8489 §9.1.1)', async (t) => {
  t.equal(hex(shortTermKey('VOkJxbRl1RmTxUk/WvJxBt')), hex(Buffer.from('VOkJxbRl1RmTxUk/WvJxBt')));
  t.equal(shortTermKey('pass\u00a0word').toString(), 'pass word', 'non-ASCII space → U+0020');
  t.equal(shortTermKey('e\u0301').toString(), '\u00e9', 'NFC');
  t.equal(hex(shortTermKey('\u00e9')), 'c3a9', 'UTF-8 bytes');
  t.not(hex(shortTermKey('Pass')), hex(shortTermKey('pass')), 'no case folding');
});

t.test('longTermKey: MD5 or SHA-256 of username:realm:password (RFC 8489 §9.2.2)', async (t) => {
  // The RFC's own example.
  t.equal(hex(longTermKey('user', 'realm', 'pass')), '8493fbc53ba582fb4c044c456bdc40eb');
  t.equal(hex(longTermKey('user', 'realm', 'pass', PasswordAlgorithm.MD5)), '8493fbc53ba582fb4c044c456bdc40eb');
  const sha = longTermKey('user', 'realm', 'pass', PasswordAlgorithm.SHA256);
  t.equal(sha.length, 32);
  t.equal(hex(sha), createHash('sha256').update('user:realm:pass').digest('hex'));
  t.equal(longTermKey('user', 'realm', 'pass').length, 16, 'raw digest, not hex text');
  // Each input matters, and the separators are exactly one colon.
  t.not(hex(longTermKey('user', 'realm', 'pasS')), '8493fbc53ba582fb4c044c456bdc40eb');
  t.not(hex(longTermKey('user:', 'realm', 'pass')), '8493fbc53ba582fb4c044c456bdc40eb');
  t.not(hex(longTermKey('user', 'Realm', 'pass')), '8493fbc53ba582fb4c044c456bdc40eb');
});

t.test('userhash: SHA-256(username ":" realm) (RFC 8489 §14.4)', async (t) => {
  // The RFC 8489 Appendix B.1 value, which the erratum did not need to change.
  t.equal(
    hex(userhash('\u30de\u30c8\u30ea\u30c3\u30af\u30b9', 'example.org')),
    '4a3cf38fef6992bda952c6780417da0f24819415569e60b205c46e41407f1704',
  );
  t.equal(userhash('a', 'b').length, 32);
});
