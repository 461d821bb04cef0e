import { AttributeType, ErrorCode, HEADER_LENGTH, MAGIC_COOKIE, MessageClass, Method, isComprehensionRequired } from './constants.js';
import { encodeAddress, encodeXorAddress } from './attributes/address.js';
import { encodeErrorCode } from './attributes/error-code.js';
import { decodeChangeRequest, decodeResponsePort } from './attributes/nat-behavior.js';
import { encodeText } from './attributes/text.js';
import { encodeUnknownAttributes } from './attributes/unknown-attributes.js';
import type { TransportAddress } from './ip.js';
import {
  decodeMessage,
  effectiveAttributes,
  encodeMessage,
  getAttribute,
  hasMagicCookie,
  padded,
  type StunAttribute,
  type StunDecodeFailure,
  type StunMessage,
} from './message.js';

/** The transports a STUN request can arrive on. */
export type StunTransport = 'udp' | 'tcp' | 'tls';

/**
 * RFC 5780 §4.1: the four (IP, port) combinations of a server with an alternate address. `primary`
 * is the configured listen address; the others differ in port, IP, or both.
 */
export type SocketRole = 'primary' | 'alt-port' | 'alt-ip' | 'alt-both';

/** Why a datagram or frame got no answer; the label values of `turnkit_stun_dropped_total{reason}`. */
export type DropReason =
  | StunDecodeFailure
  | 'unexpected-class'
  | 'channel-data'
  | 'response-port-unusable'
  | 'internal-error';

/**
 * Longest SOFTWARE text sent: it goes into answers to unauthenticated requests, so it bounds how much
 * larger than a request an answer can be (RFC 8489 §16.1.2 amplification).
 */
export const SOFTWARE_MAX_BYTES = 64;

/**
 * turnkit's diagnostic ECHO attribute (comprehension-optional, from the expert-review range): a
 * Binding request may carry up to ECHO_MAX_BYTES that the answer returns unchanged. nat-probe puts
 * its own local address in it; a router ALG that rewrites addresses inside payloads changes it on
 * the way, which is how the probe detects such ALGs. It costs nothing in amplification: the answer
 * grows by exactly what the request carried.
 */
export const ECHO_ATTRIBUTE = 0xc7e0;
/** The most bytes the ECHO attribute returns; longer values are ignored. */
export const ECHO_MAX_BYTES = 64;

/** Every drop reason, for pre-registering metric labels. */
export const DROP_REASONS: readonly DropReason[] = [
  'too-short',
  'not-stun',
  'bad-length',
  'bad-attribute-length',
  'fingerprint-not-last',
  'bad-fingerprint',
  'unexpected-class',
  'channel-data',
  'response-port-unusable',
  'internal-error',
];

/** What the Binding responder needs to know about the server it speaks for. */
export interface BindingServerConfig {
  /** SOFTWARE text, or null to send none (RFC 8489 §14.14). */
  software: string | null;
  /**
   * RFC 5780: the four socket addresses when an alternate IP is configured. Absent: the server
   * has one address and answers CHANGE-REQUEST with 420 (RFC 5780 §6.1).
   */
  rfc5780?: Readonly<Record<SocketRole, TransportAddress>>;
}

/** One STUN message received on a socket. */
export interface StunRequestEvent {
  data: Buffer;
  transport: StunTransport;
  /** The client's transport address as the server sees it (the mapped address). */
  source: TransportAddress;
  /** Which RFC 5780 socket received it (`primary` when there is no alternate address). */
  role: SocketRole;
  /** The receiving socket's own address, when it is bound to a specific IP (not a wildcard). */
  local?: TransportAddress;
}

/** What the transport should do with a received message. */
export type StunOutcome =
  | {
      kind: 'respond';
      data: Buffer;
      /** The socket to send from (differs from the receiving one for CHANGE-REQUEST). */
      from: SocketRole;
      to: TransportAddress;
      method: number;
      result: 'success' | 'error';
    }
  | { kind: 'drop'; reason: DropReason }
  | { kind: 'indication'; method: number };

/** Attribute types the Binding responder understands; any other comprehension-required one gets 420. */
const UNDERSTOOD: ReadonlySet<number> = new Set<number>(Object.values(AttributeType));

