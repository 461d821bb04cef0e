import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';
import { DEFAULT_PORT, DEFAULT_TLS_PORT, parseHostPort, parsePort, parseUser, type ConfigInput, type HostPort } from './config.js';
import { ConfigError } from './errors.js';

/** How a value is written in a file, the environment and on the command line. */
type ValueType = 'string' | 'int' | 'list' | 'hostports' | 'hostport-or-off' | 'string-or-off' | 'users' | 'file' | 'bool';

/** One configuration option: its names in each source, its type, and its documentation. */
export interface OptionSpec {
  /** snake_case key in the YAML file. */
  key: string;
  /** The field of ConfigInput it sets (file-valued options are read into another field). */
  field: keyof ConfigInput;
  /** Command-line flag with its argument, as commander takes it. */
  flag: string;
  type: ValueType;
  /** Default as documentation shows it. */
  default: string;
  doc: string;
  /** Redacted by check-config. */
  secret?: boolean;
  /** For type 'hostports' / 'hostport-or-off': the port taken when none is written. */
  defaultPort?: number;
}

/** The one schema of turnkit's configuration: file keys, TURNKIT_* variables and flags all come from it. */
export const OPTIONS: readonly OptionSpec[] = [
  { key: 'listen', field: 'listen', flag: '--listen <ip:port>', type: 'hostports', defaultPort: DEFAULT_PORT, default: '0.0.0.0:3478 and [::]:3478', doc: 'UDP and TCP listen addresses (STUN and TURN)' },
  { key: 'tls_listen', field: 'tlsListen', flag: '--tls-listen <ip:port>', type: 'hostports', defaultPort: DEFAULT_TLS_PORT, default: '0.0.0.0:5349 and [::]:5349', doc: 'TLS listen addresses; need cert and key' },
  { key: 'cert', field: 'cert', flag: '--cert <file>', type: 'string', default: 'none (TLS off)', doc: 'PEM certificate chain for TLS' },
  { key: 'key', field: 'key', flag: '--key <file>', type: 'string', default: 'none', doc: 'PEM private key for TLS' },
  { key: 'alt_address', field: 'altAddress', flag: '--alt-address <ip>', type: 'string', default: 'none', doc: 'RFC 5780: a second local IP; enables CHANGE-REQUEST and OTHER-ADDRESS' },
  { key: 'alt_port', field: 'altPort', flag: '--alt-port <port>', type: 'int', default: 'listen port + 1', doc: 'RFC 5780: the second port' },
  { key: 'software', field: 'software', flag: '--software <text>', type: 'string-or-off', default: 'turnkit', doc: 'SOFTWARE attribute text (at most 64 bytes), or false for none' },
  { key: 'log_level', field: 'logLevel', flag: '--log-level <level>', type: 'string', default: 'info', doc: 'debug, info, warn, error or silent' },
  { key: 'stream_idle_timeout', field: 'streamIdleTimeout', flag: '--stream-idle-timeout <seconds>', type: 'int', default: '30', doc: 'close TCP/TLS connections silent this long' },
  { key: 'stream_handshake_timeout', field: 'streamHandshakeTimeout', flag: '--stream-handshake-timeout <seconds>', type: 'int', default: '10', doc: 'close TCP/TLS connections that have not finished the TLS handshake, or then sent no whole message, this long after connecting, and later ones whose next message is not whole this long after its first byte (the TLS part takes effect at restart)' },
  { key: 'stream_max_message', field: 'streamMaxMessage', flag: '--stream-max-message <bytes>', type: 'int', default: '65552 (the most the framing allows)', doc: 'close a TCP/TLS connection announcing a larger STUN or ChannelData message (1280 to 65552)' },
  { key: 'stream_max_buffered', field: 'streamMaxBuffered', flag: '--stream-max-buffered <bytes>', type: 'int', default: '262144', doc: 'drop relayed data for a TCP/TLS client with more than this waiting to be sent (a client that stops reading)' },
  { key: 'max_connections_per_ip', field: 'maxConnectionsPerIp', flag: '--max-connections-per-ip <n>', type: 'int', default: '64', doc: 'open TCP/TLS connections per client IP, 0 = no limit (more are closed at once)' },
  { key: 'max_connections', field: 'maxConnections', flag: '--max-connections <n>', type: 'int', default: '10000', doc: 'open TCP/TLS connections in total, 0 = no limit (more are closed at once)' },
  { key: 'realm', field: 'realm', flag: '--realm <name>', type: 'string', default: 'the host name', doc: 'TURN realm of long-term credentials' },
  { key: 'users', field: 'users', flag: '--user <name:password>', type: 'users', default: 'none', doc: 'static TURN users (file: a map name: password; env: name:pw,name2:pw2; flag: repeatable)', secret: true },
  { key: 'users_file', field: 'users', flag: '--users-file <file>', type: 'file', default: 'none', doc: 'file of name:password lines, added to users' },
  { key: 'secrets', field: 'secrets', flag: '--secret <secret>', type: 'list', default: 'none (a random one is generated for npm start)', doc: 'TURN REST shared secrets; the first mints, all are accepted', secret: true },
  { key: 'secret_file', field: 'secrets', flag: '--secret-file <file>', type: 'file', default: 'none', doc: 'file with one shared secret per line, added to secrets' },
  { key: 'relay_ports', field: 'relayPorts', flag: '--relay-ports <min-max>', type: 'string', default: '49152-65535', doc: 'relay port range' },
  { key: 'relay_ip', field: 'relayIp', flag: '--relay-ip <ip>', type: 'list', default: 'the address the client reached', doc: 'local IP relay sockets bind to: one IPv4 and/or one IPv6 address (a dual allocation needs both); only the families given are relayed' },
  { key: 'external_ip', field: 'externalIp', flag: '--external-ip <public[/private]>', type: 'string', default: 'none', doc: 'public address advertised behind 1:1 NAT' },
  { key: 'allow_peers', field: 'allowPeers', flag: '--allow-peer <cidr>', type: 'list', default: 'none', doc: 'peer networks allowed despite the default deny list' },
  { key: 'deny_peers', field: 'denyPeers', flag: '--deny-peer <cidr>', type: 'list', default: 'none', doc: 'peer networks denied in addition' },
  { key: 'max_allocations_per_user', field: 'maxAllocationsPerUser', flag: '--max-allocations-per-user <n>', type: 'int', default: '64', doc: 'allocations per user, 0 = no limit (486 beyond)' },
  { key: 'max_allocations_per_ip', field: 'maxAllocationsPerIp', flag: '--max-allocations-per-ip <n>', type: 'int', default: '100', doc: 'allocations per client IP, 0 = no limit (486 beyond)' },
  { key: 'max_allocations', field: 'maxAllocations', flag: '--max-allocations <n>', type: 'int', default: '0', doc: 'allocations in total, 0 = as many as relay ports (508 beyond)' },
  { key: 'max_lifetime', field: 'maxLifetime', flag: '--max-lifetime <seconds>', type: 'int', default: '3600', doc: 'longest allocation lifetime a client may ask for' },
  { key: 'max_permissions', field: 'maxPermissions', flag: '--max-permissions <n>', type: 'int', default: '64', doc: 'peer permissions per allocation' },
  { key: 'nonce_lifetime', field: 'nonceLifetime', flag: '--nonce-lifetime <seconds>', type: 'int', default: '600', doc: 'seconds before a nonce is stale (438)' },
  { key: 'http_listen', field: 'httpListen', flag: '--http-listen <ip:port>', type: 'hostport-or-off', defaultPort: 8080, default: '127.0.0.1:8080', doc: 'credential service and health probes, or false' },
  { key: 'metrics_listen', field: 'metricsListen', flag: '--metrics-listen <ip:port>', type: 'hostport-or-off', defaultPort: 9641, default: '127.0.0.1:9641', doc: 'Prometheus /metrics, or false' },
  { key: 'api_keys', field: 'apiKeys', flag: '--api-key <key>', type: 'list', default: 'none (loopback only)', doc: 'keys callers of the credential service present', secret: true },
  { key: 'cors_origins', field: 'corsOrigins', flag: '--cors-origin <origin>', type: 'list', default: 'none', doc: 'browser origins allowed to call the credential service' },
  { key: 'max_credential_ttl', field: 'maxCredentialTtl', flag: '--max-credential-ttl <seconds>', type: 'int', default: '86400', doc: 'longest credential the service hands out' },
  { key: 'http_max_connections_per_ip', field: 'httpMaxConnectionsPerIp', flag: '--http-max-connections-per-ip <n>', type: 'int', default: '32', doc: 'open connections one client IP may hold on the HTTP listener (slow or idle ones included), 0 = no limit (set 0 behind a reverse proxy)' },
  { key: 'public_host', field: 'publicHost', flag: '--public-host <name>', type: 'string', default: 'external IP or listen address', doc: 'host name in the TURN URIs the service returns, and the one HTTP Host besides local names a listener without API key (and /signal on any) answers' },
  { key: 'drain_timeout', field: 'drainTimeout', flag: '--drain-timeout <seconds>', type: 'int', default: '30', doc: 'on SIGTERM, how long live allocations may keep relaying' },
  { key: 'web', field: 'web', flag: '--no-web', type: 'bool', default: 'true on a loopback http_listen, else false', doc: 'the conferencing page at / and its signaling at /signal on the HTTP listener (it mints a TURN credential for whoever joins)' },
  { key: 'alternate_server', field: 'alternateServers', flag: '--alternate-server <ip:port>', type: 'hostports', defaultPort: DEFAULT_PORT, default: 'none', doc: 'where a draining or full node sends new UDP/TCP Allocates (300 Try Alternate); round robin, same IP family as the client first' },
  { key: 'tls_alternate_server', field: 'tlsAlternateServers', flag: '--tls-alternate-server <ip:port>', type: 'hostports', defaultPort: DEFAULT_TLS_PORT, default: 'none', doc: 'the same for Allocates over TLS' },
  { key: 'alternate_domain', field: 'alternateDomain', flag: '--alternate-domain <name>', type: 'string', default: 'none (the name the client used)', doc: 'ALTERNATE-DOMAIN sent with 300 over TLS: the name the alternates\' certificates carry' },
  { key: 'state_dir', field: 'stateDir', flag: '--state-dir <dir>', type: 'string', default: '/var/lib/turnkit as root, else ./.turnkit', doc: 'where a generated secret is kept (0600)' },
  { key: 'data_plane', field: 'dataPlane', flag: '--data-plane <plane>', type: 'string', default: 'auto', doc: 'UDP data plane: auto (native when built, else js), native (the recvmmsg/sendmmsg addon; fails if not built) or js (Node dgram)' },
];

