import t from 'tap';
import { createHash, createHmac } from 'node:crypto';
import { inspect } from 'node:util';
import { vector, type RestCredentialFields } from '../vectors/index.js';
import { PasswordAlgorithm } from '../../src/stun/constants.js';
import { ConfigError } from '../../src/errors.js';
import {
  CredentialStore,
  mintRestCredential,
  parseRestUsername,
  restPassword,
} from '../../src/turn/credentials.js';

const rest = vector('turn-rest-credential');
const restFields = rest.fields as unknown as RestCredentialFields;
const SECRET = rest.keys!.secret!;
const REALM = rest.keys!.realm!;
const REST_KEY = rest.keys!.longTermKeyHex!;
const EXPIRY_MS = restFields.expiry * 1000;
const BEFORE_EXPIRY = EXPIRY_MS - 60_000;

/** RFC 8489 §9.2.2 written out here, independent of src/: MD5 or SHA-256 of "user:realm:pass". */
function refKey(username: string, realm: string, password: string, hash: 'md5' | 'sha256' = 'md5'): string {
  return createHash(hash).update(`${username}:${realm}:${password}`, 'utf8').digest('hex');
}

t.test('the REST password of the vector is base64(HMAC-SHA1(secret, username))', async (t) => {
  t.equal(restPassword(SECRET, restFields.username), restFields.password);
  // The same computation done directly with node:crypto, as the vector notes do with openssl.
  t.equal(createHmac('sha1', SECRET).update(restFields.username).digest('base64'), restFields.password);
});

t.test('mintRestCredential reproduces the vector when "now" is expiry minus the TTL', async (t) => {
  const ttl = 86_400;
  const nowMs = (restFields.expiry - ttl) * 1000 + 999; // sub-second part is dropped
  const c = mintRestCredential(SECRET, restFields.userId, ttl, nowMs);
  t.same(c, { username: restFields.username, password: restFields.password, ttl });
});

t.test('mintRestCredential with an empty user id gives a bare <expiry> username', async (t) => {
  const c = mintRestCredential(SECRET, '', 60, 1_000_000);
  t.equal(c.username, String(1000 + 60));
  t.equal(c.password, createHmac('sha1', SECRET).update(c.username).digest('base64'));
});

t.test('mintRestCredential refuses unusable TTLs, empty secrets and oversized usernames', async (t) => {
  for (const ttl of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    t.throws(() => mintRestCredential(SECRET, 'u', ttl, 0), ConfigError, `ttl ${ttl}`);
  }
  t.throws(() => mintRestCredential('', 'u', 60, 0), ConfigError);
  t.throws(() => mintRestCredential(SECRET, 'x'.repeat(600), 60, 0), ConfigError);
});

t.test('parseRestUsername splits at the first colon and needs a numeric expiry', async (t) => {
  t.same(parseRestUsername(restFields.username), { expiry: restFields.expiry, userId: restFields.userId });
  t.same(parseRestUsername('1266890800'), { expiry: 1266890800, userId: undefined });
  t.same(parseRestUsername('12:a:b'), { expiry: 12, userId: 'a:b' });
  t.same(parseRestUsername('12:'), { expiry: 12, userId: '' });
  for (const bad of ['', ':x', 'alice', 'a1:x', '-1:x', '1e9:x', ' 12:x', '1234567890123:x']) {
    t.equal(parseRestUsername(bad), undefined, JSON.stringify(bad));
  }
});

t.test('a REST user gets the vector long-term key before expiry and none after', async (t) => {
  const store = new CredentialStore({ secrets: [SECRET] });
  t.equal(store.longTermKey(restFields.username, REALM, PasswordAlgorithm.MD5, BEFORE_EXPIRY)?.toString('hex'), REST_KEY);
  // "expiry < now" is refused, so the expiry second itself is still good.
  t.ok(store.longTermKey(restFields.username, REALM, PasswordAlgorithm.MD5, EXPIRY_MS));
  t.equal(store.longTermKey(restFields.username, REALM, PasswordAlgorithm.MD5, EXPIRY_MS + 1), undefined);
  t.same(store.longTermKeys(restFields.username, REALM, PasswordAlgorithm.MD5, EXPIRY_MS + 1), {
    ok: false,
    reason: 'expired-user',
  });
  // SHA-256 of the same input when PASSWORD-ALGORITHM says so.
  t.equal(
    store.longTermKey(restFields.username, REALM, PasswordAlgorithm.SHA256, BEFORE_EXPIRY)?.toString('hex'),
    refKey(restFields.username, REALM, restFields.password, 'sha256'),
  );
});