const FLIP_IP: Record<SocketRole, SocketRole> = {
  primary: 'alt-ip',
  'alt-port': 'alt-both',
  'alt-ip': 'primary',
  'alt-both': 'alt-port',
};
const FLIP_PORT: Record<SocketRole, SocketRole> = {
  primary: 'alt-port',
  'alt-port': 'primary',
  'alt-ip': 'alt-both',
  'alt-both': 'alt-ip',
};

/** Sizes of the address attributes, which the amplification budget allows on top of the request. */
function addressAttributeSize(addr: TransportAddress): number {
  return 4 + (addr.family === 'IPv4' ? 8 : 20);
}

/**
 * RFC 8489 §6.3 and RFC 5780 §6.1: handles one STUN message for a STUN-only server — Binding
 * requests are answered, indications accepted silently, anything else dropped with a named reason.
 * Pure: no socket, no clock; the transport carries out the returned outcome.
 */
export function handleStunMessage(event: StunRequestEvent, config: BindingServerConfig): StunOutcome {
  if (event.data.length > 0 && event.data[0]! >> 6 === 0b01) return { kind: 'drop', reason: 'channel-data' };
  const decoded = decodeMessage(event.data);
  if (!decoded.ok) return { kind: 'drop', reason: decoded.reason };
  const request = decoded.message;
  if (request.cls === MessageClass.Indication) return { kind: 'indication', method: request.method };
  if (request.cls !== MessageClass.Request) return { kind: 'drop', reason: 'unexpected-class' };
  return handleBindingRequest(request, event, config);
}

/** Builds the reply context shared by success and error responses. */
interface Reply {
  request: StunMessage;
  event: StunRequestEvent;
  config: BindingServerConfig;
}

function errorResponse(reply: Reply, code: number, extra: StunAttribute[] = []): StunOutcome {
  const { request, event } = reply;
  const attributes = [{ type: AttributeType.ErrorCode, value: encodeErrorCode(code) }, ...extra];
  const data = finish(reply, MessageClass.ErrorResponse, attributes, 0);
  return { kind: 'respond', data, from: event.role, to: event.source, method: request.method, result: 'error' };
}

/**
 * Encodes a response. SOFTWARE (at most SOFTWARE_MAX_BYTES, see config) is always added when
 * configured; PADDING only within the amplification budget: the request's size plus the address
 * attributes, so a padded answer is never larger than the padded request that asked for it.
 */
let softwareText: string | undefined;
let softwareBytes: Buffer = Buffer.alloc(0);
/** SOFTWARE's value for `text` (at most SOFTWARE_MAX_BYTES), encoded once per text, not per answer. */
export function softwareValue(text: string): Buffer {
  if (text !== softwareText) {
    softwareBytes = encodeText(text, SOFTWARE_MAX_BYTES);
    softwareText = text;
  }
  return softwareBytes;
}

function finish(reply: Reply, cls: MessageClass, attributes: StunAttribute[], addressBytes: number): Buffer {
  const { request, config } = reply;
  const fingerprint = getAttribute(request, AttributeType.Fingerprint) !== undefined;
  if (config.software !== null) {
    let software = softwareValue(config.software);
    // RFC 3489 §11.2.10 (SERVER): the value itself must be a multiple of 4 bytes; classic parsers
    // know no padding, so pad the text with spaces.
    if (!hasMagicCookie(request) && software.length % 4 !== 0) {
      software = Buffer.concat([software, Buffer.alloc(padded(software.length) - software.length, 0x20)]);
    }
    if (software.length > 0) attributes.push({ type: AttributeType.Software, value: software });
  }
  const budget = request.raw!.length + addressBytes;
  let size = HEADER_LENGTH + (fingerprint ? 8 : 0);
  for (const a of attributes) size += 4 + padded(a.value.length);
  if (request.method === Method.Binding && getAttribute(request, AttributeType.Padding) && size + 4 < budget) {
    // RFC 5780 §7.6: pad the response as the request was padded, so that both fragment alike;
    // never beyond the request's size plus the address attributes.
    const pad = Math.min(budget - size - 4, 0xfffc) & ~3;
    attributes.push({ type: AttributeType.Padding, value: Buffer.alloc(pad) });
  }
  return encodeMessage(
    { method: request.method, cls, transactionId: request.transactionId, cookie: request.cookie, attributes },
    { fingerprint },
  );
}

