/**
 * Typed access to vectors.json. The tests run compiled from dist/test/..., so the JSON is found
 * relative to the repository root rather than next to the compiled file (tsc does not copy it).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface VectorAttribute {
  type: string;
  name: string;
  length: number;
  /** Hex of the padding bytes as sent; absent means the padding is zero bytes. */
  padding?: string;
}

export interface VectorKeys {
  mechanism?: 'short-term' | 'long-term';
  algorithm?: 'MD5' | 'SHA-256';
  password?: string;
  username?: string;
  usernameUtf8Hex?: string;
  realm?: string;
  passwordBeforePrep?: string;
  opaqueStringResult?: null;
  keyInput?: string;
  hmacKeyHex?: string;
  mustNotVerifyWithPasswords?: string[];
  // turn-rest-credential
  secret?: string;
  claimedPassword?: string;
  longTermKeyInput?: string;
  longTermKeyHex?: string;
}

export interface Vector {
  name: string;
  kind: 'stun' | 'attribute' | 'channeldata' | 'turn-rest-credential';
  status?: string;
  source: string;
  tests: string;
  hex: string;
  // The shape of `fields` depends on `kind`; the tests read it through the narrower types below.
  fields: Record<string, unknown>;
  keys?: VectorKeys;
  expect?: { reproducedWith?: { keyAlgorithm: string; lengthFieldDuringHmac: number } };
}

export interface StunFields {
  messageType: string;
  method: string;
  class: string;
  messageLength?: number;
  messageLengthField?: number;
  actualBodyLength?: number;
  transactionId: string;
  attributes: VectorAttribute[];
  [attributeName: string]: unknown;
}

export interface XorAddressValue {
  family: 'IPv4' | 'IPv6';
  address: string;
  port: number;
}

export interface AttributeFields {
  type: string;
  name: string;
  length: number;
  transactionId: string;
  value: XorAddressValue;
  xPortHex: string;
  xAddressHex: string;
  xorMaskHex: string;
}

export interface ChannelDataFrame {
  channel: string;
  length: number;
  data: string;
  padding: string;
}

export interface ChannelDataFields extends Partial<ChannelDataFrame> {
  transport: 'udp' | 'tcp';
  totalBytes?: number;
  frames?: ChannelDataFrame[];
}

export interface RestCredentialFields {
  username: string;
  expiry: number;
  expiryUtc: string;
  userId: string;
  password: string;
}

export const VECTORS_URL = new URL('../../../test/vectors/vectors.json', import.meta.url);
export const VECTORS_PATH = fileURLToPath(VECTORS_URL);

export const vectors: Vector[] = JSON.parse(readFileSync(VECTORS_URL, 'utf8')) as Vector[];

/** The vector with this name; throws so a renamed vector fails loudly instead of skipping tests. */
export function vector(name: string): Vector {
  const v = vectors.find((x) => x.name === name);
  if (!v) throw new Error(`no vector named ${name} in ${VECTORS_PATH}`);
  return v;
}

export function bytes(v: Vector): Buffer {
  return Buffer.from(v.hex, 'hex');
}

export function stunFields(v: Vector): StunFields {
  return v.fields as unknown as StunFields;
}
