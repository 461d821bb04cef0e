import t from 'tap';
import { crc32, crc32Table } from '../../src/stun/crc32.js';
import { referenceCrc32 } from './rfc-reference.js';

t.test('CRC-32/ISO-HDLC check value and edge inputs', async (t) => {
  // The catalogue check value: CRC of the ASCII digits "123456789".
  for (const f of [crc32, crc32Table]) {
    t.equal(f(Buffer.from('123456789')), 0xcbf43926);
    t.equal(f(Buffer.alloc(0)), 0);
    t.equal(f(Buffer.from([0])), 0xd202ef8d);
    t.equal(f(Buffer.alloc(32, 0xff)), 0xff6cab0b);
  }
});

t.test('the table CRC (used before Node 20.15) equals the active one and the bitwise one', async (t) => {
  // A deterministic spread of lengths and contents: every byte value, odd lengths, long runs.
  let seed = 0x12345678;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
  let bad = 0;
  for (let len = 0; len < 300; len += 7) {
    const b = Buffer.alloc(len);
    for (let i = 0; i < len; i++) b[i] = next();
    const want = referenceCrc32(b);
    if (crc32(b) !== want || crc32Table(b) !== want) bad++;
  }
  t.equal(bad, 0);
  t.ok(crc32(Buffer.from('a')) >= 0, 'unsigned');
  t.ok(crc32Table(Buffer.from('a')) >= 0, 'unsigned');
});