/**
 * RFC 8489 §6.3.2: whether an indication carries a comprehension-required attribute we do not
 * know, in which case it is discarded. No array is built: Send indications are a data path.
 */
export function hasUnknownComprehensionRequired(message: StunMessage): boolean {
  for (const a of message.attributes) if (isComprehensionRequired(a.type) && !UNDERSTOOD.has(a.type)) return true;
  return false;
}

/** RFC 8489 §6.3.1.1: the comprehension-required attribute types a request carries that we do not know. */
export function unknownComprehensionRequired(request: StunMessage): number[] {
  const unknown: number[] = [];
  for (const a of effectiveAttributes(request)) {
    if (isComprehensionRequired(a.type) && !UNDERSTOOD.has(a.type) && !unknown.includes(a.type)) unknown.push(a.type);
  }
  return unknown;
}

/** RFC 8489 §6.3.1: the error response for a request, unauthenticated (no MESSAGE-INTEGRITY). */
export function unauthenticatedError(
  request: StunMessage,
  event: StunRequestEvent,
  config: BindingServerConfig,
  code: number,
  extra: StunAttribute[] = [],
): StunOutcome {
  return errorResponse({ request, event, config }, code, extra);
}

/** The 420 answer naming the unknown attributes (RFC 8489 §6.3.1.1). */
export function unknownAttributeError(request: StunMessage, event: StunRequestEvent, config: BindingServerConfig, unknown: number[]): StunOutcome {
  return errorResponse({ request, event, config }, ErrorCode.UnknownAttribute, [
    { type: AttributeType.UnknownAttributes, value: encodeUnknownAttributes(unknown) },
  ]);
}

/**
 * The RFC 5780 socket addresses, if the request arrived on one of those four sockets over UDP or
 * TCP. Other listeners (another family, another port, TLS) have no alternate address: their
 * answers name their own address and CHANGE-REQUEST gets 420 there.
 */
function discoverySockets(event: StunRequestEvent, config: BindingServerConfig): BindingServerConfig['rfc5780'] {
  const own = config.rfc5780?.[event.role];
  const local = event.local;
  if (!own || !local || event.transport === 'tls') return undefined;
  return own.port === local.port && own.address === local.address && own.family === local.family ? config.rfc5780 : undefined;
}

