import { createHash, createHmac } from 'node:crypto';
import t from 'tap';
import { hmacSha1, hmacSha256 } from '../../src/stun/hmac.js';
import { digest, SHA1, SHA256 } from '../../src/stun/sha.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const KEY_25 = hex('0102030405060708090a0b0c0d0e0f10111213141516171819');
const LARGE_KEY_DATA = 'Test Using Larger Than Block-Size Key - Hash Key First';

t.test('SHA-1 and SHA-256: the FIPS 180-4 examples', async (t) => {
  const abc = Buffer.from('abc');
  const twoBlocks = Buffer.from('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq');
  t.equal(digest(SHA1, [abc]).toString('hex'), 'a9993e364706816aba3e25717850c26c9cd0d89d');
  t.equal(digest(SHA1, [twoBlocks]).toString('hex'), '84983e441c3bd26ebaae4aa1f95129e5e54670f1');
  t.equal(digest(SHA256, [abc]).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  t.equal(digest(SHA256, [twoBlocks]).toString('hex'), '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  t.equal(digest(SHA1, []).toString('hex'), 'da39a3ee5e6b4b0d3255bfef95601890afd80709');
});

t.test('HMAC-SHA1: RFC 2202 test cases 1-7', async (t) => {
  const cases: Array<[Buffer, Buffer, string]> = [
    [Buffer.alloc(20, 0x0b), Buffer.from('Hi There'), 'b617318655057264e28bc0b6fb378c8ef146be00'],
    [Buffer.from('Jefe'), Buffer.from('what do ya want for nothing?'), 'effcdf6ae5eb2fa2d27416d5f184df9c259a7c79'],
    [Buffer.alloc(20, 0xaa), Buffer.alloc(50, 0xdd), '125d7342b9ac11cd91a39af48aa17b4f63f175d3'],
    [KEY_25, Buffer.alloc(50, 0xcd), '4c9007f4026250c6bc8414f9bf50c86c2d7235da'],
    [Buffer.alloc(20, 0x0c), Buffer.from('Test With Truncation'), '4c1a03424b55e07fe7f27be1d58bb9324a9a5a04'],
    [Buffer.alloc(80, 0xaa), Buffer.from(LARGE_KEY_DATA), 'aa4ae5e15272d00e95705637ce8a3b55ed402112'],
    [Buffer.alloc(80, 0xaa), Buffer.from('Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data'),
      'e8e99d0f45237d786d6bbaa7965c7808bbff1a91'],
  ];
  for (const [key, data, mac] of cases) t.equal(hmacSha1(key, data).toString('hex'), mac);
});

t.test('HMAC-SHA256: RFC 4231 test cases 1-4, 6, 7', async (t) => {
  const cases: Array<[Buffer, Buffer, string]> = [
    [Buffer.alloc(20, 0x0b), Buffer.from('Hi There'), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'],
    [Buffer.from('Jefe'), Buffer.from('what do ya want for nothing?'), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'],
    [Buffer.alloc(20, 0xaa), Buffer.alloc(50, 0xdd), '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe'],
    [KEY_25, Buffer.alloc(50, 0xcd), '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b'],
    [Buffer.alloc(131, 0xaa), Buffer.from(LARGE_KEY_DATA), '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54'],
    [Buffer.alloc(131, 0xaa),
      Buffer.from('This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.'),
      '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2'],
  ];
  for (const [key, data, mac] of cases) t.equal(hmacSha256(key, data).toString('hex'), mac);
});

t.test('every length around the block and padding boundaries, split into parts, matches node:crypto', async (t) => {
  // A deterministic byte pattern; the split points walk through the block boundary cases.
  const bytes = Buffer.alloc(300);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 0xff;
  let mismatches = 0;
  for (const keyLength of [0, 1, 16, 20, 32, 63, 64, 65, 131]) {
    const key = bytes.subarray(100, 100 + keyLength);
    for (let n = 0; n <= 200; n++) {
      const data = bytes.subarray(0, n);
      const cut1 = (n * 7) % (n + 1);
      const cut2 = cut1 + ((n * 3) % (n - cut1 + 1));
      const parts = [data.subarray(0, cut1), data.subarray(cut1, cut2), data.subarray(cut2)];
      if (!hmacSha1(key, ...parts).equals(createHmac('sha1', key).update(data).digest())) mismatches++;
      if (!hmacSha256(key, ...parts).equals(createHmac('sha256', key).update(data).digest())) mismatches++;
      if (keyLength === 0) {
        if (!digest(SHA1, parts).equals(createHash('sha1').update(data).digest())) mismatches++;
        if (!digest(SHA256, parts).equals(createHash('sha256').update(data).digest())) mismatches++;
      }
    }
  }
  t.equal(mismatches, 0);
});

t.test('a key is used as given each time, however many HMACs interleave', async (t) => {
  const k1 = Buffer.from('first key');
  const k2 = Buffer.from('second key');
  const m = Buffer.from('message');
  const first = hmacSha1(k1, m);
  t.not(hmacSha1(k2, m).toString('hex'), first.toString('hex'));
  t.same(hmacSha1(k1, m), first);
  // An equal key in another Buffer gives the same MAC.
  t.same(hmacSha1(Buffer.from('first key'), m), first);
  // Results are fresh Buffers: the next HMAC does not overwrite the last.
  const a = hmacSha256(k1, m);
  const copy = Buffer.from(a);
  hmacSha256(k2, m);
  t.same(a, copy);
  t.equal(hmacSha1(k1).length, 20);
  t.equal(hmacSha256(k1).length, 32);
});
