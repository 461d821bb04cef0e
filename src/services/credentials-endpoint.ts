import { createHash, timingSafeEqual } from 'node:crypto';
import { isLoopback } from '../config.js';
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
  /** The name clients reach this server by (`public_host`); without API keys, the one Host besides local names accepted. */
  publicHost?: string | undefined;
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

/** A Host header: a bracketed IPv6 literal or a name / IPv4 address, then an optional port. */
const HOST_HEADER = /^(?:\[([0-9A-Fa-f:.]{2,45})\]|([A-Za-z0-9.-]{1,253}))(?::\d{1,5})?$/;

/** Whether `host` (a Host header) names this machine: a loopback IP, `localhost`, `*.localhost`, or one of `names`. */
function isOwnHost(host: string | undefined, names: readonly string[]): boolean {
  const m = HOST_HEADER.exec(host ?? '');
  if (!m) return false;
  const name = (m[1] ?? m[2]!).toLowerCase();
  if (isLoopback(name) || name === 'localhost' || name.endsWith('.localhost')) return true;
  return names.some((n) => n.replace(/^\[(.*)\]$/, '$1').toLowerCase() === name);
}

/**
 * Guards a listener without API keys against DNS rebinding: a foreign site whose name resolves to
 * 127.0.0.1 would otherwise have the operator's browser fetch credentials for its pages. Answers
 * 421 unless Host names this machine (see isOwnHost), `listenHost` or `config.publicHost`; undefined
 * means serve. Host alone decides: a rebound page can set X-Forwarded-Host with fetch. With API keys
 * the key is the protection and any Host passes, unless `keyless` says the path hands out
 * credentials without a key whatever is configured (the page's signaling socket).
 */
export function refuseForeignHost(
  req: EndpointRequest,
  config: CredentialEndpointConfig,
  listenHost: string,
  keyless = config.apiKeys.length === 0,
): EndpointResponse | undefined {
  if (!keyless) return undefined;
  const names = config.publicHost ? [listenHost, config.publicHost] : [listenHost];
  if (isOwnHost(header(req, 'host'), names)) return undefined;
  return {
    status: 421,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
    body: 'This server has no API key, so it answers only for localhost, its own address and public_host.\nSet public_host (--public-host) to the name it is reached by, or configure an API key.\n',
  };
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