/** Every key a configuration file may use. */
export const CONFIG_KEYS: readonly string[] = OPTIONS.map((o) => o.key);

/** The environment variable of a key: TURNKIT_ plus the key in upper case. */
export function envName(key: string): string {
  return `TURNKIT_${key.toUpperCase()}`;
}

/** Where a value came from, for error messages that name it the way the user wrote it. */
export type Source = { kind: 'file'; path: string } | { kind: 'env' } | { kind: 'flag' };

function where(spec: OptionSpec, source: Source): string {
  if (source.kind === 'file') return `${source.path}: ${spec.key}`;
  if (source.kind === 'env') return envName(spec.key);
  return spec.flag.split(' ')[0]!;
}

/** The same name for use inside a sentence ("users in turnkit.yaml"). */
function whereInSentence(spec: OptionSpec, source: Source): string {
  return source.kind === 'file' ? `${spec.key} in ${source.path}` : where(spec, source);
}

/** The option of a file key. */
function specOf(key: string): OptionSpec {
  return OPTIONS.find((o) => o.key === key)!;
}

/**
 * Decodes a file as UTF-8, refusing invalid bytes: decoding them leniently would turn them into
 * U+FFFD, so two different Latin-1 passwords would silently become the same one.
 */
function decodeUtf8(bytes: Uint8Array, name: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ConfigError(`${name}: not valid UTF-8 (byte offset ${firstInvalidByte(bytes)}); save it as UTF-8`);
  }
}

