/** RFC 8489 §5: the fixed magic cookie that marks a post-RFC 3489 STUN message. */
export const MAGIC_COOKIE = 0x2112a442;

/** RFC 8489 §5: size of the STUN message header in bytes. */
export const HEADER_LENGTH = 20;

/** RFC 8489 §14.7: value XORed into the CRC-32 of FINGERPRINT. */
export const FINGERPRINT_XOR = 0x5354554e;

/** RFC 8489 §5: the four message classes, as the two class bits (C1 C0). */
export const MessageClass = {
  Request: 0b00,
  Indication: 0b01,
  SuccessResponse: 0b10,
  ErrorResponse: 0b11,
} as const;
/** One of the four STUN message classes. */
export type MessageClass = (typeof MessageClass)[keyof typeof MessageClass];

/** STUN/TURN methods from the IANA "STUN Methods" registry (RFC 8489 §18.2, RFC 8656 §17, RFC 6062 §6.1). */
export const Method = {
  Binding: 0x001,
  Allocate: 0x003,
  Refresh: 0x004,
  Send: 0x006,
  Data: 0x007,
  CreatePermission: 0x008,
  ChannelBind: 0x009,
  Connect: 0x00a,
  ConnectionBind: 0x00b,
  ConnectionAttempt: 0x00c,
} as const;
/** A 12-bit STUN method number. */
export type Method = number;

/** STUN attribute types from the IANA registry (RFC 8489 §18.3, RFC 5780 §9.1, RFC 8656 §17, RFC 3489 §11.2, RFC 8445 §16.1). */
export const AttributeType = {
  // Comprehension-required (0x0000–0x7FFF)
  MappedAddress: 0x0001,
  ResponseAddress: 0x0002, // RFC 3489 only
  ChangeRequest: 0x0003, // RFC 5780 §7.2
  SourceAddress: 0x0004, // RFC 3489 only
  ChangedAddress: 0x0005, // RFC 3489 only
  Username: 0x0006,
  Password: 0x0007, // RFC 3489 only
  MessageIntegrity: 0x0008,
  ErrorCode: 0x0009,
  UnknownAttributes: 0x000a,
  ReflectedFrom: 0x000b, // RFC 3489 only
  ChannelNumber: 0x000c,
  Lifetime: 0x000d,
  XorPeerAddress: 0x0012,
  Data: 0x0013,
  Realm: 0x0014,
  Nonce: 0x0015,
  XorRelayedAddress: 0x0016,
  RequestedAddressFamily: 0x0017,
  EvenPort: 0x0018,
  RequestedTransport: 0x0019,
  DontFragment: 0x001a,
  MessageIntegritySha256: 0x001c,
  PasswordAlgorithm: 0x001d,
  Userhash: 0x001e,
  XorMappedAddress: 0x0020,
  ReservationToken: 0x0022,
  Priority: 0x0024,
  UseCandidate: 0x0025,
  Padding: 0x0026, // RFC 5780 §7.4
  ResponsePort: 0x0027, // RFC 5780 §7.5
  ConnectionId: 0x002a,
  // Comprehension-optional (0x8000–0xFFFF)
  AdditionalAddressFamily: 0x8000,
  AddressErrorCode: 0x8001,
  PasswordAlgorithms: 0x8002,
  AlternateDomain: 0x8003,
  Icmp: 0x8004,
  Software: 0x8022,
  AlternateServer: 0x8023,
  TransactionTransmitCounter: 0x8025,
  CacheTimeout: 0x8027, // RFC 5780 §7.6
  Fingerprint: 0x8028,
  IceControlled: 0x8029,
  IceControlling: 0x802a,
  ResponseOrigin: 0x802b, // RFC 5780 §7.3
  OtherAddress: 0x802c, // RFC 5780 §7.4
} as const;
/** A 16-bit STUN attribute type. */
export type AttributeType = number;

/** RFC 8489 §14: types 0x0000–0x7FFF must be understood; the rest may be ignored. */
export function isComprehensionRequired(type: number): boolean {
  return type < 0x8000;
}

/** STUN error codes used by turnkit (RFC 8489 §14.8, RFC 8656 §18, RFC 6062 §6.3). */
export const ErrorCode = {
  TryAlternate: 300,
  BadRequest: 400,
  Unauthenticated: 401,
  Forbidden: 403,
  UnknownAttribute: 420,
  AllocationMismatch: 437,
  StaleNonce: 438,
  AddressFamilyNotSupported: 440,
  WrongCredentials: 441,
  UnsupportedTransportProtocol: 442,
  PeerAddressFamilyMismatch: 443,
  ConnectionAlreadyExists: 446,
  ConnectionTimeoutOrFailure: 447,
  AllocationQuotaReached: 486,
  RoleConflict: 487,
  ServerError: 500,
  InsufficientCapacity: 508,
} as const;
/** A STUN error code number (300–699). */
export type ErrorCode = number;

/** Default reason phrases (RFC 8489 §14.8 and RFC 8656 §18). */
export const ERROR_REASONS: Readonly<Record<number, string>> = {
  300: 'Try Alternate',
  400: 'Bad Request',
  401: 'Unauthenticated',
  403: 'Forbidden',
  420: 'Unknown Attribute',
  437: 'Allocation Mismatch',
  438: 'Stale Nonce',
  440: 'Address Family not Supported',
  441: 'Wrong Credentials',
  442: 'Unsupported Transport Protocol',
  443: 'Peer Address Family Mismatch',
  446: 'Connection Already Exists',
  447: 'Connection Timeout or Failure',
  486: 'Allocation Quota Reached',
  487: 'Role Conflict',
  500: 'Server Error',
  508: 'Insufficient Capacity',
};

/** RFC 8489 §18.5: PASSWORD-ALGORITHM numbers. */
export const PasswordAlgorithm = {
  MD5: 0x0001,
  SHA256: 0x0002,
} as const;
/** One of the registered password algorithms. */
export type PasswordAlgorithm = (typeof PasswordAlgorithm)[keyof typeof PasswordAlgorithm];

/** RFC 8489 §14.1 address family octet. */
export const AddressFamily = {
  IPv4: 0x01,
  IPv6: 0x02,
} as const;
/** The address family octet of an address attribute. */
export type AddressFamily = (typeof AddressFamily)[keyof typeof AddressFamily];
