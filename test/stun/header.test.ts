import t from 'tap';
import { MessageClass, Method } from '../../src/stun/constants.js';
import { decodeMessageType, encodeMessageType } from '../../src/stun/header.js';

// Message types as registered / used on the wire (RFC 8489 §5 and §18.2, RFC 8656 §17, RFC 6062 §6.1).
// Written out, not computed, so the test does not share the codec's bit arithmetic.
const KNOWN_TYPES: [string, number, MessageClass, number][] = [
  ['Binding request', Method.Binding, MessageClass.Request, 0x0001],
  ['Binding indication', Method.Binding, MessageClass.Indication, 0x0011],
  ['Binding success', Method.Binding, MessageClass.SuccessResponse, 0x0101],
  ['Binding error', Method.Binding, MessageClass.ErrorResponse, 0x0111],
  ['Allocate request', Method.Allocate, MessageClass.Request, 0x0003],
  ['Allocate success', Method.Allocate, MessageClass.SuccessResponse, 0x0103],
  ['Allocate error', Method.Allocate, MessageClass.ErrorResponse, 0x0113],
  ['Refresh request', Method.Refresh, MessageClass.Request, 0x0004],
  ['Refresh success', Method.Refresh, MessageClass.SuccessResponse, 0x0104],
  ['Refresh error', Method.Refresh, MessageClass.ErrorResponse, 0x0114],
  ['Send indication', Method.Send, MessageClass.Indication, 0x0016],
  ['Data indication', Method.Data, MessageClass.Indication, 0x0017],
  ['CreatePermission request', Method.CreatePermission, MessageClass.Request, 0x0008],
  ['CreatePermission success', Method.CreatePermission, MessageClass.SuccessResponse, 0x0108],
  ['CreatePermission error', Method.CreatePermission, MessageClass.ErrorResponse, 0x0118],
  ['ChannelBind request', Method.ChannelBind, MessageClass.Request, 0x0009],
  ['ChannelBind success', Method.ChannelBind, MessageClass.SuccessResponse, 0x0109],
  ['ChannelBind error', Method.ChannelBind, MessageClass.ErrorResponse, 0x0119],
  ['Connect request', Method.Connect, MessageClass.Request, 0x000a],
  ['Connect success', Method.Connect, MessageClass.SuccessResponse, 0x010a],
  ['Connect error', Method.Connect, MessageClass.ErrorResponse, 0x011a],
  ['ConnectionBind request', Method.ConnectionBind, MessageClass.Request, 0x000b],
  ['ConnectionBind success', Method.ConnectionBind, MessageClass.SuccessResponse, 0x010b],
  ['ConnectionBind error', Method.ConnectionBind, MessageClass.ErrorResponse, 0x011b],
  ['ConnectionAttempt indication', Method.ConnectionAttempt, MessageClass.Indication, 0x001c],
];

t.test('known message types', async (t) => {
  for (const [name, method, cls, type] of KNOWN_TYPES) {
    t.equal(encodeMessageType(method, cls), type, `${name} = 0x${type.toString(16).padStart(4, '0')}`);
    t.strictSame(decodeMessageType(type), { method, cls }, name);
  }
});

t.test('every method bit lands where RFC 8489 Figure 3 puts it', async (t) => {
  // M0–M3 → bits 0–3, M4–M6 → bits 5–7, M7–M11 → bits 9–13; C0 is bit 4 and C1 is bit 8.
  const methodBitTo = [0, 1, 2, 3, 5, 6, 7, 9, 10, 11, 12, 13];
  methodBitTo.forEach((to, from) => {
    t.equal(encodeMessageType(1 << from, MessageClass.Request), 1 << to, `M${from} → bit ${to}`);
    t.strictSame(decodeMessageType(1 << to), { method: 1 << from, cls: MessageClass.Request });
  });
  t.equal(encodeMessageType(0, MessageClass.Indication), 1 << 4, 'C0');
  t.equal(encodeMessageType(0, MessageClass.SuccessResponse), 1 << 8, 'C1');
  t.equal(encodeMessageType(0xfff, MessageClass.Request), 0x3eef);
  t.equal(encodeMessageType(0xfff, MessageClass.ErrorResponse), 0x3fff);
});

t.test('all 14-bit types round-trip, and the top two bits are never set', async (t) => {
  let bad = 0;
  for (let type = 0; type < 0x4000; type++) {
    const { method, cls } = decodeMessageType(type);
    if (encodeMessageType(method, cls) !== type || method > 0xfff || cls > 3) bad++;
  }
  t.equal(bad, 0);
  let high = 0;
  for (let method = 0; method <= 0xfff; method++) {
    for (const cls of Object.values(MessageClass)) if (encodeMessageType(method, cls) & 0xc000) high++;
  }
  t.equal(high, 0);
});
