/**
 * Property tests for the STUN codec: it must never throw on attacker bytes, must round-trip what it
 * encodes, and integrity must catch every change. Runs are bounded so the file stays well under
 * 30 s; a failure prints the fast-check seed and path to replay it.
 */
import t from 'tap';
import fc from 'fast-check';
import { bytes, vectors } from '../vectors/index.js';
import { AttributeType, MAGIC_COOKIE, MessageClass } from '../../src/stun/constants.js';
import { decodeMessage, encodeMessage, type StunAttribute, type StunMessage } from '../../src/stun/message.js';
import { verifyMessageIntegrity, verifyMessageIntegritySha256 } from '../../src/stun/integrity.js';
import {
  decodeAddress,
  decodeXorAddress,
  encodeXorAddress,
} from '../../src/stun/attributes/address.js';
import { decodeText } from '../../src/stun/attributes/text.js';
import { decodeErrorCode } from '../../src/stun/attributes/error-code.js';
import { decodeUnknownAttributes } from '../../src/stun/attributes/unknown-attributes.js';
import { decodeChangeRequest, decodeResponsePort } from '../../src/stun/attributes/nat-behavior.js';
import { decodePasswordAlgorithms } from '../../src/stun/attributes/password-algorithms.js';
import { nextStreamFrame } from '../../src/stun/framing.js';
import { formatIp, parseIp } from '../../src/stun/ip.js';
import { opaqueString, saslprep } from '../../src/stun/saslprep.js';
import { attributeOffsets } from '../stun/rfc-reference.js';
import { encodeChannelData, readChannelData } from '../../src/turn/wire/channel-data.js';
import { Rng, corpusSeeds, mutate } from './mutate.js';

const RUNS = 3000;

const UTF8_PIECES = ['61', 'c3a9', 'e38398', 'f09f9880', 'efbfbd', 'c3', 'e3', 'e383', 'f0', 'f090', 'f09080', 'c0af',
  'eda080', 'f4908080', '80', 'bf', 'ff'];

const stunVectors = vectors.filter((v) => v.kind === 'stun').map(bytes);
const signedVectors = vectors
  .filter((v) => v.kind === 'stun' && v.status === undefined && v.keys?.hmacKeyHex)
  .map((v) => ({ buf: bytes(v), key: Buffer.from(v.keys!.hmacKeyHex!, 'hex') }));

const buf = (maxLength: number, minLength = 0) =>
  fc.uint8Array({ minLength, maxLength }).map((a) => Buffer.from(a));

const txidArb = buf(12, 12);

/**
 * Strings of arbitrary code points, weighted toward the ranges the preparation tables care about.
 * Built from integers because fc.string({ unit: 'binary' }) spends seconds warming up.
 */
const unicodeString = (maxLength: number) =>
  fc
    .array(
      fc.oneof(
        fc.integer({ min: 0x00, max: 0x7f }),
        fc.integer({ min: 0x80, max: 0x3ff }),
        fc.integer({ min: 0x1600, max: 0x3100 }),
        fc.integer({ min: 0xfb00, max: 0xffff }),
        fc.integer({ min: 0, max: 0x10ffff }),
      ),
      { maxLength },
    )
    .map((cps) => String.fromCodePoint(...cps));
const clsArb = fc.constantFrom<MessageClass>(
  MessageClass.Request,
  MessageClass.Indication,
  MessageClass.SuccessResponse,
  MessageClass.ErrorResponse,
);

/** Attributes with any type the decoder accepts blindly (FINGERPRINT is checked, so left out). */
function attributesArb(exclude: number[]) {
  const attr = fc.record({
    type: fc.integer({ min: 0, max: 0xffff }).filter((x) => !exclude.includes(x)),
    value: buf(300),
  });
  return fc.array(attr, { maxLength: 12 });
}

const messageArb = (exclude: number[]) =>
  fc.record({
    method: fc.integer({ min: 0, max: 0xfff }),
    cls: clsArb,
    transactionId: txidArb,
    cookie: fc.constant(MAGIC_COOKIE),
    attributes: attributesArb(exclude),
  });

