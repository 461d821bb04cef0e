import { ERROR_REASONS } from '../constants.js';
import { decodeText, encodeText } from './text.js';

/** A decoded ERROR-CODE: the number (300–699) and the reason phrase. */
export interface ErrorCodeValue {
  code: number;
  reason: string;
}

/** RFC 8489 §14.8: reason phrases are at most 763 bytes (128 characters). */
const MAX_REASON_BYTES = 763;

/** Decodes ERROR-CODE (class in the hundreds, number modulo 100); undefined when malformed. */
export function decodeErrorCode(value: Buffer): ErrorCodeValue | undefined {
  if (value.length < 4) return undefined;
  const cls = value[2]! & 0x07;
  const num = value[3]!;
  if (cls < 3 || cls > 6 || num > 99) return undefined;
  const reason = decodeText(value.subarray(4), MAX_REASON_BYTES);
  if (reason === undefined) return undefined;
  return { code: cls * 100 + num, reason };
}

/** Encodes ERROR-CODE with the given or the default reason phrase. */
export function encodeErrorCode(code: number, reason?: string): Buffer {
  const text = encodeText(reason ?? ERROR_REASONS[code] ?? '', MAX_REASON_BYTES);
  const out = Buffer.alloc(4 + text.length);
  out[2] = Math.floor(code / 100);
  out[3] = code % 100;
  text.copy(out, 4);
  return out;
}