/** The offset of the first byte of the first invalid UTF-8 sequence. */
function firstInvalidByte(bytes: Uint8Array): number {
  // Fed a byte at a time, the decoder returns text exactly when a character is complete, so `start`
  // is where the sequence it fails on began. ignoreBOM keeps a BOM as text, a character like others.
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let start = 0;
  try {
    for (let i = 0; i < bytes.length; i++) {
      if (decoder.decode(bytes.subarray(i, i + 1), { stream: true }) !== '') start = i + 1;
    }
    decoder.decode();
  } catch {
    // The decoder failed on the sequence that began at `start`.
  }
  return start;
}

/** The non-empty, non-comment lines of a users or secrets file, with their line numbers. */
function numberedLines(what: string, file: string): Array<{ line: number; text: string }> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${what} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return decodeUtf8(bytes, `${what} ${file}`)
    .split(/\r?\n/)
    .map((l, i) => ({ line: i + 1, text: l.trim() }))
    .filter((l) => l.text.length > 0 && !l.text.startsWith('#'));
}

/** Reads the non-empty, non-comment lines of a users or secrets file. */
export function readLines(what: string, file: string): string[] {
  return numberedLines(what, file).map((l) => l.text);
}

/** What a value is, for messages that must not show it (it may be a secret). */
function kindOf(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a map' : `a ${typeof v}`;
}

