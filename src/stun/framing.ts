import { HEADER_LENGTH } from './constants.js';

/** What the bytes at the start of a stream buffer hold (RFC 8489 §6.2.2, RFC 8656 §12.5). */
export type StreamFrame =
  | { kind: 'stun' | 'channel-data'; length: number }
  | { kind: 'incomplete' }
  | { kind: 'invalid' };

/**
 * Finds the length of the next frame on a TCP/TLS stream: a STUN message (20 + its length field)
 * or a ChannelData message (4 + its length rounded up to 4, since stream ChannelData is padded).
 * Pure: the transport keeps the buffer and cuts frames with the returned length.
 */
export function nextStreamFrame(buf: Buffer, offset = 0): StreamFrame {
  const available = buf.length - offset;
  if (available < 4) return { kind: 'incomplete' };
  const top = buf[offset]! >> 6;
  const length = buf.readUInt16BE(offset + 2);
  let total: number;
  let kind: 'stun' | 'channel-data';
  if (top === 0b00) {
    if ((length & 3) !== 0) return { kind: 'invalid' };
    total = HEADER_LENGTH + length;
    kind = 'stun';
  } else if (top === 0b01) {
    total = 4 + ((length + 3) & ~3);
    kind = 'channel-data';
  } else {
    return { kind: 'invalid' };
  }
  if (available < total) return { kind: 'incomplete' };
  return { kind, length: total };
}
