import t from 'tap';
import { createHash } from 'node:crypto';
import { bytes, vector, type RestCredentialFields } from '../vectors/index.js';
import { AttributeType, MAGIC_COOKIE, MessageClass, Method, PasswordAlgorithm } from '../../src/stun/constants.js';
import {
  decodeMessage,
  encodeMessage,
  getAttribute,
  type EncodeOptions,
  type StunAttribute,
  type StunMessage,
} from '../../src/stun/message.js';
import { verifyMessageIntegrity, verifyMessageIntegritySha256 } from '../../src/stun/integrity.js';
import { encodeErrorCode } from '../../src/stun/attributes/error-code.js';
import {
  decodePasswordAlgorithms,
  encodePasswordAlgorithm,
  encodePasswordAlgorithms,
} from '../../src/stun/attributes/password-algorithms.js';
import { CredentialStore } from '../../src/turn/credentials.js';
import { NonceIssuer, nonceCookieFeatures, SecurityFeature } from '../../src/turn/nonce.js';
import {
  AUTH_FAILURE_REASONS,
  authenticateRequest,
  responseIntegrity,
  type AuthContext,
  type AuthFailure,
  type AuthResult,
  type AuthSuccess,
} from '../../src/turn/auth.js';

/** A tap test object, typed without importing tap's internals. */
type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

const REALM = 'example.org';
const IP = '198.51.100.7';
const NOW = 1_700_000_000_000;
const LIFETIME = 600_000;
const ALICE = { username: 'alice', password: 'correct horse battery' };
const rest = vector('turn-rest-credential');
const restFields = rest.fields as unknown as RestCredentialFields;

const store = new CredentialStore({ users: { [ALICE.username]: ALICE.password }, secrets: [rest.keys!.secret!] });
const nonces = new NonceIssuer({ key: Buffer.alloc(32, 1), lifetimeMs: LIFETIME });

function ctx(over: Partial<AuthContext> = {}): AuthContext {
  return { nowMs: NOW, clientIp: IP, realm: REALM, store, nonces, ...over };
}

/** RFC 8489 §9.2.2, written out independently of src/. */
function refKey(username: string, realm: string, password: string, hash: 'md5' | 'sha256' = 'md5'): Buffer {
  return createHash(hash).update(`${username}:${realm}:${password}`, 'utf8').digest();
}

const text = (type: number, s: string): StunAttribute => ({ type, value: Buffer.from(s, 'utf8') });
const TXID = Buffer.from('turnkit-auth', 'ascii');

/** An Allocate message of class `cls`, encoded with `opts`. */
function allocate(cls: MessageClass, attributes: StunAttribute[], opts: EncodeOptions = {}): Buffer {
  return encodeMessage({ method: Method.Allocate, cls, transactionId: TXID, cookie: MAGIC_COOKIE, attributes }, opts);
}

/** Encodes an Allocate request and decodes it again, as the server would receive it. */
function received(attributes: StunAttribute[], opts: EncodeOptions = {}): StunMessage {
  return decoded(allocate(MessageClass.Request, attributes, opts));
}

function decoded(buf: Buffer): StunMessage {
  const r = decodeMessage(buf);
  if (!r.ok) throw new Error(`does not decode: ${r.reason}`);
  return r.message;
}

function failure(r: AuthResult): AuthFailure {
  if (r.ok) throw new Error('expected a failure');
  return r;
}

function success(r: AuthResult): AuthSuccess {
  if (!r.ok) throw new Error(`expected success, got ${r.code} ${r.reason}`);
  return r;
}

/** The NONCE of a 401/438 result. */
function nonceOf(r: AuthResult): string {
  const a = failure(r).attributes.find((x) => x.type === AttributeType.Nonce);
  if (!a) throw new Error('no NONCE');
  return a.value.toString('utf8');
}

/** What a client gets first: the 401 to a request without credentials. */
function firstChallenge(c: AuthContext = ctx()): AuthFailure {
  return failure(authenticateRequest(received([]), c));
}

/** A long-term-credential request as an RFC 5389 client (USERNAME, REALM, NONCE, MI with the MD5 key) builds it. */
function md5Request(nonce: string, user = ALICE, extra: StunAttribute[] = []): StunMessage {
  return received(
    [text(AttributeType.Username, user.username), text(AttributeType.Realm, REALM), text(AttributeType.Nonce, nonce), ...extra],
    { integrity: refKey(user.username, REALM, user.password) },
  );
}