/** Converts one value from a file (any YAML type) or the environment (text) into ConfigInput form. */
function convert(spec: OptionSpec, value: unknown, source: Source): unknown {
  const name = where(spec, source);
  const text = (v: unknown, label = name): string => {
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
    throw new ConfigError(`${label}: expected text, got ${kindOf(v)}`);
  };
  const list = (v: unknown): string[] => {
    if (Array.isArray(v)) return v.map((item) => text(item));
    const items = text(v).split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    // An empty variable would otherwise replace the file's list with nothing, i.e. the defaults.
    if (items.length === 0 && source.kind === 'env') throw new ConfigError(`${name} is empty: unset it, or give a value`);
    return items;
  };
  switch (spec.type) {
    case 'string':
      return text(value);
    case 'int': {
      const t = text(value);
      if (!/^\d{1,9}$/.test(t)) throw new ConfigError(`${name} "${t}": use a whole number`);
      return spec.key === 'alt_port' ? parsePort(t, name) : Number(t);
    }
    case 'list':
      return list(value);
    case 'hostports':
      return list(value).map((v) => parseHostPort(v, name, spec.defaultPort!));
    case 'hostport-or-off':
      if (value === false || value === 'false' || value === 'off') return null;
      return parseHostPort(text(value), name, spec.defaultPort!);
    case 'string-or-off':
      if (value === false || value === 'false') return null;
      return text(value);
    case 'users': {
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        return Object.fromEntries(
          Object.entries(value as Record<string, unknown>).map(([k, v]) => {
            const password = text(v, `${name}.${k}`);
            // As NAME:PASSWORD in the environment or a flag, neither part may be empty.
            if (k === '' || password === '') throw new ConfigError(`${name}.${k}: a user needs a name and a non-empty password`);
            return [k, password];
          }),
        );
      }
      const given = list(value);
      return Object.fromEntries(given.map((u, i) => parseUser(u, given.length > 1 ? `${name} entry ${i + 1}` : name)));
    }
    case 'file': {
      const file = text(value);
      const lines = numberedLines(name, file);
      if (spec.key === 'users_file') return Object.fromEntries(lines.map((l) => parseUser(l.text, `${name} ${file} line ${l.line}`)));
      return lines.map((l) => l.text);
    }
    case 'bool':
      if (value === true || value === 'true' || value === 'on' || value === '1') return true;
      if (value === false || value === 'false' || value === 'off' || value === '0') return false;
      throw new ConfigError(`${name}: use true or false, got ${JSON.stringify(value)}`);
  }
}

