import t from 'tap';
import { ConfigError } from '../src/errors.js';
import { DEFAULTS, isWildcard, parseHostPort, parseUser, resolveConfig } from '../src/config.js';

t.test('parseHostPort takes IPv4, bracketed IPv6 and bare IPs', async (t) => {
  t.same(parseHostPort('127.0.0.1:3478', '--listen', 1), { host: '127.0.0.1', port: 3478 });
  t.same(parseHostPort('[::1]:5349', '--listen', 1), { host: '::1', port: 5349 });
  t.same(parseHostPort('[::1]', '--listen', 3478), { host: '::1', port: 3478 });
  t.same(parseHostPort('::1', '--listen', 3478), { host: '::1', port: 3478 });
  t.same(parseHostPort('10.0.0.1', '--listen', 3478), { host: '10.0.0.1', port: 3478 });
});

t.test('parseHostPort rejects bad input with a message naming the option and the value', async (t) => {
  for (const bad of ['1.2.3:99', 'localhost:3478', '127.0.0.1:65536', '127.0.0.1:-1', '127.0.0.1:abc', '[::1:3478', '']) {
    t.throws(() => parseHostPort(bad, '--listen', 3478), ConfigError, bad);
  }
  try {
    parseHostPort('127.0.0.1:99999', '--listen', 3478);
  } catch (err) {
    t.match((err as Error).message, /--listen "127\.0\.0\.1:99999".*0 to 65535/);
    t.equal((err as ConfigError).code, 'ERR_CONFIG_INVALID');
  }
});

t.test('parseHostPort: an unbracketed IPv6 address with what looks like a port is refused as ambiguous', async (t) => {
  t.throws(() => parseHostPort('::1:3478', '--listen', 3478), { message: /--listen "::1:3478": ambiguous: write \[::1\]:3478 for an address and port, or \[::1:3478\] for the address alone/ });
  t.throws(() => parseHostPort('fe80::1:2', '--metrics-listen', 9641), { message: /ambiguous/ });
  t.same(parseHostPort('[::1:3478]', '--listen', 3478), { host: '::1:3478', port: 3478 }, 'brackets make it an address');
  t.same(parseHostPort('2001:db8::1', '--listen', 3478), { host: '2001:db8::1', port: 3478 }, 'no port-like tail: a bare address');
  t.throws(() => parseHostPort('[127.0.0.1]:3478', '--listen', 3478), { message: /brackets are for IPv6 addresses only/ });
  t.throws(() => parseHostPort('[::1]:', '--listen', 3478), { message: /port must be a number/ });
  t.throws(() => parseHostPort('[fe80::1%eth0]:3478', '--listen', 3478), { message: /is not an IP address/ });
});

t.test('--relay-ip: one address per family; the families given are the ones relayed', async (t) => {
  t.same(resolveConfig({}).relayIps, {}, 'default: none (chosen per client)');
  t.same(resolveConfig({ relayIp: '192.0.2.10' }).relayIps, { IPv4: '192.0.2.10' }, 'one address, as a plain string');
  t.same(resolveConfig({ relayIp: ['192.0.2.10', '2001:db8::10'] }).relayIps, { IPv4: '192.0.2.10', IPv6: '2001:db8::10' });
  t.same(resolveConfig({ relayIp: ['::1'] }).relayIps, { IPv6: '::1' });
  t.throws(() => resolveConfig({ relayIp: ['192.0.2.10', '192.0.2.11'] }), { message: /--relay-ip "192\.0\.2\.11": one IPv4 address is already given \(192\.0\.2\.10\); use at most one IPv4 and one IPv6 address/ });
  t.throws(() => resolveConfig({ relayIp: ['::'] }), { message: /--relay-ip "::": give a specific local IP/ });
});

t.test('alternate servers: IP:PORT lists for UDP/TCP and TLS, and the TLS domain', async (t) => {
  const c = resolveConfig({
    alternateServers: [{ host: '192.0.2.20', port: 3478 }, { host: '2001:db8::20', port: 3478 }],
    tlsAlternateServers: [{ host: '192.0.2.20', port: 5349 }],
    alternateDomain: 'turn2.example.com',
  });
  t.same(c.alternateServers, [{ host: '192.0.2.20', port: 3478 }, { host: '2001:db8::20', port: 3478 }]);
  t.same(c.tlsAlternateServers, [{ host: '192.0.2.20', port: 5349 }]);
  t.equal(c.alternateDomain, 'turn2.example.com');
  t.same(resolveConfig({}).alternateServers, [], 'none by default');
  t.throws(() => resolveConfig({ alternateServers: [{ host: '0.0.0.0', port: 3478 }] }), { message: /--alternate-server 0\.0\.0\.0:3478: give the specific IP address and port/ });
  t.throws(() => resolveConfig({ tlsAlternateServers: [{ host: '::1', port: 0 }] }), { message: /--tls-alternate-server \[::1\]:0/ });
  t.throws(() => resolveConfig({ tlsAlternateServers: [{ host: '192.0.2.20', port: 5349 }], alternateDomain: 'not a name' }), { message: /--alternate-domain "not a name": give a DNS name/ });
  t.throws(() => resolveConfig({ alternateDomain: 'turn.example.com' }), { message: /--alternate-domain .* add --tls-alternate-server/ });
});