const OFFERED = encodePasswordAlgorithms([
  { algorithm: PasswordAlgorithm.SHA256, parameters: Buffer.alloc(0) },
  { algorithm: PasswordAlgorithm.MD5, parameters: Buffer.alloc(0) },
]);
const algorithmsAttr = (value: Buffer): StunAttribute => ({ type: AttributeType.PasswordAlgorithms, value });
const algorithmAttr = (algorithm: number): StunAttribute => ({
  type: AttributeType.PasswordAlgorithm,
  value: encodePasswordAlgorithm({ algorithm, parameters: Buffer.alloc(0) }),
});

/** An RFC 8489 client after a 401 with PASSWORD-ALGORITHMS: echoes the list, picks SHA-256, signs with MI-SHA256. */
function sha256Request(nonce: string, list: Buffer = OFFERED, chosen: number = PasswordAlgorithm.SHA256): StunMessage {
  return received(
    [
      text(AttributeType.Username, ALICE.username),
      text(AttributeType.Realm, REALM),
      text(AttributeType.Nonce, nonce),
      algorithmsAttr(list),
      algorithmAttr(chosen),
    ],
    { integritySha256: refKey(ALICE.username, REALM, ALICE.password, 'sha256') },
  );
}

/** Checks the 401/438 challenge attributes decode to REALM, a current NONCE of ours, and PASSWORD-ALGORITHMS. */
function checkChallenge(t: Tap, f: AuthFailure, nowMs = NOW): void {
  const errorCode = { type: AttributeType.ErrorCode, value: encodeErrorCode(f.code) };
  const response = decoded(allocate(MessageClass.ErrorResponse, [errorCode, ...f.attributes]));
  t.equal(getAttribute(response, AttributeType.Realm)?.value.toString('utf8'), REALM, 'REALM');
  const nonce = getAttribute(response, AttributeType.Nonce)?.value.toString('utf8');
  t.ok(nonce && nonces.check(nonce, nowMs, IP) === 'valid', 'a fresh NONCE, valid for this client');
  t.ok(nonce && (nonceCookieFeatures(nonce)! & SecurityFeature.PasswordAlgorithms) !== 0, 'cookie announces PASSWORD-ALGORITHMS');
  const list = decodePasswordAlgorithms(getAttribute(response, AttributeType.PasswordAlgorithms)?.value ?? Buffer.alloc(0));
  t.same(
    list?.map((e) => e.algorithm),
    [PasswordAlgorithm.SHA256, PasswordAlgorithm.MD5],
    'PASSWORD-ALGORITHMS lists SHA-256 then MD5',
  );
  t.equal(f.attributes.length, 3, 'nothing else');
}

/** Appends an attribute after the last one (after MESSAGE-INTEGRITY) and fixes the header length. */
function appendAfter(raw: Buffer, attr: StunAttribute): Buffer {
  const pad = (4 - (attr.value.length % 4)) % 4;
  const tail = Buffer.alloc(4 + attr.value.length + pad);
  tail.writeUInt16BE(attr.type, 0);
  tail.writeUInt16BE(attr.value.length, 2);
  attr.value.copy(tail, 4);
  const out = Buffer.concat([raw, tail]);
  out.writeUInt16BE(out.length - 20, 2);
  return out;
}

t.test('no MESSAGE-INTEGRITY → 401 with REALM, a fresh NONCE and PASSWORD-ALGORITHMS', async (t) => {
  const f = firstChallenge();
  t.equal(f.code, 401);
  t.equal(f.reason, 'no-credentials');
  checkChallenge(t, f);
  t.same(responseIntegrity(f), {}, 'an unauthenticated 401 is not signed');
  // USERNAME etc. without integrity is still "no credentials".
  const f2 = failure(authenticateRequest(received([text(AttributeType.Username, 'alice')]), ctx()));
  t.equal(f2.reason, 'no-credentials');
});

t.test('a correct MD5 request with the nonce from the 401 is authenticated and answered with MESSAGE-INTEGRITY', async (t) => {
  const nonce = nonceOf(firstChallenge());
  const ok = success(authenticateRequest(md5Request(nonce), ctx({ nowMs: NOW + 1000 })));
  t.equal(ok.username, 'alice');
  t.equal(ok.algorithm, PasswordAlgorithm.MD5);
  t.equal(ok.integrity, 'sha1');
  t.equal(ok.userhash, false);
  t.same(ok.key, refKey(ALICE.username, REALM, ALICE.password));
  const opts = responseIntegrity(ok);
  t.same(Object.keys(opts), ['integrity']);
  // The signed response verifies under the key the client holds.
  const response = decoded(allocate(MessageClass.SuccessResponse, [], opts));
  t.ok(verifyMessageIntegrity(response, refKey(ALICE.username, REALM, ALICE.password)));
});

