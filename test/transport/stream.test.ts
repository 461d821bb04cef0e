import t from 'tap';
import fc from 'fast-check';
import { MAX_STREAM_FRAME } from '../../src/stun/framing.js';
import { StreamFramer } from '../../src/transport/stream.js';

/** A Binding request header announcing `length` body bytes, followed by that many bytes. */
function stun(length: number): Buffer {
  const b = Buffer.alloc(20 + length);
  b.writeUInt16BE(0x0001, 0);
  b.writeUInt16BE(length, 2);
  b.writeUInt32BE(0x2112a442, 4);
  return b;
}

/** ChannelData with stream padding (RFC 8656 §12.5). */
function channelData(n: number): Buffer {
  const b = Buffer.alloc(4 + Math.ceil(n / 4) * 4);
  b.writeUInt16BE(0x4000, 0);
  b.writeUInt16BE(n, 2);
  return b;
}

t.test('frames are cut at their padded size; pending bytes are reported', async (t) => {
  const f = new StreamFramer();
  const got: Array<[string, number]> = [];
  const all = Buffer.concat([channelData(5), stun(8), channelData(3)]);
  t.equal(f.push(all.subarray(0, 14), (fr, kind) => got.push([kind, fr.length])), undefined);
  t.same(got, [['channel-data', 12]], 'the first ChannelData (4 + 5 bytes + 3 padding) is whole');
  t.equal(f.pendingBytes, 2, 'two bytes of the STUN message are held');
  t.equal(f.push(all.subarray(14), (fr, kind) => got.push([kind, fr.length])), undefined);
  t.same(got, [['channel-data', 12], ['stun', 28], ['channel-data', 8]], 'then the STUN message and the second ChannelData');
  t.equal(f.pendingBytes, 0, 'nothing left over');
});

t.test('a partial frame is held, and counted', async (t) => {
  const f = new StreamFramer();
  const m = stun(40);
  t.equal(f.push(m.subarray(0, 25), () => t.fail('no frame yet')), undefined);
  t.equal(f.pendingBytes, 25, '25 bytes pending');
  let n = 0;
  t.equal(f.push(m.subarray(25), () => n++), undefined);
  t.equal(n, 1, 'one frame once the rest arrives');
  t.equal(f.pendingBytes, 0);
});

t.test('a frame announcing more than maxFrame is refused from its header alone', async (t) => {
  const f = new StreamFramer(1280);
  t.equal(f.push(stun(1260).subarray(0, 20), () => undefined), undefined, '1280 bytes announced: allowed, waiting');
  const g = new StreamFramer(1280);
  t.equal(g.push(stun(1264).subarray(0, 4), () => t.fail('no frame')), 'oversize-frame', 'STUN of 1284 bytes: refused after 4 bytes');
  const h = new StreamFramer(1280);
  t.equal(h.push(channelData(1280).subarray(0, 4), () => t.fail('no frame')), 'oversize-frame', 'ChannelData of 1284 bytes: refused');
  const whole = new StreamFramer(1280);
  t.equal(whole.push(stun(1300), () => t.fail('never delivered')), 'oversize-frame', 'also when the whole frame arrives in one chunk');
  t.equal(new StreamFramer().push(stun(0xfffc).subarray(0, 4), () => undefined), undefined, 'the default allows the largest frame');
  t.equal(MAX_STREAM_FRAME, 20 + 0xfffc);
});

t.test('bytes that start no frame: invalid-frame', async (t) => {
  t.equal(new StreamFramer().push(Buffer.from([0x80, 0, 0, 0]), () => undefined), 'invalid-frame');
});

t.test('property: however the stream is cut into chunks, the same frames come out, and pending stays under one frame', async (t) => {
  const frame = fc.oneof(
    fc.integer({ min: 0, max: 300 }).map((n) => stun(n * 4)),
    fc.integer({ min: 0, max: 1200 }).map((n) => channelData(n)),
  );
  fc.assert(
    fc.property(fc.array(frame, { minLength: 1, maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 40 }), (frames, cuts) => {
      const wire = Buffer.concat(frames);
      const f = new StreamFramer(1300);
      const out: number[] = [];
      let off = 0;
      for (let i = 0; off < wire.length; i++) {
        const end = Math.min(wire.length, off + cuts[i % cuts.length]!);
        if (f.push(wire.subarray(off, end), (fr) => out.push(fr.length)) !== undefined) return false;
        if (f.pendingBytes >= 1300) return false;
        off = end;
      }
      return f.pendingBytes === 0 && out.length === frames.length && out.every((len, i) => len === frames[i]!.length);
    }),
    { numRuns: 300 },
  );
  t.pass('300 random frame sequences and cuttings');
});
