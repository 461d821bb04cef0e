/** RFC 8656 §12: channel numbers a client may bind. */
export const MIN_CHANNEL = 0x4000;
/**
 * The highest bindable channel number. RFC 8656 §12 narrows the range to 0x4FFF, but RFC 5766
 * allowed up to 0x7FFF and deployed clients (coturn's own among them) still pick numbers there;
 * both ranges share the ChannelData prefix bits 01, so accepting them costs no ambiguity.
 */
export const MAX_CHANNEL = 0x7fff;

/** True for a channel number a client may bind (RFC 8656 §12, widened to RFC 5766's range). */
export function isBindableChannel(n: number): boolean {
  return n >= MIN_CHANNEL && n <= MAX_CHANNEL;
}

/** Why a ChannelData message was not accepted. */
export type ChannelDataFailure = 'channel-data-short' | 'channel-data-length';

/**
 * RFC 8656 §12.4: reads a ChannelData header. The length field counts the data only; anything after
 * it (UDP may carry padding) is ignored, but a length past the end of the buffer is refused.
 * Returns the channel and data length; the data is `buf.subarray(4, 4 + length)` — no copy.
 */
export function readChannelData(
  buf: Buffer,
): { ok: true; channel: number; length: number } | { ok: false; reason: ChannelDataFailure } {
  if (buf.length < 4) return { ok: false, reason: 'channel-data-short' };
  const length = buf.readUInt16BE(2);
  if (4 + length > buf.length) return { ok: false, reason: 'channel-data-length' };
  return { ok: true, channel: buf.readUInt16BE(0), length };
}

/**
 * Encodes a ChannelData message around `data` (RFC 8656 §12.4). `pad` rounds the size up to a
 * multiple of 4, which stream transports require (§12.5) and UDP does not.
 */
export function encodeChannelData(channel: number, data: Buffer, pad: boolean): Buffer {
  const total = pad ? (4 + data.length + 3) & ~3 : 4 + data.length;
  const out = Buffer.allocUnsafe(total);
  out.writeUInt16BE(channel, 0);
  out.writeUInt16BE(data.length, 2);
  data.copy(out, 4);
  out.fill(0, 4 + data.length);
  return out;
}
