/** TURN credentials and URIs as a credential service hands them out. */
export interface FetchedCredentials {
  username: string;
  password: string;
  uris: string[];
}

/**
 * Reads either shape a credential service answers with: the TURN REST API draft's
 * `{username, password, uris}` or RTCIceServer JSON `{iceServers: [{urls, username, credential}]}`
 * (the first entry with a username). Undefined when the body is neither.
 */
export function parseCredentialResponse(body: unknown): FetchedCredentials | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const b = body as Record<string, unknown>;
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : []);
  if (typeof b.username === 'string' && typeof b.password === 'string') {
    return { username: b.username, password: b.password, uris: strings(b.uris) };
  }
  if (Array.isArray(b.iceServers)) {
    for (const s of b.iceServers as Array<Record<string, unknown>>) {
      if (s && typeof s.username === 'string' && typeof s.credential === 'string') {
        return { username: s.username, password: s.credential, uris: strings(s.urls) };
      }
    }
  }
  return undefined;
}

/** Fetches credentials from `url` (with a Bearer key when given), failing with one clear line. */
export async function fetchCredentials(url: string, apiKey: string | undefined, timeoutMs: number): Promise<FetchedCredentials> {
  let res: Response;
  try {
    res = await fetch(url, {
      headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new Error(`--credentials-url ${url}: ${(err as Error).message}`);
  }
  if (!res.ok) throw new Error(`--credentials-url ${url}: HTTP ${res.status}${res.status === 401 ? ' (give --api-key)' : ''}`);
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    throw new Error(`--credentials-url ${url}: the answer is not JSON`);
  }
  const creds = parseCredentialResponse(body);
  if (!creds) throw new Error(`--credentials-url ${url}: expected {username, password, uris} or {iceServers: [...]}`);
  return creds;
}
