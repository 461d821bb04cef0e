/**
 * The plain-Binding shortcut the data planes take (issue 6) must answer byte for byte what the
 * full handler answers, for every source family and server configuration, and must leave every
 * other datagram to the handler.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { MAGIC_COOKIE, MessageClass, Method } from '../../src/stun/constants.js';
import { decodeMessage, encodeMessage } from '../../src/stun/message.js';
import { plainBindingAnswer } from '../../src/stun/plain-binding.js';
import { handleStunMessage, plainBindingSuffix, type BindingServerConfig, type StunRequestEvent } from '../../src/stun/server.js';
import type { TransportAddress } from '../../src/stun/ip.js';

const plain = (transactionId: Buffer): Buffer =>
  encodeMessage({ method: Method.Binding, cls: MessageClass.Request, transactionId, cookie: MAGIC_COOKIE, attributes: [] });

const sources: TransportAddress[] = [
  { family: 'IPv4', address: '127.0.0.1', port: 40000 },
  { family: 'IPv4', address: '198.18.255.254', port: 1 },
  { family: 'IPv4', address: '0.0.0.0', port: 65535 },
  { family: 'IPv6', address: '::1', port: 3478 },
  { family: 'IPv6', address: '2001:db8:ffff::12:3456', port: 50123 },
];
const locals: Array<(family: TransportAddress['family']) => TransportAddress | undefined> = [
  () => undefined,
  (family) => (family === 'IPv4' ? { family, address: '198.18.0.10', port: 3478 } : { family, address: '::1', port: 3478 }),
];
const configs: BindingServerConfig[] = [{ software: 'turnkit' }, { software: null }, { software: 'x'.repeat(200) }, { software: 'café ☕' }];

t.test('answers exactly what handleBindingRequest answers', async (t) => {
  let checked = 0;
  for (const config of configs) {
    for (const makeLocal of locals) {
      for (const source of sources) {
        const local = makeLocal(source.family);
        const suffix = plainBindingSuffix(config, local, source.family);
        t.ok(suffix, 'a suffix exists outside RFC 5780 mode');
        for (let i = 0; i < 20; i++) {
          const data = plain(randomBytes(12));
          const event: StunRequestEvent = { data, transport: 'udp', source, role: 'primary' };
          if (local) event.local = local;
          const full = handleStunMessage(event, config);
          const fast = plainBindingAnswer(data, source.address, source.port, suffix!);
          if (full.kind !== 'respond' || !fast || !fast.equals(full.data)) {
            t.fail(`differs: ${JSON.stringify({ config, source, local, full: full.kind === 'respond' ? full.data.toString('hex') : full.kind, fast: fast?.toString('hex') })}`);
            return;
          }
          checked++;
        }
      }
    }
  }
  t.equal(checked, configs.length * locals.length * sources.length * 20, 'every case identical');
});

t.test('RFC 5780 mode has no fixed suffix: those answers carry client-dependent attributes', async (t) => {
  const a: TransportAddress = { family: 'IPv4', address: '198.18.0.10', port: 3478 };
  const config: BindingServerConfig = { software: 'turnkit', rfc5780: { primary: a, 'alt-port': { ...a, port: 3479 }, 'alt-ip': { ...a, address: '198.18.0.11' }, 'alt-both': { ...a, address: '198.18.0.11', port: 3479 } } };
  t.equal(plainBindingSuffix(config, a, 'IPv4'), undefined);
});

t.test('anything but a plain Binding request is left to the handler', async (t) => {
  const suffix = plainBindingSuffix({ software: 'turnkit' }, undefined, 'IPv4')!;
  const txid = Buffer.alloc(12, 9);
  const ok = plain(txid);
  const cases: Array<[string, Buffer]> = [
    ['with FINGERPRINT', encodeMessage({ method: Method.Binding, cls: MessageClass.Request, transactionId: txid, cookie: MAGIC_COOKIE, attributes: [] }, { fingerprint: true })],
    ['RFC 3489 (no magic cookie)', Buffer.concat([ok.subarray(0, 4), Buffer.alloc(16, 7)])],
    ['an indication', encodeMessage({ method: Method.Binding, cls: MessageClass.Indication, transactionId: txid, cookie: MAGIC_COOKIE, attributes: [] })],
    ['a success response', encodeMessage({ method: Method.Binding, cls: MessageClass.SuccessResponse, transactionId: txid, cookie: MAGIC_COOKIE, attributes: [] })],
    ['an Allocate', encodeMessage({ method: Method.Allocate, cls: MessageClass.Request, transactionId: txid, cookie: MAGIC_COOKIE, attributes: [] })],
    ['truncated', ok.subarray(0, 19)],
    ['a trailing byte', Buffer.concat([ok, Buffer.alloc(1)])],
    ['a length field that lies', Buffer.concat([ok.subarray(0, 2), Buffer.from([0, 4]), ok.subarray(4)])],
    ['ChannelData', Buffer.concat([Buffer.from([0x40, 0, 0, 16]), Buffer.alloc(16)])],
  ];
  for (const [what, data] of cases) t.equal(plainBindingAnswer(data, '127.0.0.1', 1, suffix), undefined, what);
  t.equal(plainBindingAnswer(ok, 'not-an-ip', 1, suffix), undefined, 'a source that is not an IP literal');
  const answer = plainBindingAnswer(ok, '127.0.0.1', 1, suffix);
  const decoded = answer && decodeMessage(answer);
  t.ok(decoded && decoded.ok && decoded.message.cls === MessageClass.SuccessResponse, 'the plain one is answered with a valid success response');
});