/** RFC 8489 §6.3.1 and RFC 5780 §6.1: the Binding request procedure, step by step. */
export function handleBindingRequest(request: StunMessage, event: StunRequestEvent, config: BindingServerConfig): StunOutcome {
  const reply: Reply = { request, event, config };

  // RFC 8489 §6.3.1.1: unknown comprehension-required attributes → 420 listing them.
  const unknown = unknownComprehensionRequired(request);
  if (unknown.length > 0) return unknownAttributeError(request, event, config, unknown);

  // Only Binding is served here; other methods are not ours to answer (RFC 8489 §6.3.1: 400).
  if (request.method !== Method.Binding) return errorResponse(reply, ErrorCode.BadRequest);

  const discovery = discoverySockets(event, config);
  // RFC 5780 §6.1: CHANGE-REQUEST needs an alternate address, and only UDP can answer from it.
  let from: SocketRole = event.role;
  const changeAttr = getAttribute(request, AttributeType.ChangeRequest);
  if (changeAttr) {
    const change = decodeChangeRequest(changeAttr.value);
    if (!change) return errorResponse(reply, ErrorCode.BadRequest);
    if (change.changeIp || change.changePort) {
      if (!discovery || event.transport !== 'udp') {
        return errorResponse(reply, ErrorCode.UnknownAttribute, [
          { type: AttributeType.UnknownAttributes, value: encodeUnknownAttributes([AttributeType.ChangeRequest]) },
        ]);
      }
      if (change.changeIp) from = FLIP_IP[from];
      if (change.changePort) from = FLIP_PORT[from];
    }
  }

  // RFC 5780 §7.5: RESPONSE-PORT sends the response to the client's IP at another port (UDP only).
  let to = event.source;
  const responsePortAttr = getAttribute(request, AttributeType.ResponsePort);
  if (responsePortAttr && event.transport === 'udp') {
    const port = decodeResponsePort(responsePortAttr.value);
    if (port === undefined) return errorResponse(reply, ErrorCode.BadRequest);
    // RFC 5780 §6.1: PADDING with RESPONSE-PORT is refused, so that no one can aim a padded answer
    // at another port.
    if (getAttribute(request, AttributeType.Padding)) return errorResponse(reply, ErrorCode.BadRequest);
    if (port === 0) return { kind: 'drop', reason: 'response-port-unusable' };
    to = { ...event.source, port };
  }

  const responseOrigin = discovery ? discovery[from] : event.local;
  // RFC 5780 §7.4: where "change IP and port" would answer from, relative to where the request arrived.
  const otherAddress = discovery?.[FLIP_PORT[FLIP_IP[event.role]]];
  const attributes: StunAttribute[] = [];
  let addressBytes = 0;
  const add = (type: number, value: Buffer, addr: TransportAddress): void => {
    attributes.push({ type, value });
    addressBytes += addressAttributeSize(addr);
  };
  if (hasMagicCookie(request)) {
    add(AttributeType.XorMappedAddress, encodeXorAddress(event.source, request.transactionId), event.source);
    // A NAT-discovery server also sends the plain MAPPED-ADDRESS: a payload-rewriting ALG alters it but
    // not the XORed one, so clients can detect such ALGs by comparing the two.
    if (discovery) add(AttributeType.MappedAddress, encodeAddress(event.source), event.source);
    if (otherAddress) add(AttributeType.OtherAddress, encodeAddress(otherAddress), otherAddress);
    if (responseOrigin) add(AttributeType.ResponseOrigin, encodeAddress(responseOrigin), responseOrigin);
  } else {
    // RFC 3489 §11.2: classic clients read MAPPED-ADDRESS, SOURCE-ADDRESS and CHANGED-ADDRESS.
    add(AttributeType.MappedAddress, encodeAddress(event.source), event.source);
    if (responseOrigin) add(AttributeType.SourceAddress, encodeAddress(responseOrigin), responseOrigin);
    if (otherAddress) add(AttributeType.ChangedAddress, encodeAddress(otherAddress), otherAddress);
  }
  const echo = getAttribute(request, ECHO_ATTRIBUTE);
  if (echo && echo.value.length <= ECHO_MAX_BYTES) {
    attributes.push({ type: ECHO_ATTRIBUTE, value: echo.value });
    addressBytes += 4 + padded(echo.value.length);
  }
  const data = finish(reply, MessageClass.SuccessResponse, attributes, addressBytes);
  return { kind: 'respond', data, from, to, method: request.method, result: 'success' };
}

/**
 * For a fast path that answers plain Binding requests (20 bytes, magic cookie, no attributes) on
 * one UDP socket itself: the bytes of this server's answer after its XOR-MAPPED-ADDRESS, which for
 * such a request depend only on the socket (RESPONSE-ORIGIN) and the configuration (SOFTWARE).
 * Undefined when the answer carries anything that depends on the client (RFC 5780 discovery mode
 * adds MAPPED-ADDRESS).
 */
export function plainBindingSuffix(config: BindingServerConfig, local: TransportAddress | undefined, family: TransportAddress['family']): Buffer | undefined {
  if (config.rfc5780) return undefined;
  const transactionId = Buffer.alloc(12);
  const data = encodeMessage({ method: Method.Binding, cls: MessageClass.Request, transactionId, cookie: MAGIC_COOKIE, attributes: [] });
  const decoded = decodeMessage(data);
  if (!decoded.ok) return undefined;
  const source: TransportAddress = family === 'IPv4' ? { family, address: '192.0.2.1', port: 1 } : { family, address: '2001:db8::1', port: 1 };
  const event: StunRequestEvent = { data, transport: 'udp', source, role: 'primary' };
  if (local) event.local = local;
  const out = handleBindingRequest(decoded.message, event, config);
  if (out.kind !== 'respond' || out.data.readUInt16BE(HEADER_LENGTH) !== AttributeType.XorMappedAddress) return undefined;
  return Buffer.from(out.data.subarray(HEADER_LENGTH + 4 + out.data.readUInt16BE(HEADER_LENGTH + 2)));
}
