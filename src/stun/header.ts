import { MessageClass } from './constants.js';

/** RFC 8489 §5: interleaves the 12 method bits with the 2 class bits into the 14-bit message type. */
export function encodeMessageType(method: number, cls: MessageClass): number {
  return (
    (method & 0x000f) |
    ((method & 0x0070) << 1) |
    ((method & 0x0f80) << 2) |
    ((cls & 0b01) << 4) |
    ((cls & 0b10) << 7)
  );
}

/** RFC 8489 §5: splits a message type back into its method and class. */
export function decodeMessageType(type: number): { method: number; cls: MessageClass } {
  const method = (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);
  const cls = (((type >> 4) & 0b01) | ((type >> 7) & 0b10)) as MessageClass;
  return { method, cls };
}
