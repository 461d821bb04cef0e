/**
 * The IANA "STUN Attributes" and "STUN Methods" registries, typed in from the RFCs (RFC 8489
 * §18.2–18.3, RFC 5780 §9.1, RFC 8656 §17, RFC 3489 §11.2, RFC 8445 §16.1, RFC 6062 §6, RFC 7982
 * §4), checked against both the constants and the names printed for them.
 */
import t from 'tap';
import { AttributeType, Method } from '../../src/stun/constants.js';
import { attributeName, methodName } from '../../src/stun/names.js';

// [constant key, registry number, registry name, where it is registered]
const ATTRIBUTES: [keyof typeof AttributeType, number, string, string][] = [
  ['MappedAddress', 0x0001, 'MAPPED-ADDRESS', 'RFC 8489'],
  ['ResponseAddress', 0x0002, 'RESPONSE-ADDRESS', 'RFC 3489'],
  ['ChangeRequest', 0x0003, 'CHANGE-REQUEST', 'RFC 5780'],
  ['SourceAddress', 0x0004, 'SOURCE-ADDRESS', 'RFC 3489'],
  ['ChangedAddress', 0x0005, 'CHANGED-ADDRESS', 'RFC 3489'],
  ['Username', 0x0006, 'USERNAME', 'RFC 8489'],
  ['Password', 0x0007, 'PASSWORD', 'RFC 3489'],
  ['MessageIntegrity', 0x0008, 'MESSAGE-INTEGRITY', 'RFC 8489'],
  ['ErrorCode', 0x0009, 'ERROR-CODE', 'RFC 8489'],
  ['UnknownAttributes', 0x000a, 'UNKNOWN-ATTRIBUTES', 'RFC 8489'],
  ['ReflectedFrom', 0x000b, 'REFLECTED-FROM', 'RFC 3489'],
  ['ChannelNumber', 0x000c, 'CHANNEL-NUMBER', 'RFC 8656'],
  ['Lifetime', 0x000d, 'LIFETIME', 'RFC 8656'],
  ['XorPeerAddress', 0x0012, 'XOR-PEER-ADDRESS', 'RFC 8656'],
  ['Data', 0x0013, 'DATA', 'RFC 8656'],
  ['Realm', 0x0014, 'REALM', 'RFC 8489'],
  ['Nonce', 0x0015, 'NONCE', 'RFC 8489'],
  ['XorRelayedAddress', 0x0016, 'XOR-RELAYED-ADDRESS', 'RFC 8656'],
  ['RequestedAddressFamily', 0x0017, 'REQUESTED-ADDRESS-FAMILY', 'RFC 8656'],
  ['EvenPort', 0x0018, 'EVEN-PORT', 'RFC 8656'],
  ['RequestedTransport', 0x0019, 'REQUESTED-TRANSPORT', 'RFC 8656'],
  ['DontFragment', 0x001a, 'DONT-FRAGMENT', 'RFC 8656'],
  ['MessageIntegritySha256', 0x001c, 'MESSAGE-INTEGRITY-SHA256', 'RFC 8489'],
  ['PasswordAlgorithm', 0x001d, 'PASSWORD-ALGORITHM', 'RFC 8489'],
  ['Userhash', 0x001e, 'USERHASH', 'RFC 8489'],
  ['XorMappedAddress', 0x0020, 'XOR-MAPPED-ADDRESS', 'RFC 8489'],
  ['ReservationToken', 0x0022, 'RESERVATION-TOKEN', 'RFC 8656'],
  ['Priority', 0x0024, 'PRIORITY', 'RFC 8445'],
  ['UseCandidate', 0x0025, 'USE-CANDIDATE', 'RFC 8445'],
  ['Padding', 0x0026, 'PADDING', 'RFC 5780'],
  ['ResponsePort', 0x0027, 'RESPONSE-PORT', 'RFC 5780'],
  ['ConnectionId', 0x002a, 'CONNECTION-ID', 'RFC 6062'],
  ['AdditionalAddressFamily', 0x8000, 'ADDITIONAL-ADDRESS-FAMILY', 'RFC 8656'],
  ['AddressErrorCode', 0x8001, 'ADDRESS-ERROR-CODE', 'RFC 8656'],
  ['PasswordAlgorithms', 0x8002, 'PASSWORD-ALGORITHMS', 'RFC 8489'],
  ['AlternateDomain', 0x8003, 'ALTERNATE-DOMAIN', 'RFC 8489'],
  ['Icmp', 0x8004, 'ICMP', 'RFC 8656'],
  ['Software', 0x8022, 'SOFTWARE', 'RFC 8489'],
  ['AlternateServer', 0x8023, 'ALTERNATE-SERVER', 'RFC 8489'],
  // Registered with underscores, unlike every other attribute.
  ['TransactionTransmitCounter', 0x8025, 'TRANSACTION_TRANSMIT_COUNTER', 'RFC 7982'],
  ['CacheTimeout', 0x8027, 'CACHE-TIMEOUT', 'RFC 5780'],
  ['Fingerprint', 0x8028, 'FINGERPRINT', 'RFC 8489'],
  ['IceControlled', 0x8029, 'ICE-CONTROLLED', 'RFC 8445'],
  ['IceControlling', 0x802a, 'ICE-CONTROLLING', 'RFC 8445'],
  ['ResponseOrigin', 0x802b, 'RESPONSE-ORIGIN', 'RFC 5780'],
  ['OtherAddress', 0x802c, 'OTHER-ADDRESS', 'RFC 5780'],
];

