/** RFC 5780 §7.2 CHANGE-REQUEST flags. */
export interface ChangeRequest {
  changeIp: boolean;
  changePort: boolean;
}

const CHANGE_IP = 0x04;
const CHANGE_PORT = 0x02;

/** Decodes CHANGE-REQUEST (4 bytes, flags in the last); undefined when malformed. */
export function decodeChangeRequest(value: Buffer): ChangeRequest | undefined {
  if (value.length !== 4) return undefined;
  const flags = value.readUInt32BE(0);
  return { changeIp: (flags & CHANGE_IP) !== 0, changePort: (flags & CHANGE_PORT) !== 0 };
}

/** Encodes CHANGE-REQUEST. */
export function encodeChangeRequest(req: ChangeRequest): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE((req.changeIp ? CHANGE_IP : 0) | (req.changePort ? CHANGE_PORT : 0), 0);
  return out;
}

/** RFC 5780 §7.5: decodes RESPONSE-PORT (port, then 2 bytes of padding); undefined when malformed. */
export function decodeResponsePort(value: Buffer): number | undefined {
  if (value.length !== 4) return undefined;
  return value.readUInt16BE(0);
}

/** Encodes RESPONSE-PORT. */
export function encodeResponsePort(port: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt16BE(port, 0);
  return out;
}
