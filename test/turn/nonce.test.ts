import t from 'tap';
import { inspect } from 'node:util';
import { vector } from '../vectors/index.js';
import { ConfigError } from '../../src/errors.js';
import { NONCE_COOKIE, NONCE_LENGTH, NonceIssuer, SecurityFeature, nonceCookieFeatures } from '../../src/turn/nonce.js';

const KEY = Buffer.alloc(32, 7);
const NOW = 1_700_000_000_000;
const IP = '198.51.100.7';

/** RFC 8489 §9.2: the 3 feature bytes are the base64 right after "obMatJos2"; bit 0 is the MSB of byte 0. */
function featureBit(nonce: string, bit: number): boolean {
  const bytes = Buffer.from(nonce.slice(9, 13), 'base64');
  return (bytes[bit >> 3]! & (0x80 >> (bit & 7))) !== 0;
}

/** A nonce with one character of the token (after the 13-character cookie) changed. */
function withChar(nonce: string, index: number): string {
  const c = nonce[index] === 'A' ? 'B' : 'A';
  return nonce.slice(0, index) + c + nonce.slice(index + 1);
}

t.test('a nonce starts with the nonce cookie and sets "Password algorithms" and "Username anonymity"', async (t) => {
  const n = new NonceIssuer({ key: KEY }).mint(NOW, IP);
  t.ok(n.startsWith('obMatJos2'), 'RFC 8489 §9.2 cookie');
  t.equal(NONCE_COOKIE, 'obMatJos2');
  t.ok(featureBit(n, 0), 'bit 0: Password algorithms (RFC 8489 §18.1)');
  t.ok(featureBit(n, 1), 'bit 1: Username anonymity');
  for (let bit = 2; bit < 24; bit++) t.notOk(featureBit(n, bit), `bit ${bit} unset`);
  t.ok(n.length < 128, `short (${n.length} characters)`);
  t.equal(n.length, NONCE_LENGTH);
  t.match(n, /^[\x21-\x7e]+$/, 'printable ASCII only, nothing to quote');
});

t.test('usernameAnonymity: false leaves only the "Password algorithms" bit', async (t) => {
  const n = new NonceIssuer({ key: KEY, usernameAnonymity: false }).mint(NOW, IP);
  t.ok(featureBit(n, 0));
  t.notOk(featureBit(n, 1));
  t.equal(nonceCookieFeatures(n), SecurityFeature.PasswordAlgorithms);
});

t.test('nonceCookieFeatures numbers bits from the most significant end, as vectors.md reads B.1', async (t) => {
  const v = vector('rfc8489-b.1-corrected-sha256');
  const cookie = v.fields['nonceCookie'] as { bitsSet: number[] };
  const expected = cookie.bitsSet.reduce((acc, bit) => acc | (1 << (23 - bit)), 0);
  const features = nonceCookieFeatures(v.fields['NONCE'] as string);
  t.equal(features, expected);
  t.equal(features! & SecurityFeature.PasswordAlgorithms, 0, 'B.1 does not set Password algorithms');
  t.equal(features! & SecurityFeature.UsernameAnonymity, 0, 'nor Username anonymity');
  const mine = new NonceIssuer({ key: KEY }).mint(NOW, IP);
  t.equal(nonceCookieFeatures(mine), SecurityFeature.PasswordAlgorithms | SecurityFeature.UsernameAnonymity);
  // RFC 5769 §2.4's nonce predates the cookie; a cut-off or non-base64 cookie is no cookie.
  t.equal(nonceCookieFeatures(vector('rfc5769-2.4-long-term-request').fields['NONCE'] as string), undefined);
  t.equal(nonceCookieFeatures('obMatJos2AA'), undefined);
  t.equal(nonceCookieFeatures('obMatJos2A-A_xyz'), undefined);
});

t.test('check: valid until the lifetime ends, then stale', async (t) => {
  const issuer = new NonceIssuer({ key: KEY, lifetimeMs: 10_000 });
  const n = issuer.mint(NOW, IP);
  t.equal(issuer.check(n, NOW, IP), 'valid');
  t.equal(issuer.check(n, NOW + 9_999, IP), 'valid');
  t.equal(issuer.check(n, NOW + 10_000, IP), 'stale');
  t.equal(issuer.check(n, NOW + 86_400_000, IP), 'stale');
});

t.test('the default lifetime is 10 minutes', async (t) => {
  const issuer = new NonceIssuer();
  t.equal(issuer.lifetimeMs, 600_000);
  const n = issuer.mint(NOW, IP);
  t.equal(issuer.check(n, NOW + 599_999, IP), 'valid');
  t.equal(issuer.check(n, NOW + 600_000, IP), 'stale');
});

t.test('check: another client IP, another key, or any changed character → invalid (even when expired)', async (t) => {
  const issuer = new NonceIssuer({ key: KEY, lifetimeMs: 10_000 });
  const n = issuer.mint(NOW, IP);
  t.equal(issuer.check(n, NOW, '198.51.100.8'), 'invalid');
  t.equal(issuer.check(n, NOW + 20_000, '198.51.100.8'), 'invalid', 'not "stale": it was never valid for this IP');
  t.equal(new NonceIssuer({ key: Buffer.alloc(32, 8) }).check(n, NOW, IP), 'invalid');
  for (let i = NONCE_COOKIE.length; i < n.length; i++) {
    t.equal(issuer.check(withChar(n, i), NOW, IP), 'invalid', `character ${i} changed`);
  }
});