t.test('with two secrets, credentials minted with either are accepted; the first one mints', async (t) => {
  const store = new CredentialStore({ secrets: ['rotated-in', SECRET] });
  const r = store.longTermKeys(restFields.username, REALM, PasswordAlgorithm.MD5, BEFORE_EXPIRY);
  t.ok(r.ok);
  if (!r.ok) return;
  t.equal(r.keys.length, 2);
  t.equal(r.keys[1]!.toString('hex'), REST_KEY, 'the old secret still yields the vector key');
  const fresh = mintRestCredential('rotated-in', 'someone', 3600, BEFORE_EXPIRY);
  t.equal(
    store.longTermKey(fresh.username, REALM, PasswordAlgorithm.MD5, BEFORE_EXPIRY)?.toString('hex'),
    refKey(fresh.username, REALM, fresh.password),
  );
});

t.test('a tampered REST password does not lead to the same key', async (t) => {
  const store = new CredentialStore({ secrets: [SECRET] });
  const key = store.longTermKey(restFields.username, REALM, PasswordAlgorithm.MD5, BEFORE_EXPIRY)!.toString('hex');
  const p = restFields.password;
  const tampered = p.slice(0, 3) + (p[3] === 'A' ? 'B' : 'A') + p.slice(4);
  t.not(refKey(restFields.username, REALM, tampered), key);
  t.equal(refKey(restFields.username, REALM, p), key);
});

t.test('static users: key as RFC 8489 §9.2.2 derives it; unknown users get none', async (t) => {
  const store = new CredentialStore({ users: { alice: 'correct horse' } });
  t.equal(store.longTermKey('alice', REALM, PasswordAlgorithm.MD5, 0)?.toString('hex'), refKey('alice', REALM, 'correct horse'));
  t.equal(
    store.longTermKey('alice', REALM, PasswordAlgorithm.SHA256, 0)?.toString('hex'),
    refKey('alice', REALM, 'correct horse', 'sha256'),
  );
  t.same(store.longTermKeys('bob', REALM, PasswordAlgorithm.MD5, 0), { ok: false, reason: 'unknown-user' });
  // Without secrets a REST-shaped name is just an unknown user, never "expired".
  t.same(store.longTermKeys(restFields.username, REALM, PasswordAlgorithm.MD5, EXPIRY_MS + 1), {
    ok: false,
    reason: 'unknown-user',
  });
  const withSecrets = new CredentialStore({ secrets: [SECRET] });
  t.same(withSecrets.longTermKeys('alice', REALM, PasswordAlgorithm.MD5, 0), { ok: false, reason: 'unknown-user' });
});

t.test('a Map of users works, is copied, and a static name wins over a REST-shaped one', async (t) => {
  const users = new Map([[restFields.username, 'static-password']]);
  const store = new CredentialStore({ users, secrets: [SECRET] });
  users.set('late', 'x');
  t.equal(store.longTermKey('late', REALM, PasswordAlgorithm.MD5, 0), undefined);
  t.equal(
    store.longTermKey(restFields.username, REALM, PasswordAlgorithm.MD5, EXPIRY_MS + 1)?.toString('hex'),
    refKey(restFields.username, REALM, 'static-password'),
  );
});

t.test('RFC 8489 B.1 and RFC 5769 §2.4: store-derived keys match the vectors', async (t) => {
  for (const name of ['rfc8489-b.1-corrected-sha256', 'rfc8489-b.1-corrected-md5-default', 'rfc5769-2.4-long-term-request']) {
    const k = vector(name).keys!;
    const store = new CredentialStore({ users: { [k.username!]: k.password! } });
    const algorithm = k.algorithm === 'SHA-256' ? PasswordAlgorithm.SHA256 : PasswordAlgorithm.MD5;
    t.equal(store.longTermKey(k.username!, k.realm!, algorithm, 0)?.toString('hex'), k.hmacKeyHex, name);
  }
});

