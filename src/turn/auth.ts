/**
 * Long-term credential authentication of TURN requests (RFC 8489 §9.2.4, required for every TURN
 * request by RFC 8656 §5). Pure: it reads a decoded request plus the current time and says whether
 * the request is authenticated or which error response to send, with the attributes it must carry.
 */
import { AttributeType, PasswordAlgorithm } from '../stun/constants.js';
import { getAttribute, type EncodeOptions, type StunAttribute, type StunMessage } from '../stun/message.js';
import { verifyMessageIntegrity, verifyMessageIntegritySha256 } from '../stun/integrity.js';
import { decodeText, encodeText, TextLimit } from '../stun/attributes/text.js';
import {
  decodePasswordAlgorithm,
  encodePasswordAlgorithms,
  SUPPORTED_PASSWORD_ALGORITHMS,
} from '../stun/attributes/password-algorithms.js';
import type { CredentialStore } from './credentials.js';
import { nonceCookieFeatures, SecurityFeature, type NonceIssuer } from './nonce.js';

/** Every reason authentication can fail; exactly the label values of the auth-failure metric. */
export const AUTH_FAILURE_REASONS = [
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
] as const;
/** Why a request was not authenticated (a closed set, for metrics). */
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

/** Which integrity attribute signs the response: MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256. */
export type ResponseIntegrity = 'sha1' | 'sha256';

/** An authenticated request: who sent it and the key that signs every response to it. */
export interface AuthSuccess {
  ok: true;
  username: string;
  /** The long-term key that verified the request; secret, never log it. */
  key: Buffer;
  algorithm: PasswordAlgorithm;
  integrity: ResponseIntegrity;
  /** True when the client identified itself with USERHASH rather than USERNAME. */
  userhash: boolean;
}

/** A refused request: the error code, the reason for metrics, and the attributes the error response carries. */
export interface AuthFailure {
  ok: false;
  code: 400 | 401 | 438;
  reason: AuthFailureReason;
  /** REALM, a fresh NONCE and PASSWORD-ALGORITHMS for 401 and 438; empty for 400 (ERROR-CODE is the caller's). */
  attributes: StunAttribute[];
  /**
   * Only on a 438 whose request did verify: the key and integrity attribute to sign the 438 with
   * (RFC 8489 §9.2.4 allows it, and it lets the client tell a real 438 from a forged one).
   */
  key?: Buffer;
  integrity?: ResponseIntegrity;
}

/** The outcome of authenticateRequest. */
export type AuthResult = AuthSuccess | AuthFailure;

/** What authenticateRequest needs besides the request. `nonces` is any minter/checker (a NonceIssuer). */
export interface AuthContext {
  nowMs: number;
  /** The client's source IP (no port), as nonces are bound to it. */
  clientIp: string;
  /** The realm this server serves (RFC 8489 §9.2.4 recommends the provider's domain name). */
  realm: string;
  store: CredentialStore;
  nonces: Pick<NonceIssuer, 'mint' | 'check'>;
}

// The PASSWORD-ALGORITHMS value every 401/438 carries; §9.2.4 step 3 compares the request's copy
// with it byte for byte ("matches the value sent in the response that sent this NONCE").
const OFFERED_PASSWORD_ALGORITHMS = encodePasswordAlgorithms(SUPPORTED_PASSWORD_ALGORITHMS);

/**
 * The attributes of a challenge (401 or 438): REALM, a fresh NONCE for this client, and
 * PASSWORD-ALGORITHMS, which §9.2.5 requires whenever the nonce cookie has "Password algorithms" set.
 */
export function challengeAttributes(ctx: Pick<AuthContext, 'nowMs' | 'clientIp' | 'realm' | 'nonces'>): StunAttribute[] {
  return [
    { type: AttributeType.Realm, value: encodeText(ctx.realm, TextLimit.Realm) },
    { type: AttributeType.Nonce, value: Buffer.from(ctx.nonces.mint(ctx.nowMs, ctx.clientIp), 'utf8') },
    { type: AttributeType.PasswordAlgorithms, value: Buffer.from(OFFERED_PASSWORD_ALGORITHMS) },
  ];
}

function challenge(code: 401 | 438, reason: AuthFailureReason, ctx: AuthContext): AuthFailure {
  return { ok: false, code, reason, attributes: challengeAttributes(ctx) };
}

function badRequest(reason: AuthFailureReason): AuthFailure {
  // §9.2.4: a 400 carries no REALM/NONCE and cannot be signed; RFC 8489 clients drop it (§9.2.5).
  return { ok: false, code: 400, reason, attributes: [] };
}

function isSupported(algorithm: number): algorithm is PasswordAlgorithm {
  return SUPPORTED_PASSWORD_ALGORITHMS.some((e) => e.algorithm === algorithm);
}

/**
 * RFC 8489 §9.2.4 step 3: the algorithm of the long-term key, or undefined for a 400. Returns
 * `negotiated` when PASSWORD-ALGORITHM(S) was present, which decides the response's integrity.
 */
