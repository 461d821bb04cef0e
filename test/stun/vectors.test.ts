/**
 * Every vector in test/vectors/vectors.json against the codec, both ways: decode the bytes and
 * compare with `fields`, and build the message from `fields` + `keys` and compare with the bytes.
 */
import t from 'tap';
import { createHash, createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  bytes,
  stunFields,
  vector,
  vectors,
  VECTORS_PATH,
  type AttributeFields,
  type ChannelDataFields,
  type RestCredentialFields,
  type StunFields,
  type Vector,
  type VectorAttribute,
  type XorAddressValue,
} from '../vectors/index.js';
import { AttributeType, MAGIC_COOKIE, MessageClass, PasswordAlgorithm } from '../../src/stun/constants.js';
import { encodeMessageType } from '../../src/stun/header.js';
import { decodeMessage, encodeMessage, getAttribute, type StunAttribute, type StunMessage } from '../../src/stun/message.js';
import {
  longTermKey,
  shortTermKey,
  userhash,
  verifyMessageIntegrity,
  verifyMessageIntegritySha256,
} from '../../src/stun/integrity.js';
import { opaqueString, saslprep } from '../../src/stun/saslprep.js';
import { attributeName, methodName } from '../../src/stun/names.js';
import { decodeXorAddress, encodeXorAddress } from '../../src/stun/attributes/address.js';
import { decodeText, encodeText, TextLimit } from '../../src/stun/attributes/text.js';
import { decodePasswordAlgorithm, encodePasswordAlgorithm } from '../../src/stun/attributes/password-algorithms.js';
import { nextStreamFrame } from '../../src/stun/framing.js';
import { attributeOffsets, hex, hex4, referenceFingerprint, referenceIntegrity } from './rfc-reference.js';

const CLASS_NAMES: Record<number, string> = {
  [MessageClass.Request]: 'request',
  [MessageClass.Indication]: 'indication',
  [MessageClass.SuccessResponse]: 'success-response',
  [MessageClass.ErrorResponse]: 'error-response',
};

// RFC 8489 §18.5: the PASSWORD-ALGORITHM registry, as vectors.json spells the names.
const ALGORITHM_NAMES: Record<number, string> = { 0x0001: 'MD5', 0x0002: 'SHA-256' };

const TEXT_LIMITS: Record<string, number> = {
  SOFTWARE: TextLimit.Software,
  USERNAME: TextLimit.Username,
  REALM: TextLimit.Realm,
  NONCE: TextLimit.Nonce,
};

const TRAILING = new Set(['MESSAGE-INTEGRITY', 'MESSAGE-INTEGRITY-SHA256', 'FINGERPRINT']);

/** The decoded value of one attribute, in the shape vectors.json writes it. */
function decodeValue(name: string, value: Buffer, txid: Buffer): unknown {
  if (name in TEXT_LIMITS) return decodeText(value, TEXT_LIMITS[name]!);
  switch (name) {
    case 'XOR-MAPPED-ADDRESS':
    case 'XOR-PEER-ADDRESS':
    case 'XOR-RELAYED-ADDRESS':
      return decodeXorAddress(value, txid);
    case 'PRIORITY':
      return value.length === 4 ? value.readUInt32BE(0) : undefined;
    case 'CHANNEL-NUMBER':
      return value.length === 4 ? { channel: hex4(value.readUInt16BE(0)), rffu: value.readUInt16BE(2) } : undefined;
    case 'PASSWORD-ALGORITHM': {
      const e = decodePasswordAlgorithm(value);
      return e && { algorithm: e.algorithm, name: ALGORITHM_NAMES[e.algorithm], parameters: hex(e.parameters) };
    }
    case 'FINGERPRINT':
      return `0x${hex(value)}`;
    case 'ICE-CONTROLLED':
    case 'ICE-CONTROLLING':
    case 'USERHASH':
    case 'DATA':
    case 'MESSAGE-INTEGRITY':
    case 'MESSAGE-INTEGRITY-SHA256':
      return hex(value);
    default:
      // A new vector with a new attribute must extend this table rather than pass unchecked.
      throw new Error(`vectors.test does not know how to decode ${name}`);
  }
}