/** Whatever the decoder returns must be consistent with the bytes it was given. */
function checkDecoded(input: Buffer, m: StunMessage): boolean {
  if (m.raw !== input || m.transactionId.length !== 12) return false;
  let end = 20;
  for (const a of m.attributes) {
    if (a.offset !== end) return false;
    if (!input.subarray(a.offset + 4, a.offset + 4 + a.value.length).equals(a.value)) return false;
    if (input.readUInt16BE(a.offset) !== a.type || input.readUInt16BE(a.offset + 2) !== a.value.length) return false;
    end = a.offset + 4 + Math.ceil(a.value.length / 4) * 4;
  }
  return end === input.length;
}

/** Calls everything a receiver would call on a decoded message; none of it may throw. */
function exercise(m: StunMessage, key: Buffer): void {
  verifyMessageIntegrity(m, key);
  verifyMessageIntegritySha256(m, key);
  for (const a of m.attributes) {
    decodeAddress(a.value);
    decodeXorAddress(a.value, m.transactionId);
    decodeText(a.value, 763);
    decodeErrorCode(a.value);
    decodeUnknownAttributes(a.value);
    decodeChangeRequest(a.value);
    decodeResponsePort(a.value);
    decodePasswordAlgorithms(a.value);
  }
}

t.test('decodeMessage never throws on random bytes', async (t) => {
  fc.assert(
    fc.property(buf(2000), (b) => {
      const r = decodeMessage(b);
      if (r.ok) {
        exercise(r.message, Buffer.from('k'));
        return checkDecoded(b, r.message);
      }
      return typeof r.reason === 'string';
    }),
    { numRuns: RUNS },
  );
  t.pass('no throw');
});

t.test('decodeMessage never throws on random bodies behind a valid header', async (t) => {
  // Random bytes almost never get past the header checks; this reaches the attribute walk.
  let decoded = 0;
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0x3fff }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.array(fc.uint8Array({ minLength: 4, maxLength: 4 }), { maxLength: 120 }),
      (type, cookie, words) => {
        const body = Buffer.concat(words.map((w) => Buffer.from(w)));
        const h = Buffer.alloc(20);
        h.writeUInt16BE(type, 0);
        h.writeUInt16BE(body.length, 2);
        h.writeUInt32BE(cookie, 4);
        const b = Buffer.concat([h, body]);
        const r = decodeMessage(b);
        if (!r.ok) return r.reason === 'bad-attribute-length' || r.reason.includes('fingerprint');
        decoded++;
        exercise(r.message, Buffer.from('k'));
        // encode(decode(x)) == x for anything that decodes.
        return checkDecoded(b, r.message) && encodeMessage(r.message).equals(b);
      },
    ),
    { numRuns: RUNS },
  );
  t.ok(decoded > 0, `${decoded} random bodies decoded`);
});

t.test('decodeMessage never throws on damaged vectors', async (t) => {
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('length' as const), value: fc.integer({ min: 0, max: 0xffff }) }),
    fc.record({ kind: fc.constant('attr-length' as const), which: fc.nat(), value: fc.integer({ min: 0, max: 0xffff }) }),
    fc.record({ kind: fc.constant('append' as const), extra: buf(64) }),
    fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), extra: buf(16) }),
  );
  fc.assert(
    fc.property(fc.constantFrom(...stunVectors), fc.array(mutation, { minLength: 1, maxLength: 3 }), (orig, muts) => {
      let b = Buffer.from(orig);
      for (const m of muts) {
        if (m.kind === 'truncate') b = b.subarray(0, m.at % (b.length + 1));
        else if (m.kind === 'flip' && b.length > 0) b[m.at % b.length]! ^= 1 << m.bit;
        else if (m.kind === 'length' && b.length >= 4) b.writeUInt16BE(m.value, 2);
        else if (m.kind === 'attr-length') {
          const offs = attributeOffsets(orig)!;
          const o = offs[m.which % offs.length]!;
          if (o.offset + 4 <= b.length) b.writeUInt16BE(m.value, o.offset + 2);
        } else if (m.kind === 'append') b = Buffer.concat([b, m.extra]);
        else if (m.kind === 'splice') {
          const at = m.at % (b.length + 1);
          b = Buffer.concat([b.subarray(0, at), m.extra, b.subarray(at)]);
        }
      }
      const r = decodeMessage(b);
      if (!r.ok) return true;
      exercise(r.message, Buffer.from('k'));
      return checkDecoded(b, r.message);
    }),
    { numRuns: RUNS },
  );
  t.pass('no throw');
});

