import { HEADER_LENGTH } from './constants.js';

/** The largest frame the stream framing can express: a STUN message with a 65532-byte body. */
export const MAX_STREAM_FRAME = HEADER_LENGTH + 0xfffc;

/** What the bytes at the start of a stream buffer hold (RFC 8489 §6.2.2, RFC 8656 §12.5). */
export type StreamFrame =
  | { kind: 'stun' | 'channel-data'; length: number }
  | { kind: 'incomplete' }
  | { kind: 'invalid' };

/**
 * The total size the frame starting at `offset` announces (header included, ChannelData padded
 * to a multiple of 4), once its first 4 bytes are there: lets a reader refuse an oversize frame
 * before buffering it. Undefined when fewer than 4 bytes are available or the bytes start no frame.
 */
export function declaredFrameLength(buf: Buffer, offset = 0): { kind: 'stun' | 'channel-data'; length: number } | undefined {
  if (buf.length - offset < 4) return undefined;
  const top = buf[offset]! >> 6;
  const length = buf.readUInt16BE(offset + 2);
  if (top === 0b00) return (length & 3) === 0 ? { kind: 'stun', length: HEADER_LENGTH + length } : undefined;
  if (top === 0b01) return { kind: 'channel-data', length: 4 + ((length + 3) & ~3) };
  return undefined;
}

/**
 * Finds the length of the next frame on a TCP/TLS stream: a STUN message (20 + its length field)
 * or a ChannelData message (4 + its length rounded up to 4, since stream ChannelData is padded).
 * Pure: the transport keeps the buffer and cuts frames with the returned length.
 */
export function nextStreamFrame(buf: Buffer, offset = 0): StreamFrame {
  if (buf.length - offset < 4) return { kind: 'incomplete' };
  const frame = declaredFrameLength(buf, offset);
  if (!frame) return { kind: 'invalid' };
  if (buf.length - offset < frame.length) return { kind: 'incomplete' };
  return frame;
}