/** The keys that ConfigInput's one `users` and one `secrets` field each hold two of. */
type CredentialKey = 'users' | 'users_file' | 'secrets' | 'secret_file';

/** What each credential key of one source gave, and the source. */
type CredentialKeys = Partial<Record<CredentialKey, { value: unknown; source: Source }>>;

/**
 * users_file and secret_file are keys of their own, only added to users and secrets at the end, so
 * one source setting users must not drop another's users_file. A loaded ConfigInput holds the sum;
 * this remembers each key's own value for mergeLayers, which layers the keys one by one.
 */
const credentialKeys = new WeakMap<ConfigInput, CredentialKeys>();

/** Adds users_file to users and secret_file to secrets (inline secrets first: the first one mints). */
function addUpCredentials(given: CredentialKeys, into: ConfigInput): void {
  const { users, users_file: usersFile, secrets, secret_file: secretFile } = given;
  if (users || usersFile) {
    const inline = (users?.value ?? {}) as Record<string, string>;
    const fromFile = (usersFile?.value ?? {}) as Record<string, string>;
    const twice = Object.keys(fromFile).find((name) => Object.hasOwn(inline, name));
    if (twice !== undefined) {
      // Neither source outranks the other here: they are different keys, so refuse rather than guess.
      throw new ConfigError(
        `${where(specOf('users_file'), usersFile!.source)}: user "${twice}" is also given by ${whereInSentence(specOf('users'), users!.source)}; give each user once`,
      );
    }
    into.users = { ...inline, ...fromFile };
  }
  if (secrets || secretFile) into.secrets = [...((secrets?.value ?? []) as string[]), ...((secretFile?.value ?? []) as string[])];
}

/** Reads values from one source (a parsed file or the environment) into ConfigInput, plus file-valued options. */
function fromEntries(entries: Array<[OptionSpec, unknown]>, source: Source): ConfigInput {
  const out: Record<string, unknown> = {};
  const given: CredentialKeys = {};
  for (const [spec, raw] of entries) {
    const value = convert(spec, raw, source);
    if (spec.field === 'users' || spec.field === 'secrets') given[spec.key as CredentialKey] = { value, source };
    else out[spec.field] = value;
  }
  const input = out as ConfigInput;
  addUpCredentials(given, input);
  credentialKeys.set(input, given);
  return input;
}

/**
 * The YAML parser, loaded when a file is first read: a node configured by flags and environment
 * alone does not carry it (about 7 MB of resident memory).
 */
let yamlParser: typeof Yaml | undefined;
function yaml(): typeof Yaml {
  return (yamlParser ??= createRequire(import.meta.url)('yaml') as typeof Yaml);
}

/** Text types: a YAML number or boolean given for one was almost surely meant as text. */
const TEXT_TYPES: ReadonlySet<ValueType> = new Set(['string', 'list', 'users', 'file', 'string-or-off']);

/**
 * Refuses a YAML number or boolean where text is expected: YAML reads `0123` as 123 and `0x1F` as
 * 31, so the password or name taken would not be the one written. Secrets are not echoed.
 */