t.test('decode(encode(m)) gives back method, class, transaction ID and attributes', async (t) => {
  fc.assert(
    fc.property(
      messageArb([AttributeType.Fingerprint]),
      fc.option(buf(64, 1), { nil: undefined }),
      fc.option(buf(64, 1), { nil: undefined }),
      fc.option(fc.constantFrom(16, 20, 24, 28, 32), { nil: undefined }),
      fc.boolean(),
      (m, integrity, integritySha256, integritySha256Length, fingerprint) => {
        const out = encodeMessage(m, { integrity, integritySha256, integritySha256Length, fingerprint });
        const r = decodeMessage(out);
        if (!r.ok) return false;
        const d = r.message;
        const extra = (integrity ? 1 : 0) + (integritySha256 ? 1 : 0) + (fingerprint ? 1 : 0);
        if (d.method !== m.method || d.cls !== m.cls || !d.transactionId.equals(m.transactionId)) return false;
        if (d.cookie !== MAGIC_COOKIE || d.attributes.length !== m.attributes.length + extra) return false;
        for (let i = 0; i < m.attributes.length; i++) {
          const a = d.attributes[i]!;
          if (a.type !== m.attributes[i]!.type || !a.value.equals(m.attributes[i]!.value)) return false;
        }
        return true;
      },
    ),
    { numRuns: RUNS },
  );
  t.pass('round trip');
});

t.test('encode(decode(x)) is x for valid messages', async (t) => {
  const valid = stunVectors.filter((b) => decodeMessage(b).ok);
  t.equal(valid.length, stunVectors.length - 1, 'all vectors but the published B.1');
  fc.assert(
    fc.property(
      fc.oneof(
        fc.constantFrom(...valid),
        // Generated messages with padding that is not zero, as RFC 5769 sends.
        messageArb([AttributeType.Fingerprint]).chain((m) =>
          fc.array(buf(3, 3), { minLength: m.attributes.length, maxLength: m.attributes.length }).map((pads) =>
            encodeMessage({
              ...m,
              attributes: m.attributes.map((a, i): StunAttribute => {
                const n = ((a.value.length + 3) & ~3) - a.value.length;
                return { ...a, padding: pads[i]!.subarray(0, n) };
              }),
            }),
          ),
        ),
      ),
      (x) => {
        const r = decodeMessage(x);
        if (!r.ok) return false;
        const once = encodeMessage(r.message);
        const r2 = decodeMessage(once);
        return once.equals(x) && r2.ok && encodeMessage(r2.message).equals(once);
      },
    ),
    { numRuns: RUNS },
  );
  t.pass('stable');
});

t.test('integrity fails when any byte it covers changes', async (t) => {
  const generated = fc
    .record({
      m: messageArb([AttributeType.Fingerprint, AttributeType.MessageIntegrity, AttributeType.MessageIntegritySha256]),
      key: buf(32, 1),
      sha: fc.boolean(),
      fingerprint: fc.boolean(),
    })
    .map(({ m, key, sha, fingerprint }) => ({
      buf: encodeMessage(m, sha ? { integritySha256: key, fingerprint } : { integrity: key, fingerprint }),
      key,
    }));
  fc.assert(
    fc.property(
      fc.oneof(fc.constantFrom(...signedVectors), generated),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      ({ buf: orig, key }, pos, mask) => {
        const mi = attributeOffsets(orig)!.find(
          (a) => a.type === AttributeType.MessageIntegrity || a.type === AttributeType.MessageIntegritySha256,
        )!;
        const coveredEnd = mi.offset + 4 + mi.length; // everything up to the end of the MAC itself
        const before = decodeMessage(orig);
        if (!before.ok || !(verifyMessageIntegrity(before.message, key) || verifyMessageIntegritySha256(before.message, key))) {
          return false; // the unchanged message must verify, or the property proves nothing
        }
        const b = Buffer.from(orig);
        b[pos % coveredEnd]! ^= mask;
        const r = decodeMessage(b);
        if (!r.ok) return true;
        return !verifyMessageIntegrity(r.message, key) && !verifyMessageIntegritySha256(r.message, key);
      },
    ),
    { numRuns: RUNS },
  );
  t.pass('never verifies');
});