t.test('the same request with a wrong password → 401 bad-integrity', async (t) => {
  const nonce = nonceOf(firstChallenge());
  const f = failure(authenticateRequest(md5Request(nonce, { username: 'alice', password: 'wrong' }), ctx()));
  t.equal(f.code, 401);
  t.equal(f.reason, 'bad-integrity');
  checkChallenge(t, f);
  t.same(responseIntegrity(f), {});
});

t.test('a nonce past its lifetime → 438 stale-nonce with a new nonce, signed with the verified key', async (t) => {
  const nonce = nonceOf(firstChallenge());
  const later = NOW + LIFETIME;
  const f = failure(authenticateRequest(md5Request(nonce), ctx({ nowMs: later })));
  t.equal(f.code, 438);
  t.equal(f.reason, 'stale-nonce');
  checkChallenge(t, f, later);
  t.not(nonceOf(f), nonce);
  t.same(responseIntegrity(f), { integrity: refKey(ALICE.username, REALM, ALICE.password) });
  // The retry with the new nonce goes through.
  t.ok(authenticateRequest(md5Request(nonceOf(f)), ctx({ nowMs: later })).ok);
});

t.test('a nonce minted for another client IP → 438 bad-nonce', async (t) => {
  const nonce = nonceOf(firstChallenge(ctx({ clientIp: '203.0.113.9' })));
  const f = failure(authenticateRequest(md5Request(nonce), ctx()));
  t.equal(f.code, 438);
  t.equal(f.reason, 'bad-nonce');
  checkChallenge(t, f);
});

t.test('a forged nonce → 438 bad-nonce; with a wrong password it is 401 first (§9.2.4 checks the nonce last)', async (t) => {
  const real = nonceOf(firstChallenge());
  const forged = real.slice(0, -2) + (real.at(-2) === 'A' ? 'B' : 'A') + real.at(-1);
  const other = new NonceIssuer({ key: Buffer.alloc(32, 2) }).mint(NOW, IP);
  for (const nonce of [forged, other, 'obMatJos2wAAAnot-a-real-token', 'plain-old-nonce']) {
    const f = failure(authenticateRequest(md5Request(nonce), ctx()));
    t.equal(f.code, 438, nonce);
    t.equal(f.reason, 'bad-nonce', nonce);
  }
  const f = failure(authenticateRequest(md5Request(forged, { username: 'alice', password: 'wrong' }), ctx()));
  t.equal(f.code, 401);
  t.equal(f.reason, 'bad-integrity');
});

t.test('MESSAGE-INTEGRITY present but REALM, NONCE or USERNAME missing → 400 with no extra attributes', async (t) => {
  const nonce = nonceOf(firstChallenge());
  const key = refKey(ALICE.username, REALM, ALICE.password);
  const u = text(AttributeType.Username, ALICE.username);
  const r = text(AttributeType.Realm, REALM);
  const n = text(AttributeType.Nonce, nonce);
  for (const [name, attrs] of [
    ['REALM', [u, n]],
    ['NONCE', [u, r]],
    ['USERNAME', [r, n]],
  ] as const) {
    const f = failure(authenticateRequest(received([...attrs], { integrity: key }), ctx()));
    t.equal(f.code, 400, `missing ${name}`);
    t.equal(f.reason, 'missing-attribute');
    t.same(f.attributes, []);
    t.same(responseIntegrity(f), {});
  }
  // A REALM that is not UTF-8 cannot be used either.
  const badRealm = { type: AttributeType.Realm, value: Buffer.from([0xff, 0xfe]) };
  const f = failure(authenticateRequest(received([u, badRealm, n], { integrity: key }), ctx()));
  t.equal(f.code, 400);
  t.equal(f.reason, 'malformed-attribute');
});

