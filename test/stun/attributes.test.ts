import t from 'tap';
import { ERROR_REASONS, ErrorCode, PasswordAlgorithm } from '../../src/stun/constants.js';
import {
  decodeAddress,
  decodeXorAddress,
  encodeAddress,
  encodeXorAddress,
} from '../../src/stun/attributes/address.js';
import { decodeText, encodeText, TextLimit } from '../../src/stun/attributes/text.js';
import { decodeErrorCode, encodeErrorCode } from '../../src/stun/attributes/error-code.js';
import { decodeUnknownAttributes, encodeUnknownAttributes } from '../../src/stun/attributes/unknown-attributes.js';
import {
  decodeChangeRequest,
  decodeResponsePort,
  encodeChangeRequest,
  encodeResponsePort,
} from '../../src/stun/attributes/nat-behavior.js';
import {
  decodePasswordAlgorithm,
  decodePasswordAlgorithms,
  encodePasswordAlgorithm,
  encodePasswordAlgorithms,
  SUPPORTED_PASSWORD_ALGORITHMS,
} from '../../src/stun/attributes/password-algorithms.js';
import { hex } from './rfc-reference.js';

const h = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');
// RFC 5769 §2.2/2.3 transaction ID.
const TX = h('b7e7a701bc34d686fa87dfae');

t.test('MAPPED-ADDRESS family (RFC 8489 §14.1)', async (t) => {
  t.strictSame(decodeAddress(h('0001 0d96 c0000201')), { family: 'IPv4', address: '192.0.2.1', port: 3478 });
  t.strictSame(decodeAddress(h('0002 1f90 20010db8000000000000000000000001')), {
    family: 'IPv6',
    address: '2001:db8::1',
    port: 8080,
  });
  // The first byte is reserved and ignored on receipt.
  t.strictSame(decodeAddress(h('ff01 0d96 c0000201')), { family: 'IPv4', address: '192.0.2.1', port: 3478 });
  t.equal(hex(encodeAddress({ family: 'IPv4', address: '192.0.2.1', port: 3478 })), '00010d96c0000201');
  t.equal(
    hex(encodeAddress({ family: 'IPv6', address: '2001:db8::1', port: 8080 })),
    '00021f9020010db8000000000000000000000001',
  );
  t.equal(hex(encodeAddress({ family: 'IPv4', address: '0.0.0.0', port: 65535 })), '0001ffff00000000');

  for (const bad of ['', '0001', '0001 0d96', '0001 0d96 c00002', '0001 0d96 c000020100', '0003 0d96 c0000201',
    '0000 0d96 c0000201', '0002 0d96 c0000201', '0001 0d96 20010db8000000000000000000000001']) {
    t.equal(decodeAddress(h(bad)), undefined, `malformed: ${bad || 'empty'}`);
  }
  t.throws(() => encodeAddress({ family: 'IPv4', address: 'example.org', port: 1 }), TypeError);
  t.throws(() => encodeAddress({ family: 'IPv4', address: '1.2.3.256', port: 1 }), TypeError);
});

t.test('XOR-MAPPED-ADDRESS: RFC 5769 values', async (t) => {
  // Value bytes from RFC 5769 §2.2 and §2.3.
  const v4 = h('0001a147e112a643');
  const v6 = h('0002a1470113a9faa5d3f179bc25f4b5bed2b9d9');
  const a4 = { family: 'IPv4' as const, address: '192.0.2.1', port: 32853 };
  const a6 = { family: 'IPv6' as const, address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 };
  t.strictSame(decodeXorAddress(v4, TX), a4);
  t.strictSame(decodeXorAddress(v6, TX), a6);
  t.equal(hex(encodeXorAddress(a4, TX)), hex(v4));
  t.equal(hex(encodeXorAddress(a6, TX)), hex(v6));
  // Decoding must not change the received bytes (they are still needed for integrity).
  t.equal(hex(v6), '0002a1470113a9faa5d3f179bc25f4b5bed2b9d9');
  // The IPv6 mask includes the transaction ID: a different ID gives a different address.
  const otherTx = Buffer.from(TX);
  otherTx[11]! ^= 0xff;
  t.not(decodeXorAddress(v6, otherTx)?.address, a6.address);
  t.strictSame(decodeXorAddress(v4, otherTx), a4);
});

t.test('XOR addresses: malformed values', async (t) => {
  for (const bad of ['', '0001a147', '0001a147e112a64300', '0002a147e112a643', '0001a1470113a9faa5d3f179bc25f4b5bed2b9d9',
    '0003a147e112a643']) {
    t.equal(decodeXorAddress(h(bad), TX), undefined, bad || 'empty');
  }
  // A short transaction ID must not make decoding throw.
  t.doesNotThrow(() => decodeXorAddress(h('0002a1470113a9faa5d3f179bc25f4b5bed2b9d9'), Buffer.alloc(0)));
});