/** The value bytes for an attribute, built from the vector's decoded field (not from the hex). */
function encodeValue(name: string, field: unknown, txid: Buffer): Buffer {
  if (name in TEXT_LIMITS) return encodeText(field as string, TEXT_LIMITS[name]!);
  switch (name) {
    case 'XOR-MAPPED-ADDRESS':
    case 'XOR-PEER-ADDRESS':
    case 'XOR-RELAYED-ADDRESS':
      return encodeXorAddress(field as XorAddressValue, txid);
    case 'PRIORITY': {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(field as number);
      return b;
    }
    case 'CHANNEL-NUMBER': {
      const f = field as { channel: string; rffu: number };
      const b = Buffer.alloc(4);
      b.writeUInt16BE(Number(f.channel), 0);
      b.writeUInt16BE(f.rffu, 2);
      return b;
    }
    case 'PASSWORD-ALGORITHM': {
      const f = field as { algorithm: number; parameters: string };
      return encodePasswordAlgorithm({ algorithm: f.algorithm, parameters: Buffer.from(f.parameters, 'hex') });
    }
    case 'ICE-CONTROLLED':
    case 'ICE-CONTROLLING':
    case 'USERHASH':
    case 'DATA':
      return Buffer.from(field as string, 'hex');
    default:
      throw new Error(`vectors.test does not know how to encode ${name}`);
  }
}

function expectedPadding(a: VectorAttribute): string {
  const pad = ((a.length + 3) & ~3) - a.length;
  return a.padding ?? '00'.repeat(pad);
}

function keyOf(v: Vector): Buffer | undefined {
  return v.keys?.hmacKeyHex === undefined ? undefined : Buffer.from(v.keys.hmacKeyHex, 'hex');
}

function has(f: StunFields, name: string): boolean {
  return f.attributes.some((a) => a.name === name);
}

/** True when some integrity attribute of the decoded message verifies under `key`. */
function anyIntegrityVerifies(m: StunMessage, key: Buffer): boolean {
  return verifyMessageIntegrity(m, key) || verifyMessageIntegritySha256(m, key);
}

const stunVectors = vectors.filter((v) => v.kind === 'stun' && v.status !== 'published-inconsistent');

t.test('vectors.json is the complete copy', async (t) => {
  t.ok(existsSync(VECTORS_PATH), `found at ${VECTORS_PATH} from the compiled test`);
  // The names vectors.md documents; a truncated copy would silently test less.
  const documented = [
    'rfc5769-2.1-sample-request',
    'rfc5769-2.2-ipv4-response',
    'rfc5769-2.3-ipv6-response',
    'rfc5769-2.4-long-term-request',
    'rfc8489-b.1-as-published',
    'rfc8489-b.1-corrected-sha256',
    'rfc8489-b.1-corrected-md5-default',
    'turn-rest-credential',
    'computed-xor-peer-address-ipv4',
    'computed-xor-peer-address-ipv6',
    'computed-createpermission-request',
    'computed-channelbind-request',
    'computed-send-indication',
    'computed-channeldata-udp',
    'computed-channeldata-udp-padded',
    'computed-channeldata-tcp',
    'computed-channeldata-tcp-stream',
  ];
  t.strictSame(vectors.map((v) => v.name).sort(), [...documented].sort());
  t.equal(stunVectors.length, 9);
});