t.test('SHA-256 via PASSWORD-ALGORITHMS + PASSWORD-ALGORITHM with MESSAGE-INTEGRITY-SHA256', async (t) => {
  const challenge = firstChallenge();
  const offered = challenge.attributes.find((a) => a.type === AttributeType.PasswordAlgorithms)!.value;
  t.same(offered, OFFERED, 'the 401 offers SHA-256 then MD5, no parameters (RFC 8489 §14.11)');
  const ok = success(authenticateRequest(sha256Request(nonceOf(challenge), offered), ctx()));
  t.equal(ok.integrity, 'sha256');
  t.equal(ok.algorithm, PasswordAlgorithm.SHA256);
  t.same(ok.key, refKey(ALICE.username, REALM, ALICE.password, 'sha256'));
  t.equal(ok.key.length, 32);
  const opts = responseIntegrity(ok);
  t.same(Object.keys(opts), ['integritySha256']);
  const response = decoded(allocate(MessageClass.SuccessResponse, [], opts));
  t.ok(verifyMessageIntegritySha256(response, refKey(ALICE.username, REALM, ALICE.password, 'sha256')));
});

t.test('MD5 chosen from the list still gets a MESSAGE-INTEGRITY-SHA256 response (closing rule of §9.2.4)', async (t) => {
  const nonce = nonceOf(firstChallenge());
  const msg = received(
    [
      text(AttributeType.Username, ALICE.username),
      text(AttributeType.Realm, REALM),
      text(AttributeType.Nonce, nonce),
      algorithmsAttr(OFFERED),
      algorithmAttr(PasswordAlgorithm.MD5),
    ],
    { integritySha256: refKey(ALICE.username, REALM, ALICE.password) },
  );
  const ok = success(authenticateRequest(msg, ctx()));
  t.equal(ok.algorithm, PasswordAlgorithm.MD5);
  t.equal(ok.integrity, 'sha256');
});

t.test('MESSAGE-INTEGRITY-SHA256 without PASSWORD-ALGORITHM(S) uses the MD5 key and is answered with MESSAGE-INTEGRITY', async (t) => {
  const nonce = nonceOf(firstChallenge());
  const msg = received(
    [text(AttributeType.Username, ALICE.username), text(AttributeType.Realm, REALM), text(AttributeType.Nonce, nonce)],
    { integritySha256: refKey(ALICE.username, REALM, ALICE.password) },
  );
  const ok = success(authenticateRequest(msg, ctx()));
  t.equal(ok.algorithm, PasswordAlgorithm.MD5);
  t.equal(ok.integrity, 'sha1');
});

t.test('when both integrity attributes are present MESSAGE-INTEGRITY-SHA256 is the one checked', async (t) => {
  const nonce = nonceOf(firstChallenge());
  const attrs = [
    text(AttributeType.Username, ALICE.username),
    text(AttributeType.Realm, REALM),
    text(AttributeType.Nonce, nonce),
    algorithmsAttr(OFFERED),
    algorithmAttr(PasswordAlgorithm.SHA256),
  ];
  const good = refKey(ALICE.username, REALM, ALICE.password, 'sha256');
  const bad = refKey(ALICE.username, REALM, 'wrong', 'sha256');
  t.ok(authenticateRequest(received(attrs, { integrity: bad, integritySha256: good }), ctx()).ok);
  t.equal(failure(authenticateRequest(received(attrs, { integrity: good, integritySha256: bad }), ctx())).reason, 'bad-integrity');
});

t.test('PASSWORD-ALGORITHMS that differs from what the 401 sent → 400', async (t) => {
  const nonce = nonceOf(firstChallenge());
  const md5First = encodePasswordAlgorithms([
    { algorithm: PasswordAlgorithm.MD5, parameters: Buffer.alloc(0) },
    { algorithm: PasswordAlgorithm.SHA256, parameters: Buffer.alloc(0) },
  ]);
  const onlySha = encodePasswordAlgorithms([{ algorithm: PasswordAlgorithm.SHA256, parameters: Buffer.alloc(0) }]);
  for (const list of [md5First, onlySha, Buffer.alloc(0)]) {
    const f = failure(authenticateRequest(sha256Request(nonce, list), ctx()));
    t.equal(f.code, 400);
    t.equal(f.reason, 'bad-password-algorithm');
    t.same(f.attributes, []);
  }
  // A PASSWORD-ALGORITHM that is not on the list.
  const f = failure(authenticateRequest(sha256Request(nonce, OFFERED, 0x0003), ctx()));
  t.equal(f.code, 400);
  t.equal(f.reason, 'bad-password-algorithm');
});