t.test('decodeXorAddress(encodeXorAddress(a, tx), tx) = a', async (t) => {
  const port = fc.integer({ min: 0, max: 65535 });
  fc.assert(
    fc.property(fc.ipV4(), port, txidArb, (address, p, tx) => {
      const a = { family: 'IPv4' as const, address, port: p };
      const v = encodeXorAddress(a, tx);
      const d = decodeXorAddress(v, tx);
      return v.length === 8 && d !== undefined && d.family === 'IPv4' && d.address === address && d.port === p;
    }),
    { numRuns: RUNS },
  );
  // fast-check writes IPv6 in many equivalent ways; the decoded text is canonical, so compare bytes.
  fc.assert(
    fc.property(fc.ipV6(), port, txidArb, (address, p, tx) => {
      const a = { family: 'IPv6' as const, address, port: p };
      const v = encodeXorAddress(a, tx);
      const d = decodeXorAddress(v, tx);
      return (
        v.length === 20 &&
        d !== undefined &&
        d.family === 'IPv6' &&
        d.port === p &&
        parseIp(d.address)!.bytes.equals(parseIp(address)!.bytes) &&
        formatIp(parseIp(address)!.bytes) === d.address
      );
    }),
    { numRuns: RUNS },
  );
  t.pass('round trip');
});

t.test('formatIp / parseIp round trip on any 4 or 16 bytes', async (t) => {
  fc.assert(
    fc.property(fc.oneof(buf(4, 4), buf(16, 16)), (b) => {
      const text = formatIp(b);
      const p = parseIp(text);
      return p !== undefined && p.bytes.equals(b) && p.family === (b.length === 4 ? 'IPv4' : 'IPv6');
    }),
    { numRuns: RUNS },
  );
  t.pass('round trip');
});

t.test('text decoding: a string comes back only for valid UTF-8 (no throw otherwise)', async (t) => {
  fc.assert(
    fc.property(
      fc.oneof(
        buf(40),
        unicodeString(20).map((s) => Buffer.from(s, 'utf8')),
        // Valid characters mixed with cut and malformed sequences, which random bytes rarely hit.
        fc
          .array(fc.constantFrom(...UTF8_PIECES), { maxLength: 8 })
          .map((ps) => Buffer.from(ps.join(''), 'hex')),
      ),
      (b) => {
        const s = decodeText(b, 763);
        return s === undefined || Buffer.from(s, 'utf8').equals(b);
      },
    ),
    { numRuns: RUNS },
  );
  t.pass('valid only');
});

t.test('string preparation never throws; OpaqueString is idempotent', async (t) => {
  fc.assert(
    fc.property(unicodeString(30), (s) => {
      saslprep(s);
      const once = opaqueString(s);
      return once === undefined || opaqueString(once) === once;
    }),
    { numRuns: RUNS },
  );
  t.pass('ok');
});

t.test('nextStreamFrame never throws and never claims more than is there', async (t) => {
  fc.assert(
    fc.property(
      fc.oneof(
        buf(200),
        fc.constantFrom(...stunVectors),
        fc.constantFrom(...vectors.filter((v) => v.kind === 'channeldata').map(bytes)),
      ),
      fc.integer({ min: 0, max: 210 }),
      (b, offset) => {
        const f = nextStreamFrame(b, offset);
        if (f.kind === 'incomplete' || f.kind === 'invalid') return true;
        const available = b.length - offset;
        const min = f.kind === 'stun' ? 20 : 4;
        const top = b[offset]! >> 6;
        return (
          f.length <= available &&
          f.length >= min &&
          f.length % 4 === 0 &&
          (f.kind === 'stun' ? top === 0 : top === 1)
        );
      },
    ),
    { numRuns: RUNS },
  );
  t.pass('bounded');
});