for (const v of stunVectors) {
  t.test(`${v.name}: decodes to the documented fields`, async (t) => {
    const f = stunFields(v);
    const buf = bytes(v);
    const r = decodeMessage(buf);
    if (!r.ok) {
      t.fail(`decode failed: ${r.reason}`);
      return;
    }
    const m = r.message;
    const type = Number(f.messageType);
    t.equal(buf.readUInt16BE(0), type, 'type on the wire');
    t.equal(encodeMessageType(m.method, m.cls), type, 'method + class give back the message type');
    t.equal(methodName(m.method), f.method);
    t.equal(CLASS_NAMES[m.cls], f.class);
    t.equal(buf.readUInt16BE(2), f.messageLength);
    t.equal(buf.length, 20 + f.messageLength!);
    t.equal(m.cookie, MAGIC_COOKIE);
    t.equal(hex(m.transactionId), f.transactionId);

    t.strictSame(
      m.attributes.map((a) => ({ type: hex4(a.type), name: attributeName(a.type), length: a.value.length })),
      f.attributes.map((a) => ({ type: a.type, name: a.name, length: a.length })),
      'ordered attribute list',
    );
    m.attributes.forEach((a, i) => {
      const want = f.attributes[i];
      if (!want) return;
      t.equal(hex(a.padding ?? Buffer.alloc(0)), expectedPadding(want), `${want.name} padding as received`);
    });

    for (const [i, a] of m.attributes.entries()) {
      const name = f.attributes[i]?.name ?? attributeName(a.type);
      t.ok(name in f, `vector documents the value of ${name}`);
      t.strictSame(decodeValue(name, a.value, m.transactionId), f[name], `${name} value`);
      // getAttribute must find this same attribute: none of these vectors repeat a type.
      t.equal(getAttribute(m, a.type), a, `getAttribute finds ${name}`);
    }
  });

  t.test(`${v.name}: re-encoding the decoded message gives the same bytes`, async (t) => {
    const r = decodeMessage(bytes(v));
    if (!r.ok) return void t.fail(r.reason);
    // encodeMessage ignores `raw`: the bytes must come back from the decoded fields alone.
    t.equal(hex(encodeMessage(r.message)), v.hex);
  });

  t.test(`${v.name}: encoding from fields + keys gives the same bytes`, async (t) => {
    const f = stunFields(v);
    const txid = Buffer.from(f.transactionId, 'hex');
    const type = Number(f.messageType);
    const attributes: StunAttribute[] = [];
    for (const a of f.attributes) {
      if (TRAILING.has(a.name)) continue;
      const value = encodeValue(a.name, f[a.name], txid);
      t.equal(value.length, a.length, `${a.name} encodes to ${a.length} bytes`);
      const attr: StunAttribute = { type: Number(a.type), value };
      if (a.padding) attr.padding = Buffer.from(a.padding, 'hex');
      attributes.push(attr);
    }
    const key = keyOf(v);
    const mi256 = f.attributes.find((a) => a.name === 'MESSAGE-INTEGRITY-SHA256');
    const out = encodeMessage(
      // Method and class come from the RFC bit layout (§5), not from the decoder.
      {
        method: (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2),
        cls: (((type >> 4) & 1) | ((type >> 7) & 2)) as MessageClass,
        cookie: MAGIC_COOKIE,
        transactionId: txid,
        attributes,
      },
      {
        integrity: has(f, 'MESSAGE-INTEGRITY') ? key : undefined,
        integritySha256: mi256 ? key : undefined,
        integritySha256Length: mi256?.length,
        fingerprint: has(f, 'FINGERPRINT'),
      },
    );
    t.equal(hex(out), v.hex);
  });

  const key = keyOf(v);
  if (key && v.keys) {
    const k = v.keys;
    t.test(`${v.name}: integrity verifies with the documented key, and the key derives from the inputs`, async (t) => {
      const f = stunFields(v);
      const buf = bytes(v);
      const r = decodeMessage(buf);
      if (!r.ok) return void t.fail(r.reason);
      const m = r.message;

      if (k.mechanism === 'short-term') {
        t.equal(hex(shortTermKey(k.password!)), k.hmacKeyHex, 'shortTermKey(password)');
      } else {
        const algorithm = k.algorithm === 'SHA-256' ? PasswordAlgorithm.SHA256 : PasswordAlgorithm.MD5;
        t.equal(k.keyInput, `${k.username}:${k.realm}:${k.password}`);
        t.equal(hex(longTermKey(k.username!, k.realm!, k.password!, algorithm)), k.hmacKeyHex, 'longTermKey');
        // Independently: the key is the raw digest of the key input, not its hex text.
        const digest = createHash(k.algorithm === 'SHA-256' ? 'sha256' : 'md5').update(k.keyInput!, 'utf8').digest();
        t.equal(hex(digest), k.hmacKeyHex, 'digest of keyInput');
        if (k.usernameUtf8Hex) t.equal(hex(Buffer.from(k.username!, 'utf8')), k.usernameUtf8Hex);
      }
      if (k.passwordBeforePrep !== undefined) {
        // vectors.md pitfall 4: SASLprep folds the raw password to "TheMatrIX"; OpaqueString refuses it.
        t.equal(saslprep(k.passwordBeforePrep), k.password, 'SASLprep of the raw password');
        t.equal(opaqueString(k.passwordBeforePrep), undefined, 'OpaqueString rejects the raw password');
        t.equal(
          hex(
            longTermKey(
              k.username!,
              k.realm!,
              saslprep(k.passwordBeforePrep)!,
              k.algorithm === 'SHA-256' ? PasswordAlgorithm.SHA256 : PasswordAlgorithm.MD5,
            ),
          ),
          k.hmacKeyHex,
        );
      }

      const hasMi = has(f, 'MESSAGE-INTEGRITY');
      const hasMi256 = has(f, 'MESSAGE-INTEGRITY-SHA256');
      t.ok(hasMi || hasMi256, 'a keyed vector carries an integrity attribute');
      t.equal(verifyMessageIntegrity(m, key), hasMi, 'MESSAGE-INTEGRITY');
      t.equal(verifyMessageIntegritySha256(m, key), hasMi256, 'MESSAGE-INTEGRITY-SHA256');

      // The RFC procedure written out in the test must agree with the bytes in the vector.
      for (const a of attributeOffsets(buf)!) {
        if (a.type === AttributeType.MessageIntegrity) {
          const mac = referenceIntegrity(buf, a.offset, 20, 'sha1', key);
          t.equal(hex(mac), f['MESSAGE-INTEGRITY'], 'reference HMAC-SHA1');
        }
        if (a.type === AttributeType.MessageIntegritySha256) {
          const mac = referenceIntegrity(buf, a.offset, a.length, 'sha256', key).subarray(0, a.length);
          t.equal(hex(mac), f['MESSAGE-INTEGRITY-SHA256'], 'reference HMAC-SHA256');
        }
        if (a.type === AttributeType.Fingerprint) {
          t.equal(`0x${referenceFingerprint(buf, a.offset).toString(16).padStart(8, '0')}`, f.FINGERPRINT);
        }
      }

      const wrongKey = Buffer.from(key);
      wrongKey[0]! ^= 1;
      t.notOk(anyIntegrityVerifies(m, wrongKey), 'a key one bit off does not verify');
      for (const p of k.mustNotVerifyWithPasswords ?? []) {
        t.notOk(anyIntegrityVerifies(m, shortTermKey(p)), `password ${JSON.stringify(p)} does not verify`);
      }
      if (k.realm && k.username && k.password) {
        // The other algorithm's key must not verify: key selection is part of the check.
        const other = k.algorithm === 'SHA-256' ? PasswordAlgorithm.MD5 : PasswordAlgorithm.SHA256;
        t.notOk(anyIntegrityVerifies(m, longTermKey(k.username, k.realm, k.password, other)), 'other algorithm');
      }

      const uh = getAttribute(m, AttributeType.Userhash);
      if (uh) t.equal(hex(uh.value), hex(userhash(k.username!, k.realm!)), 'USERHASH = SHA-256(username:realm)');
      const un = getAttribute(m, AttributeType.Username);
      if (un && k.username) t.equal(decodeText(un.value, TextLimit.Username), k.username, 'USERNAME is the key input');
    });

    t.test(`${v.name}: no single-byte change verifies`, async (t) => {
      const orig = bytes(v);
      const fp = attributeOffsets(orig)!.find((a) => a.type === AttributeType.Fingerprint);
      let decodedCount = 0;
      for (let i = 0; i < orig.length; i++) {
        for (const mask of [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff]) {
          const buf = Buffer.from(orig);
          buf[i]! ^= mask;
          const r = decodeMessage(buf);
          if (!r.ok) continue;
          decodedCount++;
          const where = `byte ${i} ^ 0x${mask.toString(16)}`;
          // A FINGERPRINT that survives in a decoded message has been checked, so a change can
          // only get through by removing it (an attribute length that swallows it, or its type
          // changed). Such a message is valid STUN without FINGERPRINT; the receiver that needs
          // one sees it missing.
          if (fp && getAttribute(r.message, AttributeType.Fingerprint)) t.fail(`${where}: FINGERPRINT kept`);
          if (anyIntegrityVerifies(r.message, key)) {
            // RFC 8489 §14.5: nothing after MESSAGE-INTEGRITY is covered by it, and the only such
            // bytes in these vectors are the FINGERPRINT header. Anything else is a codec bug.
            if (!fp || i < fp.offset || i >= fp.offset + 4) t.fail(`${where}: still verifies`);
          }
        }
      }
      // Sanity: the loop did see decodable mutations, so the integrity branch was exercised.
      t.ok(decodedCount > 0, `${decodedCount} mutations decoded; none verified outside FINGERPRINT`);
    });

    if (has(stunFields(v), 'FINGERPRINT')) {
      t.test(`${v.name}: a changed byte before FINGERPRINT is reported as bad-fingerprint`, async (t) => {
        const orig = bytes(v);
        const fp = attributeOffsets(orig)!.find((a) => a.type === AttributeType.Fingerprint)!;
        // Bytes whose change keeps the framing intact and cannot turn a type into FINGERPRINT
        // (header after the type, attribute values) must be caught by the CRC itself.
        const skip = new Set<number>([2, 3]);
        for (const a of attributeOffsets(orig)!) for (let j = 0; j < 4; j++) skip.add(a.offset + j);
        for (let i = 0; i < fp.offset + 8; i++) {
          if (skip.has(i) || (i >= fp.offset && i < fp.offset + 4)) continue;
          const buf = Buffer.from(orig);
          buf[i]! ^= 0x01;
          const r = decodeMessage(buf);
          t.strictSame(r, { ok: false, reason: 'bad-fingerprint' }, `byte ${i}`);
        }
      });
    }
  }
}

