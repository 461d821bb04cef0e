import { createHash, timingSafeEqual } from 'node:crypto';
import { mintRestCredential } from '../turn/credentials.js';

/** What the credential endpoint needs: the secrets, the callers' keys and how to describe the servers. */
export interface CredentialEndpointConfig {
  /** Shared secrets; the first signs new credentials (the TURN server accepts all). */
  secrets: readonly string[];
  /** API keys callers present as `Authorization: Bearer` (or the draft's `key=`); empty = no check. */
  apiKeys: readonly string[];
  /** Origins allowed to call from a browser (CORS); `*` allows any. */
  corsOrigins: readonly string[];
  /** The longest TTL handed out, seconds; a caller's request is clamped to it. */
  maxTtl: number;
  /** TURN URIs for the credential, e.g. `turn:turn.example.com:3478?transport=udp`. */
  uris: readonly string[];
}

/** A request as the endpoint sees it, independent of node:http. */
export interface EndpointRequest {
  method: string;
  url: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** The answer: status, headers and a JSON body. */
export interface EndpointResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The user ids the endpoint mints for: no colon (it separates the expiry), nothing odd in logs. */
const USER_ID = /^[A-Za-z0-9._@+-]{1,128}$/;
/** The shortest TTL worth minting: shorter credentials expire before a call sets up. */
const MIN_TTL = 60;

function json(status: number, body: unknown, extra: Record<string, string> = {}): EndpointResponse {
  return {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...extra },
    body: `${JSON.stringify(body)}\n`,
  };
}

/** Compares a presented key with every configured key in constant time (hashes first, so lengths leak nothing). */
function keyMatches(presented: string, keys: readonly string[]): boolean {
  const p = createHash('sha256').update(presented).digest();
  let ok = false;
  for (const k of keys) ok = timingSafeEqual(p, createHash('sha256').update(k).digest()) || ok;
  return ok;
}

function header(req: EndpointRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The credential service (TURN REST API draft, draft-uberti-behave-turn-rest-00, and RTCIceServer
 * JSON): `GET /turn-credentials?service=turn&username=ID[&ttl=S]` and `GET /ice-servers?username=ID`,
 * plus CORS preflight. Pure: `now` comes in, a response goes out.
 */
export function handleCredentialRequest(req: EndpointRequest, config: CredentialEndpointConfig, now: number): EndpointResponse | undefined {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname !== '/turn-credentials' && url.pathname !== '/ice-servers') return undefined;
  const origin = header(req, 'origin');
  const cors: Record<string, string> = {};
  if (origin && (config.corsOrigins.includes('*') || config.corsOrigins.includes(origin))) {
    cors['access-control-allow-origin'] = config.corsOrigins.includes('*') ? '*' : origin;
    cors['access-control-allow-headers'] = 'authorization';
    cors['access-control-allow-methods'] = 'GET, OPTIONS';
    cors.vary = 'origin';
  }
  if (req.method === 'OPTIONS') return { status: 204, headers: { ...cors, 'cache-control': 'no-store' }, body: '' };
  if (req.method !== 'GET') return json(405, { error: 'use GET' }, { ...cors, allow: 'GET, OPTIONS' });

  if (config.apiKeys.length > 0) {
    const auth = header(req, 'authorization');
    const bearer = auth && /^Bearer\s+(.+)$/i.exec(auth)?.[1]?.trim();
    const presented = bearer || url.searchParams.get('key');
    if (!presented || !keyMatches(presented, config.apiKeys)) {
      return json(401, { error: 'missing or wrong API key: send Authorization: Bearer <key>' }, { ...cors, 'www-authenticate': 'Bearer' });
    }
  }
  if (config.secrets.length === 0) return json(503, { error: 'no shared secret configured on this server' }, cors);

  const service = url.searchParams.get('service');
  if (url.pathname === '/turn-credentials' && service !== null && service !== 'turn') {
    return json(400, { error: `service "${service}" is not offered; use service=turn` }, cors);
  }
  const userId = url.searchParams.get('username') ?? '';
  if (!USER_ID.test(userId)) {
    return json(400, { error: 'username: 1-128 characters from A-Z a-z 0-9 . _ @ + - (no colon)' }, cors);
  }
  let ttl = config.maxTtl;
  const ttlParam = url.searchParams.get('ttl');
  if (ttlParam !== null) {
    if (!/^\d{1,9}$/.test(ttlParam) || Number(ttlParam) < MIN_TTL) {
      return json(400, { error: `ttl: whole seconds, at least ${MIN_TTL} (at most ${config.maxTtl} is granted)` }, cors);
    }
    ttl = Math.min(Number(ttlParam), config.maxTtl);
  }
  const credential = mintRestCredential(config.secrets[0]!, userId, ttl, now);
  if (url.pathname === '/turn-credentials') {
    return json(200, { username: credential.username, password: credential.password, ttl: credential.ttl, uris: config.uris }, cors);
  }
  return json(200, { iceServers: [{ urls: config.uris, username: credential.username, credential: credential.password }] }, cors);
}
