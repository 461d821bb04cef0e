import t from 'tap';
import {
  AddressFamily,
  ERROR_REASONS,
  ErrorCode,
  FINGERPRINT_XOR,
  HEADER_LENGTH,
  isComprehensionRequired,
  MAGIC_COOKIE,
  MessageClass,
  PasswordAlgorithm,
} from '../../src/stun/constants.js';

// STUN Error Codes registry: number and reason phrase as the RFCs give them
// (RFC 8489 §14.8, RFC 8656 §18 and §17, RFC 8445 §16.1 for 487, RFC 6062 §6.3 for 446/447).
const ERRORS: [keyof typeof ErrorCode, number, string][] = [
  ['TryAlternate', 300, 'Try Alternate'],
  ['BadRequest', 400, 'Bad Request'],
  ['Unauthenticated', 401, 'Unauthenticated'],
  ['Forbidden', 403, 'Forbidden'],
  ['UnknownAttribute', 420, 'Unknown Attribute'],
  ['AllocationMismatch', 437, 'Allocation Mismatch'],
  ['StaleNonce', 438, 'Stale Nonce'],
  ['AddressFamilyNotSupported', 440, 'Address Family not Supported'],
  ['WrongCredentials', 441, 'Wrong Credentials'],
  ['UnsupportedTransportProtocol', 442, 'Unsupported Transport Protocol'],
  ['PeerAddressFamilyMismatch', 443, 'Peer Address Family Mismatch'],
  ['ConnectionAlreadyExists', 446, 'Connection Already Exists'],
  ['ConnectionTimeoutOrFailure', 447, 'Connection Timeout or Failure'],
  ['AllocationQuotaReached', 486, 'Allocation Quota Reached'],
  ['RoleConflict', 487, 'Role Conflict'],
  ['ServerError', 500, 'Server Error'],
  ['InsufficientCapacity', 508, 'Insufficient Capacity'],
];

t.test('ErrorCode numbers and default reason phrases', async (t) => {
  for (const [key, code, reason] of ERRORS) {
    t.equal(ErrorCode[key], code, key);
    t.equal(ERROR_REASONS[code], reason, `${code} ${reason}`);
  }
  t.strictSame(Object.keys(ErrorCode).sort(), ERRORS.map((e) => e[0]).sort());
  t.strictSame(
    Object.keys(ERROR_REASONS).map(Number).sort(),
    ERRORS.map((e) => e[1]).sort(),
    'a reason for every code, and no others',
  );
});

t.test('header constants (RFC 8489 §5, §14.7)', async (t) => {
  t.equal(MAGIC_COOKIE, 0x2112a442);
  t.equal(HEADER_LENGTH, 20);
  t.equal(FINGERPRINT_XOR, 0x5354554e);
  t.equal(Buffer.from('5354554e', 'hex').toString(), 'STUN', 'the XOR constant spells STUN');
  // Class bits C1 C0: 0b00 request, 0b01 indication, 0b10 success, 0b11 error.
  t.strictSame(MessageClass, { Request: 0, Indication: 1, SuccessResponse: 2, ErrorResponse: 3 });
});

t.test('PASSWORD-ALGORITHM registry (RFC 8489 §18.5) and address families (§14.1)', async (t) => {
  t.strictSame(PasswordAlgorithm, { MD5: 0x0001, SHA256: 0x0002 });
  t.strictSame(AddressFamily, { IPv4: 0x01, IPv6: 0x02 });
});

t.test('comprehension-required range is 0x0000–0x7FFF (RFC 8489 §14)', async (t) => {
  t.ok(isComprehensionRequired(0x0000));
  t.ok(isComprehensionRequired(0x7fff));
  t.notOk(isComprehensionRequired(0x8000));
  t.notOk(isComprehensionRequired(0xffff));
});