t.test('defaults: UDP/TCP on 3478 and TLS on 5349, both families, SOFTWARE without a version', async (t) => {
  const c = resolveConfig({});
  t.same(c.listen, DEFAULTS.listen);
  t.same(c.listen.map((l) => l.port), [3478, 3478]);
  t.same(c.tlsListen.map((l) => l.port), [5349, 5349]);
  t.equal(c.software, 'turnkit');
  t.equal(c.defaultListeners, true);
  t.equal(c.cert, undefined);
  t.equal(resolveConfig({ listen: [{ host: '127.0.0.1', port: 1 }] }).defaultListeners, false);
});

t.test('RFC 5780 alternate address: pairs with the first listen of its family, alt port defaults to +1', async (t) => {
  const c = resolveConfig({ listen: [{ host: '127.0.0.1', port: 4000 }], altAddress: '127.0.0.2' });
  t.equal(c.altAddress, '127.0.0.2');
  t.equal(c.altPort, 4001);
  t.equal(resolveConfig({ listen: [{ host: '127.0.0.1', port: 4000 }], altAddress: '127.0.0.2', altPort: 5000 }).altPort, 5000);
});

const invalid: Array<[string, Parameters<typeof resolveConfig>[0], RegExp]> = [
  ['alt address with wildcard listen', { altAddress: '127.0.0.2' }, /specific --listen/],
  ['alt address not an IP', { listen: [{ host: '127.0.0.1', port: 1 }], altAddress: 'nope' }, /not an IP/],
  ['alt address equal to listen', { listen: [{ host: '127.0.0.1', port: 1 }], altAddress: '127.0.0.1' }, /must differ/],
  ['alt address of another family', { listen: [{ host: '127.0.0.1', port: 1 }], altAddress: '::2' }, /same IP family/],
  ['alt port equal to listen port', { listen: [{ host: '127.0.0.1', port: 1 }], altAddress: '127.0.0.2', altPort: 1 }, /--alt-port/],
  ['alt port without alt address', { altPort: 4000 }, /--alt-port needs --alt-address/],
  ['alt address with port 0 and no alt port', { listen: [{ host: '127.0.0.1', port: 0 }], altAddress: '127.0.0.2' }, /explicit --alt-port/],
  ['cert without key', { cert: '/x' }, /--cert and --key go together/],
  ['tls-listen without cert', { tlsListen: [{ host: '127.0.0.1', port: 1 }] }, /--tls-listen needs a certificate/],
  ['log level', { logLevel: 'loud' }, /--log-level "loud": use one of debug/],
  ['idle timeout 0', { streamIdleTimeout: 0 }, /--stream-idle-timeout/],
  ['software too long', { software: 'x'.repeat(800) }, /--software/],
  ['duplicate listen', { listen: [{ host: '127.0.0.1', port: 7 }, { host: '127.0.0.1', port: 7 }] }, /given twice/],
  ['relay ports reversed', { relayPorts: '60000-50000' }, /--relay-ports "60000-50000": use MIN-MAX within 1024-65535/],
  ['relay ports below 1024', { relayPorts: '80-90' }, /--relay-ports/],
  ['relay ports not a range', { relayPorts: '50000' }, /--relay-ports/],
  ['relay ip wildcard', { relayIp: '0.0.0.0' }, /--relay-ip "0\.0\.0\.0": give a specific local IP/],
  ['external ip not an IP', { externalIp: 'example.com' }, /--external-ip "example\.com"/],
  ['external ip bad private part', { externalIp: '203.0.113.1/nope' }, /--external-ip/],
  ['empty realm', { realm: '' }, /--realm/],
  ['empty secret', { secrets: ['a', ''] }, /--secret: a shared secret cannot be empty/],
  ['negative quota', { maxAllocationsPerUser: -1 }, /--max-allocations-per-user "-1"/],
  ['max lifetime below the default', { maxLifetime: 60 }, /--max-lifetime "60": use a whole number from 600/],
  ['zero permissions', { maxPermissions: 0 }, /--max-permissions/],
  ['handshake timeout 0', { streamHandshakeTimeout: 0 }, /--stream-handshake-timeout "0": use a whole number from 1 to 300/],
  ['max message below 1280', { streamMaxMessage: 100 }, /--stream-max-message "100": use a whole number from 1280 to 65552/],
  ['max message above the framing limit', { streamMaxMessage: 70000 }, /--stream-max-message/],
  ['max buffered too small', { streamMaxBuffered: 1000 }, /--stream-max-buffered "1000"/],
  ['negative connections per ip', { maxConnectionsPerIp: -1 }, /--max-connections-per-ip "-1"/],
  ['fractional connection limit', { maxConnections: 1.5 }, /--max-connections "1.5"/],
];