const METHODS: [keyof typeof Method, number, string, string][] = [
  ['Binding', 0x001, 'Binding', 'RFC 8489'],
  ['Allocate', 0x003, 'Allocate', 'RFC 8656'],
  ['Refresh', 0x004, 'Refresh', 'RFC 8656'],
  ['Send', 0x006, 'Send', 'RFC 8656'],
  ['Data', 0x007, 'Data', 'RFC 8656'],
  ['CreatePermission', 0x008, 'CreatePermission', 'RFC 8656'],
  ['ChannelBind', 0x009, 'ChannelBind', 'RFC 8656'],
  ['Connect', 0x00a, 'Connect', 'RFC 6062'],
  ['ConnectionBind', 0x00b, 'ConnectionBind', 'RFC 6062'],
  ['ConnectionAttempt', 0x00c, 'ConnectionAttempt', 'RFC 6062'],
];

t.test('AttributeType matches the IANA registry', async (t) => {
  for (const [key, number, name, rfc] of ATTRIBUTES) {
    t.equal(AttributeType[key], number, `${key} = 0x${number.toString(16).padStart(4, '0')} (${rfc})`);
    t.equal(attributeName(number), name, `0x${number.toString(16).padStart(4, '0')} is ${name}`);
  }
  // Every constant is in the table, so a new one has to be checked against the registry too.
  t.strictSame(Object.keys(AttributeType).sort(), ATTRIBUTES.map((a) => a[0]).sort());
  const values = Object.values(AttributeType);
  t.equal(new Set(values).size, values.length, 'no two constants share a number');
});

t.test('Method matches the IANA registry', async (t) => {
  for (const [key, number, name, rfc] of METHODS) {
    t.equal(Method[key], number, `${key} = 0x${number.toString(16).padStart(3, '0')} (${rfc})`);
    t.equal(methodName(number), name);
  }
  t.strictSame(Object.keys(Method).sort(), METHODS.map((m) => m[0]).sort());
});

t.test('unregistered numbers print as hex', async (t) => {
  t.equal(attributeName(0x0000), '0x0000', 'reserved');
  t.equal(attributeName(0x0010), '0x0010', 'was BANDWIDTH, now reserved');
  t.equal(attributeName(0x7fff), '0x7fff');
  t.equal(attributeName(0xc001), '0xc001');
  t.equal(methodName(0x000), '0x000');
  t.equal(methodName(0x002), '0x002', 'was SharedSecret (RFC 3489), now reserved');
  t.equal(methodName(0xabc), '0xabc');
});