function selectAlgorithm(
  msg: StunMessage,
  nonce: string,
): { algorithm: PasswordAlgorithm; negotiated: boolean } | undefined {
  const list = getAttribute(msg, AttributeType.PasswordAlgorithms);
  const one = getAttribute(msg, AttributeType.PasswordAlgorithm);
  if (!list && !one) return { algorithm: PasswordAlgorithm.MD5, negotiated: false };
  const chosen = one ? decodePasswordAlgorithm(one.value) : undefined;
  const features = nonceCookieFeatures(nonce);
  if (features !== undefined && (features & SecurityFeature.PasswordAlgorithms) !== 0) {
    if (!list || !chosen || !list.value.equals(OFFERED_PASSWORD_ALGORITHMS)) return undefined;
    // The list equals ours, so "one of its entries" means supported with no parameters (§18.5.1).
    if (!isSupported(chosen.algorithm) || chosen.parameters.length !== 0) return undefined;
    return { algorithm: chosen.algorithm, negotiated: true };
  }
  // A nonce without the bit is not one of ours (ours always set it), so step 6 refuses it anyway.
  // §9.2.4 gives no rule for this case; §14.12 says PASSWORD-ALGORITHM names the key's algorithm.
  if (!one) return { algorithm: PasswordAlgorithm.MD5, negotiated: true };
  if (!chosen || !isSupported(chosen.algorithm) || chosen.parameters.length !== 0) return undefined;
  return { algorithm: chosen.algorithm, negotiated: true };
}

/**
 * RFC 8489 §9.2.4 (Receiving a Request, long-term credentials), its checks in the RFC's order:
 * 1. no MESSAGE-INTEGRITY(-SHA256) → 401 with REALM, NONCE, PASSWORD-ALGORITHMS;
 * 2. USERNAME/USERHASH, REALM or NONCE missing → 400;
 * 3. nonce cookie with "Password algorithms": PASSWORD-ALGORITHMS must equal ours and
 *    PASSWORD-ALGORITHM be one of them, or both be absent (then MD5) → else 400;
 * 4. realm not ours, user unknown or expired → 401 (a wrong realm is a credential that is not
 *    valid here; the 401 carries the right REALM so the client can retry, §9.2.5);
 * 5. MESSAGE-INTEGRITY-SHA256 if present, else MESSAGE-INTEGRITY, must verify → else 401;
 * 6. nonce forged, for another IP or expired → 438 with a fresh NONCE.
 * The nonce is checked last, as the RFC orders it, so a 438 goes only to a client that proved the
 * key and can be signed. Only the first of each attribute counts, and attributes after the
 * integrity attributes are ignored (getAttribute). `msg` must be decoded: integrity is checked over
 * `msg.raw`. Per the closing paragraph of §9.2.4, responses are signed with MESSAGE-INTEGRITY-SHA256
 * unless neither PASSWORD-ALGORITHM nor PASSWORD-ALGORITHMS was sent (MD5 by default): then with
 * MESSAGE-INTEGRITY.
 */
export function authenticateRequest(msg: StunMessage, ctx: AuthContext): AuthResult {
  // Step 1.
  const mi = getAttribute(msg, AttributeType.MessageIntegrity);
  const miSha256 = getAttribute(msg, AttributeType.MessageIntegritySha256);
  if (!mi && !miSha256) return challenge(401, 'no-credentials', ctx);

  // Step 2.
  const usernameAttr = getAttribute(msg, AttributeType.Username);
  const userhashAttr = getAttribute(msg, AttributeType.Userhash);
  const realmAttr = getAttribute(msg, AttributeType.Realm);
  const nonceAttr = getAttribute(msg, AttributeType.Nonce);
  if ((!usernameAttr && !userhashAttr) || !realmAttr || !nonceAttr) return badRequest('missing-attribute');
  const realm = decodeText(realmAttr.value, TextLimit.Realm);
  const nonce = decodeText(nonceAttr.value, TextLimit.Nonce);
  if (realm === undefined || nonce === undefined) return badRequest('malformed-attribute');

  // Step 3.
  const selected = selectAlgorithm(msg, nonce);
  if (!selected) return badRequest('bad-password-algorithm');
  const { algorithm } = selected;

  // Step 4. USERNAME wins when a client sends both, as it names the user without a lookup.
  if (realm !== ctx.realm) return challenge(401, 'wrong-realm', ctx);
  let username: string | undefined;
  if (usernameAttr) {
    username = decodeText(usernameAttr.value, TextLimit.Username);
  } else if (userhashAttr) {
    username = ctx.store.findByUserhash(userhashAttr.value, realm);
  }
  if (username === undefined) return challenge(401, 'unknown-user', ctx);
  const lookup = ctx.store.longTermKeys(username, realm, algorithm, ctx.nowMs);
  if (!lookup.ok) return challenge(401, lookup.reason, ctx);

  // Step 5. A REST user has one candidate key per secret; the one that verifies is theirs.
  const verify = miSha256 ? verifyMessageIntegritySha256 : verifyMessageIntegrity;
  const key = lookup.keys.find((k) => verify(msg, k));
  if (!key) return challenge(401, 'bad-integrity', ctx);
  const integrity: ResponseIntegrity = selected.negotiated ? 'sha256' : 'sha1';

  // Step 6.
  const nonceState = ctx.nonces.check(nonce, ctx.nowMs, ctx.clientIp);
  if (nonceState !== 'valid') {
    return { ...challenge(438, nonceState === 'stale' ? 'stale-nonce' : 'bad-nonce', ctx), key, integrity };
  }

  return { ok: true, username, key, algorithm, integrity, userhash: !usernameAttr };
}

/**
 * The encode options that sign a response to an authenticated request (RFC 8489 §9.2.4): the
 * success response and every error response after authentication, plus a 438 that carries a key.
 * Empty for other failures: a 400 or 401 cannot be signed with a key the client has not proved.
 */
export function responseIntegrity(result: AuthResult): EncodeOptions {
  if (result.key === undefined || result.integrity === undefined) return {};
  return result.integrity === 'sha256' ? { integritySha256: result.key } : { integrity: result.key };
}
