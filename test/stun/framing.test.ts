import t from 'tap';
import { nextStreamFrame } from '../../src/stun/framing.js';

/** A STUN header with the given type and length field, followed by `length` body bytes. */
function stun(length: number, type = 0x0001, bodyBytes = length): Buffer {
  const b = Buffer.alloc(20 + bodyBytes, 0x5a);
  b.writeUInt16BE(type, 0);
  b.writeUInt16BE(length, 2);
  b.writeUInt32BE(0x2112a442, 4);
  return b;
}

/** A ChannelData message with its stream padding (RFC 8656 §12.5). */
function channelData(channel: number, data: Buffer): Buffer {
  const b = Buffer.alloc(4 + Math.ceil(data.length / 4) * 4);
  b.writeUInt16BE(channel, 0);
  b.writeUInt16BE(data.length, 2);
  data.copy(b, 4);
  return b;
}

t.test('fewer than 4 bytes: incomplete', async (t) => {
  for (let n = 0; n < 4; n++) t.strictSame(nextStreamFrame(Buffer.alloc(n)), { kind: 'incomplete' }, `${n}`);
});

t.test('a STUN message is 20 + its length field', async (t) => {
  t.strictSame(nextStreamFrame(stun(0)), { kind: 'stun', length: 20 });
  t.strictSame(nextStreamFrame(stun(8)), { kind: 'stun', length: 28 });
  t.strictSame(nextStreamFrame(stun(0xfffc)), { kind: 'stun', length: 20 + 0xfffc });
  // The header alone is not enough: 20 bytes of header must be there even for length 0.
  t.strictSame(nextStreamFrame(stun(0).subarray(0, 19)), { kind: 'incomplete' });
});

t.test('STUN length not a multiple of 4: invalid', async (t) => {
  for (const len of [1, 2, 3, 5, 0xfffd, 0xffff]) {
    t.strictSame(nextStreamFrame(stun(len, 0x0001, 0)), { kind: 'invalid' }, `length ${len}`);
  }
});

t.test('top bits 10 and 11: invalid; 01: ChannelData', async (t) => {
  for (const first of [0x80, 0xbf, 0xc0, 0xff]) {
    const b = Buffer.alloc(32);
    b[0] = first;
    t.strictSame(nextStreamFrame(b), { kind: 'invalid' }, first.toString(16));
  }
  t.strictSame(nextStreamFrame(channelData(0x4000, Buffer.from('abc'))), { kind: 'channel-data', length: 8 });
  t.strictSame(nextStreamFrame(channelData(0x7fff, Buffer.alloc(0))), { kind: 'channel-data', length: 4 });
  t.strictSame(nextStreamFrame(channelData(0x4001, Buffer.alloc(4))), { kind: 'channel-data', length: 8 });
  t.strictSame(nextStreamFrame(channelData(0x4001, Buffer.alloc(5))), { kind: 'channel-data', length: 12 });
});

t.test('two messages back to back', async (t) => {
  const a = stun(12);
  const b = channelData(0x4abc, Buffer.from('hello'));
  const c = stun(4, 0x0101);
  const buf = Buffer.concat([a, b, c]);
  const seen: [string, number][] = [];
  let off = 0;
  for (;;) {
    const f = nextStreamFrame(buf, off);
    if (f.kind === 'incomplete') break;
    if (f.kind === 'invalid') return void t.fail(`invalid at ${off}`);
    seen.push([f.kind, f.length]);
    off += f.length;
  }
  t.strictSame(seen, [
    ['stun', 32],
    ['channel-data', 12],
    ['stun', 24],
  ]);
  t.equal(off, buf.length);
});

t.test('a split message is incomplete until its last byte arrives', async (t) => {
  const a = stun(16);
  for (let n = 0; n < a.length; n++) {
    t.strictSame(nextStreamFrame(a.subarray(0, n)), { kind: 'incomplete' }, `${n} of ${a.length}`);
  }
  t.strictSame(nextStreamFrame(a), { kind: 'stun', length: 36 });
  // A second message split after its header: the first is still a whole frame.
  const two = Buffer.concat([a, stun(16).subarray(0, 25)]);
  t.strictSame(nextStreamFrame(two), { kind: 'stun', length: 36 });
  t.strictSame(nextStreamFrame(two, 36), { kind: 'incomplete' });
  // ChannelData whose padding has not arrived yet is incomplete on a stream.
  const cd = channelData(0x4000, Buffer.from('abc'));
  t.strictSame(nextStreamFrame(cd.subarray(0, 7)), { kind: 'incomplete' });
});

t.test('offset past the end is incomplete, and the length is relative to the offset', async (t) => {
  const a = Buffer.concat([Buffer.alloc(3, 0xff), stun(4)]);
  t.strictSame(nextStreamFrame(a, 3), { kind: 'stun', length: 24 });
  t.strictSame(nextStreamFrame(a, 0), { kind: 'invalid' }, 'the junk in front is invalid');
  t.strictSame(nextStreamFrame(a, a.length), { kind: 'incomplete' });
  t.strictSame(nextStreamFrame(a, a.length + 10), { kind: 'incomplete' });
});