function refuseNonText(spec: OptionSpec, node: unknown, text: string, path: string): void {
  if (!TEXT_TYPES.has(spec.type)) return;
  const YAML = yaml();
  const check = (n: unknown, label: string, secret: boolean, what = ''): void => {
    if (!YAML.isScalar(n) || (typeof n.value !== 'number' && typeof n.value !== 'boolean')) return;
    if (spec.type === 'string-or-off' && n.value === false) return;
    const kind = typeof n.value === 'number' ? 'number' : 'boolean';
    if (secret) throw new ConfigError(`${path}: ${label}: YAML reads this value as a ${kind}, not text; quote it`);
    const written = n.range ? text.slice(n.range[0], n.range[1]) : String(n.value);
    throw new ConfigError(`${path}: ${label}: ${what}${written} is read by YAML as the ${kind} ${String(n.value)}; quote it: ${JSON.stringify(written)}`);
  };
  const secret = spec.secret === true;
  if (YAML.isSeq(node) && (spec.type === 'list' || spec.type === 'users')) node.items.forEach((item, i) => check(item, `${spec.key}[${i}]`, secret));
  else if (YAML.isMap(node) && spec.type === 'users') {
    for (const pair of node.items) {
      // A user name is not secret; its password is.
      check(pair.key, spec.key, false, 'the user name ');
      const name = YAML.isScalar(pair.key) ? String(pair.key.value) : '?';
      check(pair.value, `${spec.key}.${name}`, true);
    }
  } else check(node, spec.key, secret);
}

/** Parses a YAML configuration file; unknown keys are errors (a typo must not pass silently). */
export function loadConfigFile(path: string): ConfigInput {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new ConfigError(`--config ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const text = decodeUtf8(bytes, path);
  const YAML = yaml();
  const doc = YAML.parseDocument(text);
  if (doc.errors.length > 0) throw new ConfigError(`${path}: not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  const settings: unknown = doc.toJS();
  if (settings === null || settings === undefined) return {};
  if (typeof settings !== 'object' || Array.isArray(settings) || !YAML.isMap(doc.contents)) {
    throw new ConfigError(`${path}: expected a map of settings at the top level`);
  }
  const nodes = new Map(doc.contents.items.map((pair) => [YAML.isScalar(pair.key) ? String(pair.key.value) : '', pair.value]));
  const entries: Array<[OptionSpec, unknown]> = [];
  for (const [key, value] of Object.entries(settings as Record<string, unknown>)) {
    const spec = OPTIONS.find((o) => o.key === key);
    if (!spec) {
      const norm = (k: string): string => k.replace(/[-_]/g, '').toLowerCase();
      const hint = OPTIONS.find((o) => norm(o.key).startsWith(norm(key)) || norm(key).startsWith(norm(o.key)));
      throw new ConfigError(`${path}: unknown key "${key}"${hint ? ` (did you mean ${hint.key}?)` : ''}; see docs/configuration.md`);
    }
    if (value === null) continue;
    refuseNonText(spec, nodes.get(key), text, path);
    entries.push([spec, value]);
  }
  return fromEntries(entries, { kind: 'file', path });
}

/** Reads TURNKIT_* variables; unknown TURNKIT_* names are errors too. */
export function loadEnv(env: NodeJS.ProcessEnv): ConfigInput {
  const entries: Array<[OptionSpec, unknown]> = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('TURNKIT_') || value === undefined) continue;
    const spec = OPTIONS.find((o) => envName(o.key) === name);
    if (!spec) throw new ConfigError(`${name}: unknown setting; see docs/configuration.md for the TURNKIT_* names`);
    entries.push([spec, value]);
  }
  return fromEntries(entries, { kind: 'env' });
}

/** Reads flag values (repeatable ones as arrays of text) into ConfigInput. */
export function loadFlags(values: ReadonlyMap<OptionSpec, unknown>): ConfigInput {
  return fromEntries([...values], { kind: 'flag' });
}

/** A layer of settings and where it came from. */
export interface Layer {
  input: ConfigInput;
  source: Source;
}

/**
 * Layers sources, later ones winning key by key (defaults < file < environment < flags), and
 * remembers which source set each key so errors can name it the way the user wrote it. users_file
 * and secret_file layer apart from users and secrets, and are added to them after.
 */