t.test('stream limits: defaults and overrides', async (t) => {
  const d = resolveConfig({});
  t.same(
    [d.streamHandshakeTimeout, d.streamMaxMessage, d.streamMaxBuffered, d.maxConnectionsPerIp, d.maxConnections],
    [10, 65552, 262144, 64, 10000],
    'handshake 10 s, frames up to the framing maximum, 256 KiB per client, 64 per IP, 10000 in all',
  );
  const c = resolveConfig({ streamHandshakeTimeout: 3, streamMaxMessage: 1500, streamMaxBuffered: 65536, maxConnectionsPerIp: 0, maxConnections: 0 });
  t.same([c.streamHandshakeTimeout, c.streamMaxMessage, c.streamMaxBuffered, c.maxConnectionsPerIp, c.maxConnections], [3, 1500, 65536, 0, 0]);
});
for (const [name, input, message] of invalid) {
  t.test(`invalid: ${name}`, async (t) => {
    t.throws(() => resolveConfig(input), { name: 'ConfigError', code: 'ERR_CONFIG_INVALID', message });
  });
}

t.test('TURN settings: defaults, and values taken as given', async (t) => {
  const d = resolveConfig({});
  t.same(d.relayPorts, { min: 49152, max: 65535 });
  t.same(d.quotas, { perUser: 64, perClientIp: 100, total: 0 });
  t.equal(d.defaultLifetime, 600);
  t.equal(d.maxLifetime, 3600);
  t.same(d.secrets, []);
  t.same(d.users, {});
  const c = resolveConfig({ relayPorts: '50000-50100', externalIp: '203.0.113.7/10.0.0.5', secrets: ['s1', 's2'], realm: 'example.org' });
  t.same(c.relayPorts, { min: 50000, max: 50100 });
  t.same(c.externalIp, { public: '203.0.113.7', private: '10.0.0.5' });
  t.same(c.secrets, ['s1', 's2']);
  t.equal(c.realm, 'example.org');
});

t.test('the conferencing page is on by default only on a loopback HTTP listener', async (t) => {
  t.equal(resolveConfig({}).web, true, 'default 127.0.0.1:8080');
  const key = 'k'.repeat(20);
  t.equal(resolveConfig({ httpListen: { host: '0.0.0.0', port: 8080 }, apiKeys: [key] }).web, false, 'public listener: off');
  t.equal(resolveConfig({ httpListen: { host: '0.0.0.0', port: 8080 }, apiKeys: [key], web: true }).web, true, 'unless asked for');
  t.equal(resolveConfig({ web: false }).web, false);
  t.equal(resolveConfig({ httpListen: null }).web, false, 'no listener, no page');
});

t.test('parseUser splits at the first colon only', async (t) => {
  t.same(parseUser('alice:pa:ss', '--user'), ['alice', 'pa:ss']);
  t.throws(() => parseUser(':pw', '--user'), { code: 'ERR_CONFIG_INVALID' });
  t.throws(() => parseUser('alice:', '--user'), { code: 'ERR_CONFIG_INVALID' });
});

t.test('parseUser names the key it was given and never echoes the text (without its colon it may be a password)', async (t) => {
  t.throws(() => parseUser('alice=hunter2', 'TURNKIT_USERS'), { message: /^TURNKIT_USERS: expected NAME:PASSWORD with neither part empty/ });
  try {
    parseUser('alice=hunter2', 'TURNKIT_USERS');
  } catch (err) {
    t.notMatch((err as Error).message, /hunter2/);
  }
});

t.test('isWildcard', async (t) => {
  t.ok(isWildcard('0.0.0.0'));
  t.ok(isWildcard('::'));
  t.notOk(isWildcard('127.0.0.1'));
  t.notOk(isWildcard('::1'));
});
