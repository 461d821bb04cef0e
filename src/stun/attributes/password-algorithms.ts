import { PasswordAlgorithm } from '../constants.js';

/** One entry of PASSWORD-ALGORITHMS, or the value of PASSWORD-ALGORITHM (RFC 8489 §14.11–§14.12). */
export interface PasswordAlgorithmEntry {
  algorithm: number;
  parameters: Buffer;
}

/** Decodes PASSWORD-ALGORITHMS (a list of algorithm, length, padded parameters); undefined when malformed. */
export function decodePasswordAlgorithms(value: Buffer): PasswordAlgorithmEntry[] | undefined {
  const out: PasswordAlgorithmEntry[] = [];
  let offset = 0;
  while (offset < value.length) {
    if (offset + 4 > value.length) return undefined;
    const algorithm = value.readUInt16BE(offset);
    const length = value.readUInt16BE(offset + 2);
    const end = offset + 4 + length;
    if (end > value.length) return undefined;
    out.push({ algorithm, parameters: value.subarray(offset + 4, end) });
    offset = offset + 4 + ((length + 3) & ~3);
  }
  return out;
}

/** Encodes PASSWORD-ALGORITHMS. */
export function encodePasswordAlgorithms(entries: readonly PasswordAlgorithmEntry[]): Buffer {
  const parts = entries.map((e) => {
    const part = Buffer.alloc(4 + ((e.parameters.length + 3) & ~3));
    part.writeUInt16BE(e.algorithm, 0);
    part.writeUInt16BE(e.parameters.length, 2);
    e.parameters.copy(part, 4);
    return part;
  });
  return Buffer.concat(parts);
}

/** Decodes PASSWORD-ALGORITHM (a single entry); undefined when malformed. */
export function decodePasswordAlgorithm(value: Buffer): PasswordAlgorithmEntry | undefined {
  const list = decodePasswordAlgorithms(value);
  return list && list.length === 1 ? list[0] : undefined;
}

/** Encodes PASSWORD-ALGORITHM. */
export function encodePasswordAlgorithm(entry: PasswordAlgorithmEntry): Buffer {
  return encodePasswordAlgorithms([entry]);
}

/** The algorithms turnkit offers, strongest first (RFC 8489 §9.2.1 orders by preference). */
export const SUPPORTED_PASSWORD_ALGORITHMS: readonly PasswordAlgorithmEntry[] = [
  { algorithm: PasswordAlgorithm.SHA256, parameters: Buffer.alloc(0) },
  { algorithm: PasswordAlgorithm.MD5, parameters: Buffer.alloc(0) },
];