export function mergeLayers(layers: readonly Layer[]): { input: ConfigInput; sources: Map<string, Source> } {
  const input: Record<string, unknown> = {};
  const sources = new Map<string, Source>();
  const given: CredentialKeys = {};
  for (const layer of layers) {
    const { users, secrets, ...rest } = layer.input;
    // An input built by hand rather than loaded holds users and secrets only.
    const keys = credentialKeys.get(layer.input) ?? {
      ...(users ? { users: { value: users, source: layer.source } } : {}),
      ...(secrets ? { secrets: { value: secrets, source: layer.source } } : {}),
    };
    for (const [key, value] of Object.entries(keys)) given[key as CredentialKey] = { value: value.value, source: layer.source };
    for (const [field, value] of Object.entries(rest)) {
      input[field] = value;
      const spec = OPTIONS.find((o) => o.field === field);
      if (spec) sources.set(spec.key, layer.source);
    }
  }
  for (const [key, value] of Object.entries(given)) sources.set(key, value.source);
  addUpCredentials(given, input as ConfigInput);
  return { input: input as ConfigInput, sources };
}

/**
 * Rewrites a validation error that names a flag (`--relay-ports "x": ...`) to name the file key or
 * environment variable that actually set the value.
 */
export function explainError(err: ConfigError, sources: ReadonlyMap<string, Source>): ConfigError {
  for (const spec of OPTIONS) {
    const flag = spec.flag.split(' ')[0]!;
    // The whole flag: --user must not take a message about --users-file.
    if (!err.message.startsWith(flag) || /[\w-]/.test(err.message.charAt(flag.length))) continue;
    const source = sources.get(spec.key);
    if (!source || source.kind === 'flag') return err;
    return new ConfigError(`${where(spec, source)}${err.message.slice(flag.length)}`);
  }
  return err;
}

/** The effective configuration as check-config prints it: secrets redacted, file names kept. */
export function redact(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  if (Array.isArray(out.secrets)) out.secrets = (out.secrets as unknown[]).map(() => '<redacted>');
  if (Array.isArray(out.apiKeys)) out.apiKeys = (out.apiKeys as unknown[]).map(() => '<redacted>');
  if (out.users && typeof out.users === 'object') {
    out.users = Object.fromEntries(Object.keys(out.users as object).map((u) => [u, '<redacted>']));
  }
  return out;
}

/** docs/configuration.md, generated from OPTIONS so the documentation cannot drift from the code. */
export function configurationMarkdown(): string {
  const rows = OPTIONS.map(
    (o) => `| \`${o.key}\` | \`${envName(o.key)}\` | \`${o.flag}\` | ${o.default} | ${o.doc} |`,
  );
  return [
    '# Configuration',
    '',
    'Generated from `src/config-file.ts` by `turnkit check-config --docs`; do not edit by hand.',
    '',
    'Every setting can come from a YAML file (`--config FILE`), the environment (`TURNKIT_*`) or a flag.',
    'Precedence: flags > environment > file > defaults, key by key. `users_file` and `secret_file` are',
    'keys of their own, layered apart from `users` and `secrets` and then added to them, so',
    '`TURNKIT_USERS` adds to a file\'s `users_file` rather than replacing it (a user given by both is an',
    'error). Lists are YAML lists in the file and comma-separated in the environment; flags for lists',
    'are repeatable. The file is UTF-8; quote text that YAML would read as a number or boolean',
    '(`"0123"`, `"0x1F"`, `"true"`). Unknown keys and unknown `TURNKIT_*` variables are errors.',
    '`turnkit check-config FILE` validates a file and prints the effective configuration with secrets',
    'redacted. SIGHUP reloads users, secrets, peer policy, quotas, the log level and the TLS',
    'certificate; listen addresses need a restart.',
    '',
    '| file key | environment | flag | default | what it does |',
    '|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

/** The HostPort type re-exported for callers that build inputs by hand. */
export type { HostPort };