/**
 * A message placed inside a larger buffer, followed by poison bytes: a decoder that reads past the
 * end of what it was given would see the poison. The decoded fields must be the same as for an
 * exact copy, and every attribute value must be a view inside the given bytes.
 */
t.test('decoders never read past the buffer they are given', async (t) => {
  const insideBiggerBuffer = (b: Buffer, poison: number): Buffer => {
    const big = Buffer.alloc(b.length + 64, poison);
    b.copy(big, 16);
    big.fill(poison, 0, 16);
    return big.subarray(16, 16 + b.length);
  };
  const seeds = [...stunVectors, ...vectors.filter((v) => v.kind === 'channeldata').map(bytes)];
  fc.assert(
    fc.property(
      fc.oneof(buf(300), fc.constantFrom(...seeds), fc.constantFrom(...seeds).chain((s) => fc.nat(s.length).map((n) => s.subarray(0, n)))),
      fc.integer({ min: 0, max: 255 }),
      (b, poison) => {
        const view = insideBiggerBuffer(b, poison);
        const exact = decodeMessage(Buffer.from(b));
        const viewed = decodeMessage(view);
        if (exact.ok !== viewed.ok) return false;
        if (!exact.ok || !viewed.ok) {
          if (exact.ok || viewed.ok || exact.reason !== viewed.reason) return false;
        } else {
          const base = view.byteOffset;
          for (const a of viewed.message.attributes) {
            if (a.value.buffer === view.buffer && (a.value.byteOffset < base || a.value.byteOffset + a.value.length > base + view.length)) return false;
          }
          if (!encodeMessage(viewed.message).equals(encodeMessage(exact.message))) return false;
        }
        const cd = readChannelData(view);
        const cdExact = readChannelData(Buffer.from(b));
        if (JSON.stringify(cd) !== JSON.stringify(cdExact)) return false;
        if (cd.ok && 4 + cd.length > view.length) return false;
        const f = nextStreamFrame(view, 0);
        return JSON.stringify(f) === JSON.stringify(nextStreamFrame(Buffer.from(b), 0)) && (f.kind === 'incomplete' || f.kind === 'invalid' || f.length <= view.length);
      },
    ),
    { numRuns: RUNS },
  );
  t.pass('bounded');
});

t.test('the fuzzer\'s mutations of every corpus message never make a decoder throw', async (t) => {
  // The same mutations the live fuzzing sends, here straight into the decoders (cheap, many runs).
  const seeds = corpusSeeds();
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
      const rng = new Rng(seed);
      for (let i = 0; i < 20; i++) {
        const { data } = mutate(rng, seeds, 2000);
        const r = decodeMessage(data);
        if (r.ok) {
          exercise(r.message, Buffer.from('k'));
          if (!checkDecoded(data, r.message)) return false;
        }
        readChannelData(data);
        nextStreamFrame(data, 0);
      }
      return true;
    }),
    { numRuns: RUNS },
  );
  t.pass(`${RUNS * 20} mutated corpus messages decoded without a throw`);
});

t.test('ChannelData: encode then read gives back channel and data; a length past the end is refused', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0x4000, max: 0x7fff }), buf(600), fc.boolean(), fc.integer({ min: 1, max: 0xffff }), (channel, data, pad, extra) => {
      const enc = encodeChannelData(channel, data, pad);
      const r = readChannelData(enc);
      if (!r.ok || r.channel !== channel || !enc.subarray(4, 4 + r.length).equals(data)) return false;
      const lying = Buffer.from(enc);
      lying.writeUInt16BE(Math.min(0xffff, enc.length - 4 + extra), 2);
      const l = readChannelData(lying);
      return !l.ok && l.reason === 'channel-data-length';
    }),
    { numRuns: RUNS },
  );
  t.pass('round trip');
});