t.test('only one of PASSWORD-ALGORITHM / PASSWORD-ALGORITHMS → 400', async (t) => {
  const nonce = nonceOf(firstChallenge());
  const base = [text(AttributeType.Username, ALICE.username), text(AttributeType.Realm, REALM), text(AttributeType.Nonce, nonce)];
  const key = refKey(ALICE.username, REALM, ALICE.password, 'sha256');
  for (const extra of [algorithmAttr(PasswordAlgorithm.SHA256), algorithmsAttr(OFFERED)]) {
    const f = failure(authenticateRequest(received([...base, extra], { integritySha256: key }), ctx()));
    t.equal(f.code, 400);
    t.equal(f.reason, 'bad-password-algorithm');
  }
});

t.test('USERHASH instead of USERNAME finds a static user', async (t) => {
  const nonce = nonceOf(firstChallenge());
  const hash = createHash('sha256').update(`${ALICE.username}:${REALM}`).digest();
  const attrs = [{ type: AttributeType.Userhash, value: hash }, text(AttributeType.Realm, REALM), text(AttributeType.Nonce, nonce)];
  const ok = success(authenticateRequest(received(attrs, { integrity: refKey(ALICE.username, REALM, ALICE.password) }), ctx()));
  t.equal(ok.username, 'alice');
  t.equal(ok.userhash, true);
  const unknown = createHash('sha256').update(`mallory:${REALM}`).digest();
  const f = failure(
    authenticateRequest(
      received([{ type: AttributeType.Userhash, value: unknown }, ...attrs.slice(1)], { integrity: refKey('mallory', REALM, 'x') }),
      ctx(),
    ),
  );
  t.equal(f.code, 401);
  t.equal(f.reason, 'unknown-user');
  checkChallenge(t, f);
});

t.test('an unknown user → 401 unknown-user; a realm that is not ours → 401 wrong-realm with our REALM', async (t) => {
  const nonce = nonceOf(firstChallenge());
  const f = failure(authenticateRequest(md5Request(nonce, { username: 'mallory', password: 'x' }), ctx()));
  t.equal(f.code, 401);
  t.equal(f.reason, 'unknown-user');
  checkChallenge(t, f);
  const other = received(
    [text(AttributeType.Username, ALICE.username), text(AttributeType.Realm, 'other.example'), text(AttributeType.Nonce, nonce)],
    { integrity: refKey(ALICE.username, 'other.example', ALICE.password) },
  );
  const g = failure(authenticateRequest(other, ctx()));
  t.equal(g.code, 401);
  t.equal(g.reason, 'wrong-realm');
  checkChallenge(t, g);
});

t.test('the REST vector user is accepted before its expiry and refused (401 expired-user) after', async (t) => {
  const user = { username: restFields.username, password: restFields.password };
  const before = restFields.expiry * 1000 - 60_000;
  const ok = success(authenticateRequest(md5Request(nonceOf(firstChallenge(ctx({ nowMs: before }))), user), ctx({ nowMs: before })));
  t.equal(ok.username, restFields.username);
  t.equal(ok.key.toString('hex'), rest.keys!.longTermKeyHex);
  const after = restFields.expiry * 1000 + 1000;
  const f = failure(authenticateRequest(md5Request(nonceOf(firstChallenge(ctx({ nowMs: after }))), user), ctx({ nowMs: after })));
  t.equal(f.code, 401);
  t.equal(f.reason, 'expired-user');
  checkChallenge(t, f, after);
});

t.test('a REST credential minted with the second (older) secret is still accepted', async (t) => {
  const rotated = new CredentialStore({ secrets: ['the-new-secret', rest.keys!.secret!] });
  const before = restFields.expiry * 1000 - 60_000;
  const c = ctx({ nowMs: before, store: rotated });
  const user = { username: restFields.username, password: restFields.password };
  const ok = success(authenticateRequest(md5Request(nonceOf(firstChallenge(c)), user), c));
  t.equal(ok.key.toString('hex'), rest.keys!.longTermKeyHex);
});