t.test('text attributes: UTF-8, byte limits (RFC 8489 §14.3, §14.9, §14.10, §14.14)', async (t) => {
  t.equal(decodeText(Buffer.from('example.org'), TextLimit.Realm), 'example.org');
  t.equal(decodeText(h('e3839ee38388e383aae38383e382afe382b9'), TextLimit.Username), '\u30de\u30c8\u30ea\u30c3\u30af\u30b9');
  t.equal(decodeText(Buffer.alloc(0), TextLimit.Nonce), '');
  t.equal(decodeText(Buffer.alloc(512, 0x61), TextLimit.Username), 'a'.repeat(512));
  // RFC 5389 allowed fewer than 513 bytes (RFC 8489 narrowed it to 509); the decoder takes the wider.
  t.equal(decodeText(Buffer.alloc(513, 0x61), TextLimit.Username), undefined);
  t.equal(decodeText(Buffer.alloc(763, 0x61), TextLimit.Software)?.length, 763);
  t.equal(decodeText(Buffer.alloc(764, 0x61), TextLimit.Software), undefined);
  t.equal(decodeText(Buffer.from('\ufffd'), 100), '\ufffd', 'a real U+FFFD is valid UTF-8');
  t.strictSame(
    [TextLimit.Username, TextLimit.Realm, TextLimit.Nonce, TextLimit.Software, TextLimit.AlternateDomain],
    [512, 763, 763, 763, 255],
  );
});

t.test('text attributes: invalid UTF-8 is rejected', async (t) => {
  const invalid: [string, string][] = [
    ['ff', 'byte never valid'],
    ['61c3', 'truncated 2-byte sequence at the end'],
    ['c0af', 'overlong "/"'],
    ['eda080', 'encoded surrogate'],
    ['80', 'lone continuation byte'],
    ['e383', 'truncated 3-byte sequence'],
    // A truncated 4-byte sequence becomes one U+FFFD, which is also 3 bytes long: the byte count
    // alone cannot tell it from a valid U+FFFD.
    ['f09080', 'truncated 4-byte sequence, 3 bytes'],
    ['f0908061f09080', 'two of them around an ASCII byte'],
    ['f4908080', 'beyond U+10FFFF'],
  ];
  for (const [bytes, why] of invalid) t.equal(decodeText(h(bytes), 100), undefined, why);
});

t.test('encodeText cuts at a character boundary', async (t) => {
  t.equal(hex(encodeText('abc', 10)), '616263');
  t.equal(encodeText('\u00e9\u00e9\u00e9', 5).toString(), '\u00e9\u00e9', 'not half a character');
  t.equal(encodeText('\u00e9\u00e9\u00e9', 6).toString(), '\u00e9\u00e9\u00e9');
  t.equal(encodeText('a\u{1f600}', 4).toString(), 'a', '4-byte character dropped whole');
  t.equal(encodeText('a\u{1f600}', 5).toString(), 'a\u{1f600}');
  t.equal(encodeText('x'.repeat(600), TextLimit.Username).length, 512);
  t.equal(encodeText('\u00e9', 1).length, 0);
});

t.test('ERROR-CODE (RFC 8489 §14.8)', async (t) => {
  // 420 Unknown Attribute: class 4, number 20.
  const v = encodeErrorCode(ErrorCode.UnknownAttribute);
  t.equal(hex(v), '00000414' + hex(Buffer.from('Unknown Attribute')));
  t.strictSame(decodeErrorCode(v), { code: 420, reason: 'Unknown Attribute' });
  t.equal(hex(encodeErrorCode(300, 'x')), '0000030078');
  t.equal(hex(encodeErrorCode(699, '')), '00000663');
  t.strictSame(decodeErrorCode(encodeErrorCode(438, 'Stale Nonce, retry')), { code: 438, reason: 'Stale Nonce, retry' });
  t.strictSame(decodeErrorCode(encodeErrorCode(599)), { code: 599, reason: '' }, 'unknown code: empty reason');
  for (const [code, reason] of Object.entries(ERROR_REASONS)) {
    t.strictSame(decodeErrorCode(encodeErrorCode(Number(code))), { code: Number(code), reason });
  }
  // Reserved bits are ignored on receipt.
  t.strictSame(decodeErrorCode(h('fffffc14')), { code: 420, reason: '' });
  for (const bad of ['', '000004', '00000200', '00000700', '00000464', '000004ff']) {
    t.equal(decodeErrorCode(h(bad)), undefined, `malformed: ${bad || 'empty'}`);
  }
  t.equal(decodeErrorCode(Buffer.concat([h('00000414'), h('ff')])), undefined, 'reason not UTF-8');
  t.equal(decodeErrorCode(Buffer.concat([h('00000414'), Buffer.alloc(764, 0x61)])), undefined, 'reason too long');
  const cut = encodeErrorCode(500, 'y'.repeat(1000));
  t.ok(cut.length <= 4 + 763, 'long reasons are cut');
  t.strictSame(decodeErrorCode(cut), { code: 500, reason: 'y'.repeat(cut.length - 4) }, 'and still decode');
});