t.test('check: clearing a feature bit (a bid-down attempt, RFC 8489 §9.2.1) makes the nonce invalid', async (t) => {
  const issuer = new NonceIssuer({ key: KEY });
  const n = issuer.mint(NOW, IP);
  const noAlgorithms = Buffer.from([0x40, 0, 0]).toString('base64'); // only bit 1 left
  const downgraded = n.slice(0, 9) + noAlgorithms + n.slice(13);
  t.equal(nonceCookieFeatures(downgraded), SecurityFeature.UsernameAnonymity);
  t.equal(issuer.check(downgraded, NOW, IP), 'invalid');
});

t.test('check: garbage, truncated, extended or non-canonical nonces are invalid and do not throw', async (t) => {
  const issuer = new NonceIssuer({ key: KEY });
  const n = issuer.mint(NOW, IP);
  const garbage = ['', 'x', NONCE_COOKIE, n.slice(0, -1), `${n}A`, ' '.repeat(n.length), 'é'.repeat(n.length), `zz${n.slice(2)}`];
  for (const g of garbage) t.equal(issuer.check(g, NOW, IP), 'invalid', JSON.stringify(g));
  // The token is 26 bytes, so its last base64url character has 2 spare bits; setting them must not
  // give a second spelling of the same nonce.
  const last = n.at(-1)!;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const twin = n.slice(0, -1) + alphabet[alphabet.indexOf(last) | 1];
  t.not(twin, n);
  t.equal(issuer.check(twin, NOW, IP), 'invalid');
});

t.test('two nonces for the same IP at the same instant differ (RFC 8489 §9.2.4: one per source port)', async (t) => {
  const issuer = new NonceIssuer({ key: KEY });
  const a = issuer.mint(NOW, IP);
  const b = issuer.mint(NOW, IP);
  t.not(a, b);
  t.equal(issuer.check(a, NOW, IP), 'valid');
  t.equal(issuer.check(b, NOW, IP), 'valid');
});

t.test('issuers sharing a key accept each other\'s nonces (several processes, one port)', async (t) => {
  const n = new NonceIssuer({ key: KEY }).mint(NOW, '2001:db8::1');
  t.equal(new NonceIssuer({ key: Buffer.from(KEY) }).check(n, NOW, '2001:db8::1'), 'valid');
});

t.test('the key is copied and never shown', async (t) => {
  const key = Buffer.alloc(32, 9);
  const issuer = new NonceIssuer({ key });
  const n = issuer.mint(NOW, IP);
  key.fill(0);
  t.equal(issuer.check(n, NOW, IP), 'valid', 'changing the caller\'s buffer changes nothing');
  const shown = inspect(issuer, { showHidden: true, depth: 5 }) + JSON.stringify(issuer);
  t.notMatch(shown, Buffer.alloc(32, 9).toString('hex'));
  t.notMatch(shown, '9, 9, 9');
});

t.test('bad options and times are refused', async (t) => {
  t.throws(() => new NonceIssuer({ key: Buffer.alloc(8) }), ConfigError);
  t.throws(() => new NonceIssuer({ lifetimeMs: 0 }), ConfigError);
  t.throws(() => new NonceIssuer({ lifetimeMs: 1.5 }), ConfigError);
  const issuer = new NonceIssuer({ key: KEY });
  t.throws(() => issuer.mint(-1, IP), RangeError);
  t.throws(() => issuer.mint(Number.NaN, IP), RangeError);
  t.throws(() => issuer.mint(2 ** 48, IP), RangeError);
});

t.test('remembered nonces (at most 10,000) answer as the MAC does; forgotten ones are checked by MAC again', async (t) => {
  const issuer = new NonceIssuer({ key: KEY, lifetimeMs: 10_000 });
  const fresh = new NonceIssuer({ key: KEY, lifetimeMs: 10_000 });
  const minted = Array.from({ length: 10_050 }, (_, i) => issuer.mint(NOW + i, IP));
  let agree = 0;
  for (const n of [minted[0]!, minted[49]!, minted[50]!, minted.at(-1)!]) {
    for (const [when, ip] of [[NOW + 5_000, IP], [NOW + 30_000, IP], [NOW + 5_000, '198.51.100.8']] as const) {
      if (issuer.check(n, when, ip) === fresh.check(n, when, ip)) agree++;
    }
  }
  t.equal(agree, 12, 'the same verdict from the issuer that minted (remembered or evicted) and from one that did not');
  t.equal(issuer.check(minted[0]!, NOW + 5_000, IP), 'valid', 'the oldest, evicted, is still valid by MAC');
  t.equal(issuer.check(withChar(minted.at(-1)!, 20), NOW, IP), 'invalid', 'a changed character of a remembered nonce is not remembered');
});

t.test('forgetExpired drops what has expired; those nonces still read stale (by MAC), live ones valid', async (t) => {
  const issuer = new NonceIssuer({ key: KEY, lifetimeMs: 10_000 });
  const old = issuer.mint(NOW, IP);
  const young = issuer.mint(NOW + 5_000, IP);
  issuer.forgetExpired(NOW + 12_000);
  t.equal(issuer.check(old, NOW + 12_000, IP), 'stale');
  t.equal(issuer.check(young, NOW + 12_000, IP), 'valid');
  t.equal(issuer.check(old, NOW + 12_000, '198.51.100.8'), 'invalid');
});
