import type net from 'node:net';
import { nextStreamFrame } from '../stun/framing.js';

/** Most bytes a connection may hold unparsed: one maximal STUN message (20 + 65535) and change. */
export const MAX_PENDING_BYTES = 20 + 0xffff + 4096;

/** Why a connection's reader gave up; the transport closes the connection and counts it. */
export type FramerError = 'invalid-frame' | 'buffer-limit';

/**
 * Cuts a TCP/TLS byte stream into STUN and ChannelData frames (RFC 8489 §6.2.2, RFC 8656 §12.5):
 * several frames per segment and frames split across segments both work. Pending bytes are bounded.
 */
export class StreamFramer {
  private pending: Buffer = Buffer.alloc(0);

  /** Feeds received bytes; calls `onFrame` for each whole frame, returns an error if the stream is unusable. */
  push(chunk: Buffer, onFrame: (frame: Buffer, kind: 'stun' | 'channel-data') => void): FramerError | undefined {
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let offset = 0;
    for (;;) {
      const frame = nextStreamFrame(buf, offset);
      if (frame.kind === 'invalid') return 'invalid-frame';
      if (frame.kind === 'incomplete') break;
      onFrame(buf.subarray(offset, offset + frame.length), frame.kind);
      offset += frame.length;
    }
    buf = buf.subarray(offset);
    if (buf.length > MAX_PENDING_BYTES) return 'buffer-limit';
    // Copy the remainder so the (possibly large) chunk it came from can be freed.
    this.pending = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf);
    return undefined;
  }
}

/** Writes to a stream unless it is already gone (a peer may reset while we answer). */
export function writeFrame(socket: net.Socket, data: Buffer): void {
  if (!socket.destroyed && socket.writable) socket.write(data);
}
