import t from 'tap';
import { formatIp, parseIp, parseIPv4, parseIPv6 } from '../../src/stun/ip.js';
import { hex } from './rfc-reference.js';

t.test('parseIPv4', async (t) => {
  t.equal(hex(parseIPv4('192.0.2.1')!), 'c0000201');
  t.equal(hex(parseIPv4('0.0.0.0')!), '00000000');
  t.equal(hex(parseIPv4('255.255.255.255')!), 'ffffffff');
  t.equal(hex(parseIPv4('10.9.99.199')!), '0a0963c7');
  const bad = [
    '', '1', '1.2.3', '1.2.3.4.5', '256.0.0.1', '1.2.3.300', '-1.2.3.4', '1.2.3.-4', '01.2.3.4', '1.2.3.04',
    '1..2.3', '1.2.3.', '.1.2.3', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.4\n', 'a.b.c.d', '0x1.2.3.4', '1e2.0.0.1',
    '\u0661.2.3.4', '１.2.3.4', '::1', '1.2.3.4/32',
  ];
  for (const s of bad) t.equal(parseIPv4(s), undefined, JSON.stringify(s));
});

t.test('parseIPv6', async (t) => {
  const cases: [string, string][] = [
    ['::', '00000000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['1::', '00010000000000000000000000000000'],
    ['2001:db8::2', '20010db8000000000000000000000002'],
    ['2001:DB8::2', '20010db8000000000000000000000002'],
    ['2001:0db8:0000:0000:0000:0000:0000:0002', '20010db8000000000000000000000002'],
    ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
    ['1:2:3:4:5:6:7::', '00010002000300040005000600070000'],
    ['::2:3:4:5:6:7:8', '00000002000300040005000600070008'],
    ['2001:db8:1234:5678:11:2233:4455:6677', '20010db8123456780011223344556677'],
    ['fe80::1', 'fe800000000000000000000000000001'],
    // RFC 4291 §2.2 form 3: embedded IPv4 in the last 32 bits.
    ['::ffff:1.2.3.4', '00000000000000000000ffff01020304'],
    ['::FFFF:192.0.2.128', '00000000000000000000ffffc0000280'],
    ['::1.2.3.4', '00000000000000000000000001020304'],
    ['64:ff9b::192.0.2.33', '0064ff9b0000000000000000c0000221'],
    ['1:2:3:4:5:6:1.2.3.4', '00010002000300040005000601020304'],
    ['ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255', 'ffffffffffffffffffffffffffffffff'],
  ];
  for (const [text, bytes] of cases) t.equal(hex(parseIPv6(text) ?? Buffer.alloc(0)), bytes, text);

  const bad = [
    '', ':', ':::', '::::', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', ':1:2:3:4:5:6:7', '1:2:3:4:5:6:7:',
    '12345::', 'g::', '::g', '1:2:3:4:5:6:7:8::', '::1:2:3:4:5:6:7:8', 'fe80::1%eth0', '::ffff:1.2.3',
    '::ffff:256.1.1.1', '::ffff:1.2.3.04', '1.2.3.4', '::1.2.3.4:5', '1:2:3:4:5:6:7:1.2.3.4', '1.2.3.4::',
    ' ::1', '::1 ', '[::1]', '::-1', '::+1', '::0x1', 'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255:1',
    '::ffff:1.2.3.4.5',
  ];
  for (const s of bad) t.equal(parseIPv6(s), undefined, JSON.stringify(s));
});

t.test('parseIp picks the family', async (t) => {
  t.strictSame(parseIp('192.0.2.1'), { family: 'IPv4', bytes: Buffer.from([192, 0, 2, 1]) });
  t.equal(parseIp('::ffff:192.0.2.1')?.family, 'IPv6', 'a mapped address is written as IPv6');
  t.equal(parseIp('2001:db8::1')?.family, 'IPv6');
  for (const s of ['', 'localhost', 'example.org', '1.2.3', '::g', '1.2.3.4:80']) t.equal(parseIp(s), undefined, s);
});

t.test('formatIp: RFC 5952 §4 canonical text', async (t) => {
  const six = (s: string) => formatIp(Buffer.from(s, 'hex'));
  // §4.1 leading zeros suppressed; §4.3 lower case.
  t.equal(six('20010db8000000000000000000000001'), '2001:db8::1');
  t.equal(six('20010DB800AB00000000000000000000'), '2001:db8:ab::');
  // §4.2.1 "::" shortens as much as possible.
  t.equal(six('20010db8000000000000000000020001'), '2001:db8::2:1');
  // §4.2.2 a single 16-bit zero field is not shortened.
  t.equal(six('20010db8000000010001000100010001'), '2001:db8:0:1:1:1:1:1');
  // §4.2.3 the longest run wins; on a tie, the first.
  t.equal(six('20010000000000010000000000000001'), '2001:0:0:1::1');
  t.equal(six('20010db8000000000001000000000001'), '2001:db8::1:0:0:1');
  t.equal(six('00000000000000000000000000000000'), '::');
  t.equal(six('00000000000000000000000000000001'), '::1');
  t.equal(six('00010000000000000000000000000000'), '1::');
  t.equal(six('00010002000300040005000600070008'), '1:2:3:4:5:6:7:8');
  t.equal(six('00010002000300040005000600070000'), '1:2:3:4:5:6:7:0', 'one trailing zero group stays');
  t.equal(six('00000002000300040005000600070008'), '0:2:3:4:5:6:7:8');
  t.equal(six('ffffffffffffffffffffffffffffffff'), 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
  t.equal(six('20010db8123456780011223344556677'), '2001:db8:1234:5678:11:2233:4455:6677');
  t.equal(six('fe800000000000000000000000000001'), 'fe80::1');
});

t.test('formatIp: IPv4-mapped addresses in mixed notation (RFC 5952 §5)', async (t) => {
  // RECOMMENDED by RFC 5952 §5, and the form Node reports for a v4 peer on a dual-stack socket.
  t.equal(formatIp(Buffer.from('00000000000000000000ffffc0000201', 'hex')), '::ffff:192.0.2.1');
  t.equal(formatIp(Buffer.from('00000000000000000000ffff00000000', 'hex')), '::ffff:0.0.0.0');
  // Only that prefix: other addresses with zeros in front stay hexadecimal.
  t.equal(formatIp(Buffer.from('00000000000000000000fffec0000201', 'hex')), '::fffe:c000:201');
  t.equal(formatIp(Buffer.from('00000000000000000001ffffc0000201', 'hex')), '::1:ffff:c000:201');
});

t.test('formatIp: IPv4', async (t) => {
  t.equal(formatIp(Buffer.from([192, 0, 2, 1])), '192.0.2.1');
  t.equal(formatIp(Buffer.from([0, 0, 0, 0])), '0.0.0.0');
  t.equal(formatIp(Buffer.from([255, 255, 255, 255])), '255.255.255.255');
});

t.test('format then parse gives back the bytes (all zero-run shapes)', async (t) => {
  // Every pattern of zero/non-zero groups, so every compression case is exercised.
  let bad = 0;
  for (let mask = 0; mask < 256; mask++) {
    const b = Buffer.alloc(16);
    for (let g = 0; g < 8; g++) if (mask & (1 << g)) b.writeUInt16BE(0x100 * g + 0xa, g * 2);
    const text = formatIp(b);
    const back = parseIPv6(text);
    if (!back || !back.equals(b) || text.includes(':::') || text.split('::').length > 2) bad++;
  }
  t.equal(bad, 0);
});