t.test('findByUserhash finds static users by the B.1 USERHASH, and nothing else', async (t) => {
  const v = vector('rfc8489-b.1-corrected-sha256');
  const k = v.keys!;
  const hash = Buffer.from(v.fields['USERHASH'] as string, 'hex');
  const store = new CredentialStore({ users: { [k.username!]: k.password!, alice: 'pw' }, secrets: [SECRET] });
  t.equal(store.findByUserhash(hash, k.realm!), k.username);
  t.equal(store.findByUserhash(hash, 'other.example'), undefined, 'the hash covers the realm');
  t.equal(store.findByUserhash(hash.subarray(0, 31), k.realm!), undefined);
  const aliceHash = createHash('sha256').update(`alice:${k.realm!}`).digest();
  t.equal(store.findByUserhash(aliceHash, k.realm!), 'alice');
  // REST users cannot be found: their names are not known in advance.
  const restHash = createHash('sha256').update(`${restFields.username}:${REALM}`).digest();
  t.equal(store.findByUserhash(restHash, REALM), undefined);
});

t.test('derived keys are cached, and the cache is bounded', async (t) => {
  const store = new CredentialStore({ users: { a: '1', b: '2', c: '3' }, keyCacheSize: 2 });
  const first = store.longTermKeys('a', REALM, PasswordAlgorithm.MD5, 0);
  const again = store.longTermKeys('a', REALM, PasswordAlgorithm.MD5, 0);
  t.ok(first.ok && again.ok && first.keys === again.keys, 'a hit returns the cached entry');
  store.longTermKeys('b', REALM, PasswordAlgorithm.MD5, 0);
  store.longTermKeys('c', REALM, PasswordAlgorithm.MD5, 0);
  const evicted = store.longTermKeys('a', REALM, PasswordAlgorithm.MD5, 0);
  t.ok(first.ok && evicted.ok && first.keys !== evicted.keys, 'the oldest entry was evicted');
  t.ok(evicted.ok && evicted.keys[0]!.toString('hex') === refKey('a', REALM, '1'));
  // Algorithm and realm are part of the cache key.
  t.equal(store.longTermKey('a', 'other', PasswordAlgorithm.MD5, 0)?.toString('hex'), refKey('a', 'other', '1'));
  t.equal(store.longTermKey('a', REALM, PasswordAlgorithm.SHA256, 0)?.toString('hex'), refKey('a', REALM, '1', 'sha256'));
  const uncached = new CredentialStore({ users: { a: '1' }, keyCacheSize: 0 });
  t.equal(uncached.longTermKey('a', REALM, PasswordAlgorithm.MD5, 0)?.toString('hex'), refKey('a', REALM, '1'));
});

t.test('a store never shows passwords, secrets or keys when logged or serialised', async (t) => {
  const store = new CredentialStore({ users: { alice: 'hunter2-password' }, secrets: ['top-secret-value'] });
  const key = store.longTermKey('alice', REALM, PasswordAlgorithm.MD5, 0)!;
  for (const text of [JSON.stringify(store), inspect(store, { depth: 10, showHidden: true }), String(Object.keys(store))]) {
    t.notMatch(text, 'hunter2-password');
    t.notMatch(text, 'top-secret-value');
    t.notMatch(text, key.toString('hex'));
  }
  t.same(JSON.parse(JSON.stringify(store)), { users: 1, secrets: 1 });
});

t.test('the constructor refuses empty secrets and bad cache sizes', async (t) => {
  t.throws(() => new CredentialStore({ secrets: [''] }), ConfigError);
  t.throws(() => new CredentialStore({ keyCacheSize: -1 }), ConfigError);
  t.throws(() => new CredentialStore({ keyCacheSize: 1.5 }), ConfigError);
});