t.test('rfc8489-b.1-as-published: rejected, and its defect is the documented one', async (t) => {
  const v = vector('rfc8489-b.1-as-published');
  const f = stunFields(v);
  const buf = bytes(v);
  t.strictSame(decodeMessage(buf), { ok: false, reason: 'bad-length' });
  t.equal(buf.readUInt16BE(2), f.messageLengthField);
  t.equal(buf.length - 20, f.actualBodyLength);

  // With the length field repaired the bytes decode, but the published MAC still does not verify
  // with either key: it was computed over the wrong length.
  const fixed = Buffer.from(buf);
  fixed.writeUInt16BE(f.actualBodyLength!, 2);
  const r = decodeMessage(fixed);
  if (!r.ok) return void t.fail(r.reason);
  const k = v.keys!;
  t.notOk(verifyMessageIntegritySha256(r.message, Buffer.from(k.hmacKeyHex!, 'hex')), 'SHA-256 key');
  t.notOk(verifyMessageIntegritySha256(r.message, longTermKey(k.username!, k.realm!, k.password!)), 'MD5 key');

  // It reproduces only when hashed with the bogus length left in place (vectors.md).
  const mi = attributeOffsets(fixed)!.find((a) => a.type === AttributeType.MessageIntegritySha256)!;
  const text = Buffer.from(buf.subarray(0, mi.offset));
  text.writeUInt16BE(v.expect!.reproducedWith!.lengthFieldDuringHmac, 2);
  const mac = createHmac('sha256', Buffer.from(k.hmacKeyHex!, 'hex')).update(text).digest();
  t.equal(hex(mac), f['MESSAGE-INTEGRITY-SHA256']);
  t.equal(hex(userhash(k.username!, k.realm!)), f.USERHASH, 'its USERHASH is right');
});