t.test('UNKNOWN-ATTRIBUTES (RFC 8489 §14.9)', async (t) => {
  t.equal(hex(encodeUnknownAttributes([0x0001, 0x7fff, 0x0abc])), '00017fff0abc');
  t.strictSame(decodeUnknownAttributes(h('00017fff0abc')), [0x0001, 0x7fff, 0x0abc]);
  t.strictSame(decodeUnknownAttributes(Buffer.alloc(0)), []);
  t.equal(decodeUnknownAttributes(h('000100')), undefined);
});

t.test('CHANGE-REQUEST and RESPONSE-PORT (RFC 5780 §7.2, §7.5)', async (t) => {
  // "A" (change IP) is 0x04 and "B" (change port) is 0x02 in the last byte.
  t.equal(hex(encodeChangeRequest({ changeIp: true, changePort: false })), '00000004');
  t.equal(hex(encodeChangeRequest({ changeIp: false, changePort: true })), '00000002');
  t.equal(hex(encodeChangeRequest({ changeIp: true, changePort: true })), '00000006');
  t.equal(hex(encodeChangeRequest({ changeIp: false, changePort: false })), '00000000');
  t.strictSame(decodeChangeRequest(h('00000006')), { changeIp: true, changePort: true });
  t.strictSame(decodeChangeRequest(h('00000004')), { changeIp: true, changePort: false });
  t.strictSame(decodeChangeRequest(h('00000002')), { changeIp: false, changePort: true });
  t.strictSame(decodeChangeRequest(h('fffffff9')), { changeIp: false, changePort: false }, 'other bits ignored');
  for (const bad of ['', '000004', '0000000400']) t.equal(decodeChangeRequest(h(bad)), undefined);

  t.equal(hex(encodeResponsePort(3479)), '0d970000');
  t.equal(decodeResponsePort(h('0d970000')), 3479);
  t.equal(decodeResponsePort(h('ffffabcd')), 65535, 'the 2 padding bytes are ignored');
  for (const bad of ['', '0d97', '0d9700000000']) t.equal(decodeResponsePort(h(bad)), undefined);
});

t.test('PASSWORD-ALGORITHM(S) (RFC 8489 §14.11, §14.12)', async (t) => {
  // RFC 8489 Appendix B.1 (erratum): SHA-256, no parameters.
  t.strictSame(decodePasswordAlgorithm(h('00020000')), { algorithm: PasswordAlgorithm.SHA256, parameters: Buffer.alloc(0) });
  t.equal(hex(encodePasswordAlgorithm({ algorithm: PasswordAlgorithm.SHA256, parameters: Buffer.alloc(0) })), '00020000');
  t.equal(hex(encodePasswordAlgorithms(SUPPORTED_PASSWORD_ALGORITHMS)), '0002000000010000', 'SHA-256 first');
  // Parameters are padded to 4 bytes; the length counts only the parameters.
  const withParams = encodePasswordAlgorithms([
    { algorithm: 0x1234, parameters: h('aabbcc') },
    { algorithm: 0x0001, parameters: Buffer.alloc(0) },
  ]);
  t.equal(hex(withParams), '12340003aabbcc0000010000');
  const list = decodePasswordAlgorithms(withParams)!;
  t.strictSame(
    list.map((e) => [e.algorithm, hex(e.parameters)]),
    [
      [0x1234, 'aabbcc'],
      [0x0001, ''],
    ],
  );
  t.strictSame(decodePasswordAlgorithms(Buffer.alloc(0)), []);
  for (const bad of ['00', '000200', '00020004aabb', '0002000000']) {
    t.equal(decodePasswordAlgorithms(h(bad)), undefined, `malformed list ${bad}`);
  }
  t.equal(decodePasswordAlgorithm(h('0002000000010000')), undefined, 'PASSWORD-ALGORITHM holds exactly one');
  t.equal(decodePasswordAlgorithm(Buffer.alloc(0)), undefined);
});