t.test('attributes after MESSAGE-INTEGRITY do not change the outcome', async (t) => {
  const nonce = nonceOf(firstChallenge());
  const good = allocate(
    MessageClass.Request,
    [text(AttributeType.Username, ALICE.username), text(AttributeType.Realm, REALM), text(AttributeType.Nonce, nonce)],
    { integrity: refKey(ALICE.username, REALM, ALICE.password) },
  );
  let tampered = appendAfter(good, text(AttributeType.Username, 'mallory'));
  tampered = appendAfter(tampered, algorithmAttr(PasswordAlgorithm.SHA256));
  tampered = appendAfter(tampered, text(AttributeType.Realm, 'other.example'));
  t.equal(decoded(tampered).attributes.length, 7, 'the extra attributes are really there');
  const ok = success(authenticateRequest(decoded(tampered), ctx()));
  t.equal(ok.username, 'alice');
  t.equal(ok.algorithm, PasswordAlgorithm.MD5);
  t.equal(ok.integrity, 'sha1');
  // And a request that fails keeps failing the same way.
  const wrong = allocate(
    MessageClass.Request,
    [text(AttributeType.Username, 'mallory'), text(AttributeType.Realm, REALM), text(AttributeType.Nonce, nonce)],
    { integrity: refKey('mallory', REALM, 'x') },
  );
  const f = failure(authenticateRequest(decoded(appendAfter(wrong, text(AttributeType.Username, ALICE.username))), ctx()));
  t.equal(f.reason, 'unknown-user');
});

t.test('RFC 5769 §2.4: the store-derived key verifies the vector MI; with the nonce check bypassed it authenticates', async (t) => {
  const v = vector('rfc5769-2.4-long-term-request');
  const k = v.keys!;
  const msg = decoded(bytes(v));
  const vecStore = new CredentialStore({ users: { [k.username!]: k.password! } });
  const key = vecStore.longTermKey(k.username!, k.realm!, PasswordAlgorithm.MD5, NOW)!;
  t.equal(key.toString('hex'), k.hmacKeyHex);
  t.ok(verifyMessageIntegrity(msg, key));
  // The real issuer refuses a nonce it did not mint, but only after the integrity check passed.
  const c = ctx({ realm: k.realm!, store: vecStore });
  const f = failure(authenticateRequest(msg, c));
  t.equal(f.code, 438);
  t.equal(f.reason, 'bad-nonce');
  t.same(responseIntegrity(f), { integrity: key });
  // With a checker that accepts the vector's nonce, the request is authenticated.
  const acceptAll = { mint: () => 'unused', check: () => 'valid' as const };
  const ok = success(authenticateRequest(msg, { ...c, nonces: acceptAll }));
  t.equal(ok.username, k.username);
  t.equal(ok.integrity, 'sha1');
  t.same(ok.key, key);
});

t.test('RFC 8489 B.1 corrected vectors: USERHASH, store-derived SHA-256 and MD5 keys, nonce check bypassed', async (t) => {
  const acceptAll = { mint: () => 'unused', check: () => 'valid' as const };
  const cases = [
    { name: 'rfc8489-b.1-corrected-sha256', algorithm: PasswordAlgorithm.SHA256, integrity: 'sha256' },
    { name: 'rfc8489-b.1-corrected-md5-default', algorithm: PasswordAlgorithm.MD5, integrity: 'sha1' },
  ] as const;
  for (const c of cases) {
    const v = vector(c.name);
    const k = v.keys!;
    const vecStore = new CredentialStore({ users: { [k.username!]: k.password! } });
    t.equal(vecStore.longTermKey(k.username!, k.realm!, c.algorithm, NOW)?.toString('hex'), k.hmacKeyHex, `${c.name}: store key`);
    const ok = success(authenticateRequest(decoded(bytes(v)), ctx({ realm: k.realm!, store: vecStore, nonces: acceptAll })));
    t.equal(ok.username, k.username, c.name);
    t.equal(ok.userhash, true);
    t.equal(ok.algorithm, c.algorithm);
    t.equal(ok.key.toString('hex'), k.hmacKeyHex);
    // Erratum 6268 sends PASSWORD-ALGORITHM: responses use MI-SHA256. Without it MD5 applies and
    // §9.2.4 says to answer with MESSAGE-INTEGRITY, as vectors.md notes.
    t.equal(ok.integrity, c.integrity);
  }
});

t.test('every failure reason used here is in the closed set for metrics', async (t) => {
  t.same([...new Set(AUTH_FAILURE_REASONS)].length, AUTH_FAILURE_REASONS.length);
  const used = [
    'no-credentials',
    'missing-attribute',
    'malformed-attribute',
    'bad-password-algorithm',
    'wrong-realm',
    'unknown-user',
    'expired-user',
    'bad-integrity',
    'stale-nonce',
    'bad-nonce',
  ];
  for (const r of used) {
    t.ok((AUTH_FAILURE_REASONS as readonly string[]).includes(r), r);
  }
});
