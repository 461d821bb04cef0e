import t from 'tap';
import { hmacSha1, hmacSha256 } from '../../src/stun/hmac.js';

t.test('HMAC-SHA1: RFC 2202 test cases 1 and 2', async (t) => {
  t.equal(hmacSha1(Buffer.alloc(20, 0x0b), Buffer.from('Hi There')).toString('hex'), 'b617318655057264e28bc0b6fb378c8ef146be00');
  t.equal(hmacSha1(Buffer.from('Jefe'), Buffer.from('what do ya want for nothing?')).toString('hex'),
    'effcdf6ae5eb2fa2d27416d5f184df9c259a7c79');
});

t.test('HMAC-SHA256: RFC 4231 test cases 1 and 2', async (t) => {
  t.equal(hmacSha256(Buffer.alloc(20, 0x0b), Buffer.from('Hi There')).toString('hex'),
    'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7');
  t.equal(hmacSha256(Buffer.from('Jefe'), Buffer.from('what do ya want for nothing?')).toString('hex'),
    '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
});

t.test('several parts hash like their concatenation', async (t) => {
  // integrity.ts passes the rewritten header and the body as two parts.
  const k = Buffer.from('key');
  const whole = hmacSha1(k, Buffer.from('what do ya want for nothing?'));
  t.same(hmacSha1(k, Buffer.from('what do ya '), Buffer.from(''), Buffer.from('want for nothing?')), whole);
  t.same(hmacSha256(k, Buffer.from('ab'), Buffer.from('c')), hmacSha256(k, Buffer.from('abc')));
  t.equal(hmacSha1(k).length, 20);
  t.equal(hmacSha256(k).length, 32);
});