for (const name of ['computed-xor-peer-address-ipv4', 'computed-xor-peer-address-ipv6']) {
  t.test(`${name}: decodes and encodes with the given transaction ID`, async (t) => {
    const v = vector(name);
    const f = v.fields as unknown as AttributeFields;
    const buf = bytes(v);
    const txid = Buffer.from(f.transactionId, 'hex');
    t.equal(hex4(buf.readUInt16BE(0)), f.type);
    t.equal(attributeName(buf.readUInt16BE(0)), f.name);
    t.equal(buf.readUInt16BE(2), f.length);
    const value = buf.subarray(4);
    t.equal(value.length, f.length);
    t.strictSame(decodeXorAddress(value, txid), f.value);
    t.equal(hex(encodeXorAddress(f.value, txid)), hex(value));
    t.equal(hex(value.subarray(2, 4)), f.xPortHex);
    t.equal(hex(value.subarray(4)), f.xAddressHex);

    // vectors.md pitfall 6: the IPv6 form depends on the transaction ID, the IPv4 form does not.
    const otherTx = Buffer.from('turnkit-vec9');
    const again = encodeXorAddress(f.value, otherTx);
    if (f.value.family === 'IPv6') t.not(hex(again), hex(value), 'IPv6 changes with the transaction');
    else t.equal(hex(again), hex(value), 'IPv4 ignores the transaction');
    t.strictSame(decodeXorAddress(again, otherTx), f.value);
  });
}

