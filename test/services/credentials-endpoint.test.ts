import t from 'tap';
import { createHmac } from 'node:crypto';
import { handleCredentialRequest, refuseForeignHost, type CredentialEndpointConfig, type EndpointRequest } from '../../src/services/credentials-endpoint.js';

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);
const config: CredentialEndpointConfig = {
  secrets: ['first-secret', 'old-secret'],
  apiKeys: ['k'.repeat(20)],
  corsOrigins: ['https://app.example.com'],
  maxTtl: 3600,
  uris: ['turn:turn.example.com:3478?transport=udp', 'turn:turn.example.com:3478?transport=tcp'],
};
const auth = { authorization: `Bearer ${'k'.repeat(20)}` };

function get(url: string, headers: EndpointRequest['headers'] = auth, method = 'GET') {
  const r = handleCredentialRequest({ method, url, headers }, config, NOW);
  if (!r) throw new Error(`no route for ${url}`);
  return { ...r, json: r.body ? (JSON.parse(r.body) as Record<string, unknown>) : undefined };
}

t.test('TURN REST shape: username <expiry>:<id>, password = base64 HMAC-SHA1 with the FIRST secret', async (t) => {
  const r = get('/turn-credentials?service=turn&username=alice&ttl=600');
  t.equal(r.status, 200);
  t.equal(r.headers['cache-control'], 'no-store');
  t.equal(r.headers['content-type'], 'application/json');
  const body = r.json as { username: string; password: string; ttl: number; uris: string[] };
  t.equal(body.username, `${Math.floor(NOW / 1000) + 600}:alice`);
  t.equal(body.password, createHmac('sha1', 'first-secret').update(body.username).digest('base64'));
  t.equal(body.ttl, 600);
  t.same(body.uris, config.uris);
});

t.test('RTCIceServer shape', async (t) => {
  const r = get('/ice-servers?username=bob');
  t.equal(r.status, 200);
  const body = r.json as { iceServers: Array<{ urls: string[]; username: string; credential: string }> };
  t.equal(body.iceServers.length, 1);
  const s = body.iceServers[0]!;
  t.same(s.urls, config.uris);
  t.equal(s.username, `${Math.floor(NOW / 1000) + 3600}:bob`, 'no ttl asked: the maximum');
  t.equal(s.credential, createHmac('sha1', 'first-secret').update(s.username).digest('base64'));
});

t.test('TTL is clamped to the maximum; too short or malformed is 400', async (t) => {
  t.equal((get('/turn-credentials?username=a&ttl=999999').json as { ttl: number }).ttl, 3600);
  for (const ttl of ['0', '59', '-5', 'abc', '1e3']) {
    const r = get(`/turn-credentials?username=a&ttl=${ttl}`);
    t.equal(r.status, 400, `ttl=${ttl}`);
    t.match(r.json, { error: /ttl/ });
  }
});

t.test('bad usernames are 400 with the reason', async (t) => {
  for (const u of ['', 'a:b', 'x'.repeat(129), 'sp ace', '%00']) {
    const r = get(`/turn-credentials?username=${encodeURIComponent(u)}`);
    t.equal(r.status, 400, JSON.stringify(u));
    t.match(r.json, { error: /username/ });
  }
  t.equal(get('/turn-credentials?service=stun&username=a').status, 400, 'only service=turn');
});

t.test('API key: Bearer header or the draft key= parameter; missing or wrong is 401 JSON', async (t) => {
  t.equal(get('/ice-servers?username=a', {}).status, 401);
  t.equal(get('/ice-servers?username=a', { authorization: 'Bearer wrong-key-wrong-key' }).status, 401);
  t.equal(get('/ice-servers?username=a', { authorization: `Basic ${'k'.repeat(20)}` }).status, 401);
  const r = get(`/ice-servers?username=a&key=${'k'.repeat(20)}`, {});
  t.equal(r.status, 200, 'key= query parameter accepted');
  const denied = get('/ice-servers?username=a', {});
  t.match(denied.json, { error: /API key/ });
  t.notMatch(denied.body, /stack|at /, 'no stack trace');
});

t.test('CORS: allowed origins are echoed, others get no CORS headers; preflight answers 204', async (t) => {
  const ok = get('/ice-servers?username=a', { ...auth, origin: 'https://app.example.com' });
  t.equal(ok.headers['access-control-allow-origin'], 'https://app.example.com');
  const other = get('/ice-servers?username=a', { ...auth, origin: 'https://evil.example' });
  t.equal(other.headers['access-control-allow-origin'], undefined);
  const pre = get('/ice-servers', { origin: 'https://app.example.com' }, 'OPTIONS');
  t.equal(pre.status, 204);
  t.match(pre.headers['access-control-allow-headers'], /authorization/);
  t.equal(get('/ice-servers?username=a', auth, 'POST').status, 405);
});

t.test('no secret configured: 503, never a credential', async (t) => {
  const r = handleCredentialRequest({ method: 'GET', url: '/ice-servers?username=a', headers: auth }, { ...config, secrets: [] }, NOW);
  t.equal(r?.status, 503);
});

t.test('other paths are not this handler’s', async (t) => {
  t.equal(handleCredentialRequest({ method: 'GET', url: '/elsewhere', headers: auth }, config, NOW), undefined);
});

t.test('without API keys only this machine’s names pass the Host check (DNS rebinding); with keys any Host does', async (t) => {
  const keyless = { ...config, apiKeys: [] };
  const status = (host: string | undefined, c: CredentialEndpointConfig = keyless, listen = '127.0.0.1') =>
    refuseForeignHost({ method: 'GET', url: '/ice-servers?username=a', headers: host === undefined ? {} : { host } }, c, listen)?.status ?? 200;
  for (const host of ['127.0.0.1:8080', '127.0.0.1', '127.8.9.10:1', '[::1]:8080', '[::1]', 'localhost:8080', 'LocalHost', 'app.localhost:8080', 'a.b.localhost']) {
    t.equal(status(host), 200, `${host} passes`);
  }
  for (const host of [undefined, '', 'evil.example:8080', 'evil.example', 'localhost.evil.example', 'evillocalhost', '10.0.0.1', '[::2]', '[::ffff:127.0.0.1]', 'x@127.0.0.1', '127.0.0.1:8080/x', 'localhost:80:80']) {
    t.equal(status(host), 421, `${JSON.stringify(host)} refused`);
  }
  t.equal(status('evil.example', config), 200, 'API keys configured: the key protects, any Host passes');
  t.equal(status('turn.example.com:8443', { ...keyless, publicHost: 'turn.example.com' }), 200, 'public_host passes');
  t.equal(status('TURN.example.com', { ...keyless, publicHost: 'turn.example.com' }), 200, 'in any case');
  t.equal(status('[fd00::5]:80', { ...keyless, publicHost: 'fd00::5' }), 200, 'an IPv6 public_host');
  t.equal(status('192.0.2.7:8080', keyless, '192.0.2.7'), 200, 'the listener\'s own address passes');
  const r = refuseForeignHost({ method: 'GET', url: '/', headers: { host: 'evil.example', 'x-forwarded-host': 'localhost' } }, keyless, '127.0.0.1');
  t.equal(r?.status, 421, 'X-Forwarded-Host is not believed');
  t.equal(r?.headers['content-type'], 'text/plain; charset=utf-8');
  t.match(r?.body, /public_host/, 'the answer names the fix');
});
