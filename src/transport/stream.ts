import type net from 'node:net';
import { declaredFrameLength, MAX_STREAM_FRAME, nextStreamFrame } from '../stun/framing.js';

/** Most bytes a connection may hold unparsed: one maximal STUN message (20 + 65535) and change. */
export const MAX_PENDING_BYTES = 20 + 0xffff + 4096;

/** Why a connection's reader gave up; the transport closes the connection and counts it. */
export type FramerError = 'invalid-frame' | 'buffer-limit' | 'oversize-frame';

/**
 * Cuts a TCP/TLS byte stream into STUN and ChannelData frames (RFC 8489 §6.2.2, RFC 8656 §12.5):
 * several frames per segment and frames split across segments both work. Pending bytes are bounded
 * by `maxFrame`: a frame announcing more is refused as soon as its header is in, before buffering.
 */
export class StreamFramer {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxFrame: number = MAX_STREAM_FRAME) {}

  /** Bytes received but not yet cut into a frame (for the buffered-bytes gauge). */
  get pendingBytes(): number {
    return this.pending.length;
  }

  /** Feeds received bytes; calls `onFrame` for each whole frame, returns an error if the stream is unusable. */
  push(chunk: Buffer, onFrame: (frame: Buffer, kind: 'stun' | 'channel-data') => void): FramerError | undefined {
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let offset = 0;
    for (;;) {
      const frame = nextStreamFrame(buf, offset);
      if (frame.kind === 'invalid') return 'invalid-frame';
      if (frame.kind === 'incomplete') {
        if ((declaredFrameLength(buf, offset)?.length ?? 0) > this.maxFrame) return 'oversize-frame';
        break;
      }
      if (frame.length > this.maxFrame) return 'oversize-frame';
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

/**
 * Writes relayed data unless the client already has more than `maxBuffered` bytes waiting: a client
 * that stops reading must not make the server buffer without bound, and for real-time media a late
 * packet is worth no more than a lost one. Returns false when the data was dropped.
 */
export function writeRelayed(socket: net.Socket, data: Buffer, maxBuffered: number): boolean {
  if (socket.writableLength > maxBuffered) return false;
  writeFrame(socket, data);
  return true;
}