t.test('turn-rest-credential: password and long-term key from the shared secret', async (t) => {
  const v = vector('turn-rest-credential');
  const f = v.fields as unknown as RestCredentialFields;
  const k = v.keys!;
  t.equal(f.username, `${f.expiry}:${f.userId}`);
  t.equal(new Date(f.expiry * 1000).toISOString(), f.expiryUtc);
  const mac = createHmac('sha1', k.secret!).update(f.username).digest();
  t.equal(hex(mac), v.hex, 'raw HMAC-SHA1(secret, username)');
  t.equal(mac.toString('base64'), f.password);
  t.equal(k.claimedPassword, f.password);
  t.equal(k.longTermKeyInput, `${f.username}:${k.realm}:${f.password}`);
  t.equal(hex(longTermKey(f.username, k.realm!, f.password)), k.longTermKeyHex);
  // The TURN request vectors are signed with exactly this credential.
  for (const name of ['computed-createpermission-request', 'computed-channelbind-request']) {
    const r = decodeMessage(bytes(vector(name)));
    if (!r.ok) return void t.fail(r.reason);
    t.ok(verifyMessageIntegrity(r.message, longTermKey(f.username, k.realm!, f.password)), name);
  }
});

t.test('channeldata vectors through the stream framer', async (t) => {
  for (const name of ['computed-channeldata-tcp', 'computed-channeldata-udp-padded']) {
    const v = vector(name);
    const f = v.fields as unknown as ChannelDataFields;
    const buf = bytes(v);
    t.equal(buf.length, f.totalBytes);
    t.equal(hex4(buf.readUInt16BE(0)), f.channel);
    t.equal(buf.readUInt16BE(2), f.length);
    t.equal(hex(buf.subarray(4, 4 + f.length!)), f.data);
    t.equal(hex(buf.subarray(4 + f.length!)), f.padding);
    t.strictSame(nextStreamFrame(buf), { kind: 'channel-data', length: f.totalBytes }, name);
    for (let n = 0; n < buf.length; n++) {
      t.strictSame(nextStreamFrame(buf.subarray(0, n)), { kind: 'incomplete' }, `${name} cut at ${n}`);
    }
  }

  // On a stream the padding is mandatory, so the 7-byte UDP form is an incomplete frame there.
  const udp = vector('computed-channeldata-udp');
  t.equal(bytes(udp).length, (udp.fields as unknown as ChannelDataFields).totalBytes);
  t.strictSame(nextStreamFrame(bytes(udp)), { kind: 'incomplete' });

  const stream = vector('computed-channeldata-tcp-stream');
  const frames = (stream.fields as unknown as ChannelDataFields).frames!;
  const buf = bytes(stream);
  let offset = 0;
  const lengths: number[] = [];
  for (const fr of frames) {
    const got = nextStreamFrame(buf, offset);
    if (got.kind !== 'channel-data') return void t.fail(`frame at ${offset}: ${got.kind}`);
    t.equal(hex4(buf.readUInt16BE(offset)), fr.channel);
    t.equal(buf.readUInt16BE(offset + 2), fr.length);
    t.equal(hex(buf.subarray(offset + 4, offset + 4 + fr.length)), fr.data);
    t.equal(hex(buf.subarray(offset + 4 + fr.length, offset + got.length)), fr.padding);
    lengths.push(got.length);
    // Every strict prefix of this frame is incomplete, never a shorter frame.
    for (let n = offset; n < offset + got.length; n++) {
      t.strictSame(nextStreamFrame(buf.subarray(0, n), offset), { kind: 'incomplete' });
    }
    offset += got.length;
  }
  t.strictSame(lengths, [8, 12]);
  t.equal(offset, buf.length);
  t.strictSame(nextStreamFrame(buf, offset), { kind: 'incomplete' }, 'nothing after the last frame');
});

t.test('a STUN vector on a stream is one frame of its own length', async (t) => {
  const two = Buffer.concat([bytes(vector('rfc5769-2.1-sample-request')), bytes(vector('rfc5769-2.2-ipv4-response'))]);
  const first = nextStreamFrame(two);
  t.strictSame(first, { kind: 'stun', length: 108 });
  t.strictSame(nextStreamFrame(two, 108), { kind: 'stun', length: 80 });
});
