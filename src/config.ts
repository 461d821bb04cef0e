import { hostname } from 'node:os';
import { ConfigError } from './errors.js';
import { LOG_LEVELS, type LogLevel } from './services/logger.js';
import { TextLimit } from './stun/attributes/text.js';
import { parseIp, type IpFamily } from './stun/ip.js';
import { SOFTWARE_MAX_BYTES } from './stun/server.js';
import { MAX_STREAM_FRAME } from './stun/framing.js';

/** A listen address: IP literal and port. */
export interface HostPort {
  host: string;
  port: number;
}

/** The daemon's effective configuration after defaults and validation. */
export interface ServerConfig {
  /** UDP and TCP listen addresses (STUN/TURN). */
  listen: HostPort[];
  /** TLS listen addresses; used only when `cert` and `key` are set. */
  tlsListen: HostPort[];
  /** PEM certificate chain file for TLS. */
  cert?: string;
  /** PEM private key file for TLS. */
  key?: string;
  /** RFC 5780 alternate IP address; enables CHANGE-REQUEST, OTHER-ADDRESS and RESPONSE-ORIGIN. */
  altAddress?: string;
  /** RFC 5780 alternate port (default: the primary listen port + 1). */
  altPort?: number;
  /** SOFTWARE attribute text, or null for none. */
  software: string | null;
  /** Log threshold. */
  logLevel: LogLevel;
  /** Seconds of silence after which a TCP/TLS connection is closed. */
  streamIdleTimeout: number;
  /** Seconds a new TCP/TLS connection has to finish its TLS handshake, and then to send its first whole message. */
  streamHandshakeTimeout: number;
  /** Largest STUN or ChannelData frame accepted on a stream, bytes; a larger one closes the connection. */
  streamMaxMessage: number;
  /** Bytes waiting to be sent to one stream client beyond which relayed data for it is dropped. */
  streamMaxBuffered: number;
  /** Open TCP/TLS connections allowed per client IP and in total; 0 = no limit. */
  maxConnectionsPerIp: number;
  maxConnections: number;
  /** True when `listen`/`tlsListen` are the built-in defaults (a family the host lacks is then skipped). */
  defaultListeners: boolean;
  /** TURN: the realm of long-term credentials. */
  realm: string;
  /** TURN: static users, name → password. */
  users: Record<string, string>;
  /** TURN: shared secrets of ephemeral (REST) credentials; the first signs, all are accepted. */
  secrets: string[];
  /** TURN: the relay port range. */
  relayPorts: { min: number; max: number };
  /**
   * TURN: the IP relay sockets bind to, per family (default: the address the client reached, else
   * the host's first). When any is set, only the families set are relayed (others answer 440).
   */
  relayIps: Partial<Record<IpFamily, string>>;
  /** TURN: behind 1:1 NAT, the public address XOR-RELAYED-ADDRESS advertises (optionally per private IP). */
  externalIp?: { public: string; private?: string };
  /** TURN: peer CIDRs allowed despite the default deny list. */
  allowPeers: string[];
  /** TURN: extra peer CIDRs to deny. */
  denyPeers: string[];
  /** TURN: allocation quotas; 0 = no limit. */
  quotas: { perUser: number; perClientIp: number; total: number };
  /** TURN: lifetime granted by default and the most a client may ask for, seconds (RFC 8656 §7.2). */
  defaultLifetime: number;
  maxLifetime: number;
  /** TURN: permissions one allocation may hold. */
  maxPermissions: number;
  /** TURN: seconds a nonce is good for before 438 Stale Nonce. */
  nonceLifetime: number;
  /** Credential service and health probes; null = off. */
  httpListen: HostPort | null;
  /** Prometheus `/metrics`; null = off. */
  metricsListen: HostPort | null;
  /** API keys callers of the credential service present. */
  apiKeys: string[];
  /** Origins allowed to call the credential service from a browser. */
  corsOrigins: string[];
  /** Longest TTL the credential service grants, seconds. */
  maxCredentialTtl: number;
  /** Open connections one client IP may hold on the HTTP listener; 0 = no limit (behind a proxy). */
  httpMaxConnectionsPerIp: number;
  /** Host name put in the TURN URIs the credential service returns. */
  publicHost?: string;
  /** Seconds live allocations may keep relaying after SIGTERM. */
  drainTimeout: number;
  /** Where a generated shared secret is kept. */
  stateDir: string;
  /** The conferencing page (`/`) and its signaling (`/signal`) on the HTTP listener. */
  web: boolean;
  /** Which UDP data plane moves datagrams: `dgram` in JavaScript, the native addon, or native when it loads. */
  dataPlane: DataPlaneChoice;
  /** RFC 8489 §10: servers a draining or full node sends new UDP/TCP Allocates to (300 Try Alternate). */
  alternateServers: HostPort[];
  /** The same for Allocates over TLS (their TLS ports). */
  tlsAlternateServers: HostPort[];
  /** RFC 8489 §14.16 ALTERNATE-DOMAIN: the name TLS clients verify the alternate's certificate against. */
  alternateDomain?: string;
}

/** The UDP data plane choices (`--data-plane`). */
export const DATA_PLANES = ['js', 'native', 'auto'] as const;
/** One of DATA_PLANES. */
export type DataPlaneChoice = (typeof DATA_PLANES)[number];

/** True for 127.0.0.0/8 and ::1, where a keyless credential service reaches no one else. */
export function isLoopback(host: string): boolean {
  const ip = parseIp(host);
  if (!ip) return false;
  return ip.family === 'IPv4' ? ip.bytes[0] === 127 : ip.bytes.subarray(0, 15).every((b) => b === 0) && ip.bytes[15] === 1;
}

/** STUN's registered ports (RFC 8489 §18.4). */
export const DEFAULT_PORT = 3478;
/** STUN over TLS's registered port. */
export const DEFAULT_TLS_PORT = 5349;

/** The built-in defaults: every interface, IPv4 and IPv6, on the registered ports. */
export const DEFAULTS: ServerConfig = {
  listen: [
    { host: '0.0.0.0', port: DEFAULT_PORT },
    { host: '::', port: DEFAULT_PORT },
  ],
  tlsListen: [
    { host: '0.0.0.0', port: DEFAULT_TLS_PORT },
    { host: '::', port: DEFAULT_TLS_PORT },
  ],
  software: 'turnkit',
  logLevel: 'info',
  streamIdleTimeout: 30,
  streamHandshakeTimeout: 10,
  streamMaxMessage: MAX_STREAM_FRAME,
  streamMaxBuffered: 256 * 1024,
  maxConnectionsPerIp: 64,
  maxConnections: 10_000,
  defaultListeners: true,
  realm: hostname() || 'turnkit',
  users: {},
  secrets: [],
  relayPorts: { min: 49152, max: 65535 },
  relayIps: {},
  allowPeers: [],
  denyPeers: [],
  quotas: { perUser: 64, perClientIp: 100, total: 0 },
  defaultLifetime: 600,
  maxLifetime: 3600,
  maxPermissions: 64,
  nonceLifetime: 600,
  httpListen: { host: '127.0.0.1', port: 8080 },
  metricsListen: { host: '127.0.0.1', port: 9641 },
  apiKeys: [],
  corsOrigins: [],
  maxCredentialTtl: 86400,
  httpMaxConnectionsPerIp: 32,
  drainTimeout: 30,
  stateDir: process.getuid?.() === 0 ? '/var/lib/turnkit' : '.turnkit',
  web: true,
  dataPlane: 'auto',
  alternateServers: [],
  tlsAlternateServers: [],
};

/**
 * Parses "IP:PORT", "[IPv6]:PORT" or a bare IP (taking `defaultPort`) for option `option`. An IPv6
 * address with a port must be in brackets; an unbracketed one whose tail could be read as a port
 * ("::1:3478") is refused as ambiguous rather than guessed.
 */
export function parseHostPort(text: string, option: string, defaultPort: number): HostPort {
  const bad = (why: string): ConfigError =>
    new ConfigError(`${option} "${text}": ${why} (expected IP:PORT, e.g. 127.0.0.1:3478 or [::1]:3478)`);
  let host: string;
  let portText: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracket) {
    host = bracket[1]!;
    portText = bracket[2];
    if (parseIp(host)?.family === 'IPv4') throw bad('brackets are for IPv6 addresses only');
  } else if ((text.match(/:/g) ?? []).length === 1) {
    [host, portText] = text.split(':') as [string, string];
  } else {
    host = text;
    const tail = text.lastIndexOf(':');
    if (parseIp(host) && /^\d{1,5}$/.test(text.slice(tail + 1)) && parseIp(text.slice(0, tail))) {
      throw bad(`ambiguous: write [${text.slice(0, tail)}]:${text.slice(tail + 1)} for an address and port, or [${text}] for the address alone`);
    }
  }
  if (!parseIp(host)) throw bad(`"${host}" is not an IP address`);
  const port = portText === undefined ? defaultPort : parsePort(portText, option, text);
  return { host, port };
}

/** Parses a port number 0–65535 (0 asks the OS for a free one). */
export function parsePort(text: string, option: string, whole = text): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new ConfigError(`${option} "${whole}": port must be a number from 0 to 65535`);
  }
  return Number(text);
}

/** True for 0.0.0.0 and ::, which bind every interface. */
export function isWildcard(host: string): boolean {
  const ip = parseIp(host);
  return ip !== undefined && ip.bytes.every((b) => b === 0);
}

/** Formats a host and port the way flags take them (brackets around IPv6). */
export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/** Options as given by flags (or, later, a file and the environment) before defaults are applied. */
export interface ConfigInput {
  listen?: HostPort[];
  tlsListen?: HostPort[];
  cert?: string;
  key?: string;
  altAddress?: string;
  altPort?: number;
  software?: string | null;
  logLevel?: string;
  streamIdleTimeout?: number;
  streamHandshakeTimeout?: number;
  streamMaxMessage?: number;
  streamMaxBuffered?: number;
  maxConnectionsPerIp?: number;
  maxConnections?: number;
  realm?: string;
  users?: Record<string, string>;
  secrets?: string[];
  relayPorts?: string;
  /** One address, or one IPv4 and one IPv6 address. */
  relayIp?: string | string[];
  externalIp?: string;
  allowPeers?: string[];
  denyPeers?: string[];
  maxAllocationsPerUser?: number;
  maxAllocationsPerIp?: number;
  maxAllocations?: number;
  maxLifetime?: number;
  maxPermissions?: number;
  nonceLifetime?: number;
  /** null turns the listener off. */
  httpListen?: HostPort | null;
  metricsListen?: HostPort | null;
  apiKeys?: string[];
  corsOrigins?: string[];
  maxCredentialTtl?: number;
  httpMaxConnectionsPerIp?: number;
  publicHost?: string;
  drainTimeout?: number;
  stateDir?: string;
  web?: boolean;
  dataPlane?: string;
  alternateServers?: HostPort[];
  tlsAlternateServers?: HostPort[];
  alternateDomain?: string;
}

/**
 * Parses "name:password" (the password may contain colons) for `option`, the key as the user wrote
 * it. The text is never echoed: without its colon it may be all password.
 */
export function parseUser(text: string, option: string): [string, string] {
  const i = text.indexOf(':');
  if (i <= 0 || i === text.length - 1) {
    throw new ConfigError(`${option}: expected NAME:PASSWORD with neither part empty (e.g. alice:s3cret)`);
  }
  return [text.slice(0, i), text.slice(i + 1)];
}

function wholeNumber(option: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${option} "${value}": use a whole number from ${min} to ${max}`);
  }
  return value;
}

function resolveTurn(config: ServerConfig, input: ConfigInput): void {
  if (input.realm !== undefined) {
    if (input.realm.length === 0 || Buffer.byteLength(input.realm) > TextLimit.Realm) {
      throw new ConfigError(`--realm: give a non-empty name of at most ${TextLimit.Realm} bytes`);
    }
    config.realm = input.realm;
  }
  if (input.users) config.users = { ...input.users };
  if (input.secrets) {
    if (input.secrets.some((s) => s.length === 0)) throw new ConfigError('--secret: a shared secret cannot be empty');
    config.secrets = [...input.secrets];
  }
  if (input.relayPorts !== undefined) {
    const m = /^(\d{1,5})-(\d{1,5})$/.exec(input.relayPorts);
    const min = m ? Number(m[1]) : NaN;
    const max = m ? Number(m[2]) : NaN;
    if (!m || min < 1024 || max > 65535 || min > max) {
      throw new ConfigError(`--relay-ports "${input.relayPorts}": use MIN-MAX within 1024-65535 (e.g. 49152-65535)`);
    }
    config.relayPorts = { min, max };
  }
  if (input.relayIp !== undefined) config.relayIps = resolveRelayIps(input.relayIp);
  if (input.externalIp !== undefined) {
    const [pub, priv] = input.externalIp.split('/');
    if (!pub || !parseIp(pub) || (priv !== undefined && !parseIp(priv))) {
      throw new ConfigError(`--external-ip "${input.externalIp}": use PUBLIC or PUBLIC/PRIVATE IP addresses`);
    }
    config.externalIp = priv === undefined ? { public: pub } : { public: pub, private: priv };
  }
  if (input.allowPeers) config.allowPeers = [...input.allowPeers];
  if (input.denyPeers) config.denyPeers = [...input.denyPeers];
  const q = config.quotas;
  config.quotas = {
    perUser: input.maxAllocationsPerUser === undefined ? q.perUser : wholeNumber('--max-allocations-per-user', input.maxAllocationsPerUser, 0, 1e6),
    perClientIp: input.maxAllocationsPerIp === undefined ? q.perClientIp : wholeNumber('--max-allocations-per-ip', input.maxAllocationsPerIp, 0, 1e6),
    total: input.maxAllocations === undefined ? q.total : wholeNumber('--max-allocations', input.maxAllocations, 0, 1e7),
  };
  if (input.maxLifetime !== undefined) config.maxLifetime = wholeNumber('--max-lifetime', input.maxLifetime, config.defaultLifetime, 86400);
  if (input.maxPermissions !== undefined) config.maxPermissions = wholeNumber('--max-permissions', input.maxPermissions, 1, 10000);
  if (input.nonceLifetime !== undefined) config.nonceLifetime = wholeNumber('--nonce-lifetime', input.nonceLifetime, 10, 86400);
}

function resolveServices(config: ServerConfig, input: ConfigInput): void {
  if (input.httpListen !== undefined) config.httpListen = input.httpListen;
  if (input.metricsListen !== undefined) config.metricsListen = input.metricsListen;
  if (input.apiKeys) {
    if (input.apiKeys.some((k) => k.length < 16)) throw new ConfigError('--api-key: use at least 16 characters (e.g. openssl rand -hex 24)');
    config.apiKeys = [...input.apiKeys];
  }
  if (input.corsOrigins) {
    for (const o of input.corsOrigins) {
      if (o !== '*' && !/^https?:\/\/[^/\s]+$/.test(o)) {
        throw new ConfigError(`--cors-origin "${o}": use an origin like https://app.example.com (scheme and host, no path) or *`);
      }
    }
    config.corsOrigins = [...input.corsOrigins];
  }
  if (input.maxCredentialTtl !== undefined) {
    config.maxCredentialTtl = wholeNumber('--max-credential-ttl', input.maxCredentialTtl, 60, 30 * 86400);
  }
  if (input.httpMaxConnectionsPerIp !== undefined) {
    config.httpMaxConnectionsPerIp = wholeNumber('--http-max-connections-per-ip', input.httpMaxConnectionsPerIp, 0, 100_000);
  }
  if (input.publicHost !== undefined) {
    if (!/^[A-Za-z0-9.:-]{1,253}$/.test(input.publicHost)) throw new ConfigError(`--public-host "${input.publicHost}": give a DNS name or IP address`);
    config.publicHost = input.publicHost;
  }
  if (input.drainTimeout !== undefined) config.drainTimeout = wholeNumber('--drain-timeout', input.drainTimeout, 0, 3600);
  // The page hands a TURN credential to whoever loads it: on by default only where the listener is
  // loopback, like the keyless credential service; elsewhere it takes an explicit `web: true`.
  config.web = input.web ?? (config.httpListen !== null && isLoopback(config.httpListen.host));
  if (input.stateDir !== undefined) {
    if (input.stateDir.length === 0) throw new ConfigError('--state-dir: give a directory');
    config.stateDir = input.stateDir;
  }
  if (config.httpListen && config.apiKeys.length === 0 && !isLoopback(config.httpListen.host)) {
    throw new ConfigError(
      `--http-listen ${formatHostPort(config.httpListen)}: the credential service hands out TURN credentials; off loopback it needs --api-key KEY`,
    );
  }
}

/** `--relay-ip`: specific addresses, at most one per family (a dual allocation takes one of each). */
function resolveRelayIps(given: string | string[]): Partial<Record<IpFamily, string>> {
  const out: Partial<Record<IpFamily, string>> = {};
  for (const text of typeof given === 'string' ? [given] : given) {
    const ip = parseIp(text);
    if (!ip || isWildcard(text)) throw new ConfigError(`--relay-ip "${text}": give a specific local IP address`);
    if (out[ip.family]) {
      throw new ConfigError(`--relay-ip "${text}": one ${ip.family} address is already given (${out[ip.family]}); use at most one IPv4 and one IPv6 address`);
    }
    out[ip.family] = text;
  }
  return out;
}

/** ALTERNATE-SERVER carries an IP address and a port: no wildcard, no port 0. */
function resolveAlternates(config: ServerConfig, input: ConfigInput): void {
  for (const [option, field] of [['--alternate-server', 'alternateServers'], ['--tls-alternate-server', 'tlsAlternateServers']] as const) {
    const list = input[field];
    if (!list) continue;
    for (const hp of list) {
      if (isWildcard(hp.host) || hp.port === 0) {
        throw new ConfigError(`${option} ${formatHostPort(hp)}: give the specific IP address and port clients should try instead`);
      }
    }
    config[field] = [...list];
  }
  if (input.alternateDomain !== undefined) {
    if (!/^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(input.alternateDomain)) {
      throw new ConfigError(`--alternate-domain "${input.alternateDomain}": give a DNS name such as turn.example.com`);
    }
    if (config.tlsAlternateServers.length === 0) {
      throw new ConfigError('--alternate-domain is sent with 300 answers over TLS: add --tls-alternate-server IP:PORT');
    }
    config.alternateDomain = input.alternateDomain;
  }
}

/** The RFC 5780 primary: the first listen address of the alternate address's family. */
export function rfc5780Primary(config: ServerConfig): HostPort | undefined {
  if (!config.altAddress) return undefined;
  const family = parseIp(config.altAddress)!.family;
  return config.listen.find((l) => parseIp(l.host)!.family === family);
}

/** Applies defaults and checks every value; throws ConfigError naming the option and the fix. */
export function resolveConfig(input: ConfigInput): ServerConfig {
  const config: ServerConfig = {
    ...DEFAULTS,
    listen: input.listen && input.listen.length > 0 ? input.listen : DEFAULTS.listen,
    tlsListen: input.tlsListen && input.tlsListen.length > 0 ? input.tlsListen : DEFAULTS.tlsListen,
    defaultListeners: !(input.listen && input.listen.length > 0),
  };
  for (const [option, list] of [['--listen', config.listen], ['--tls-listen', config.tlsListen]] as const) {
    const seen = new Set<string>();
    for (const hp of list) {
      const key = formatHostPort({ host: parseIp(hp.host)!.bytes.join('.'), port: hp.port });
      if (hp.port !== 0 && seen.has(key)) throw new ConfigError(`${option} ${formatHostPort(hp)} is given twice; list each address once`);
      seen.add(key);
    }
  }
  if (input.cert !== undefined) config.cert = input.cert;
  if (input.key !== undefined) config.key = input.key;
  if ((config.cert === undefined) !== (config.key === undefined)) {
    throw new ConfigError('--cert and --key go together: give both PEM files, or neither to turn TLS off');
  }
  if (input.tlsListen && input.tlsListen.length > 0 && config.cert === undefined) {
    throw new ConfigError('--tls-listen needs a certificate: add --cert FILE --key FILE');
  }
  if (input.software !== undefined) {
    if (input.software !== null && Buffer.byteLength(input.software) > SOFTWARE_MAX_BYTES) {
      throw new ConfigError(`--software: at most ${SOFTWARE_MAX_BYTES} bytes (it goes into answers to anyone who asks)`);
    }
    config.software = input.software;
  }
  if (input.logLevel !== undefined) {
    if (!(LOG_LEVELS as readonly string[]).includes(input.logLevel)) {
      throw new ConfigError(`--log-level "${input.logLevel}": use one of ${LOG_LEVELS.join(', ')}`);
    }
    config.logLevel = input.logLevel as LogLevel;
  }
  if (input.dataPlane !== undefined) {
    if (!(DATA_PLANES as readonly string[]).includes(input.dataPlane)) {
      throw new ConfigError(`--data-plane "${input.dataPlane}": use one of ${DATA_PLANES.join(', ')}`);
    }
    config.dataPlane = input.dataPlane as DataPlaneChoice;
  }
  if (input.streamIdleTimeout !== undefined) {
    const s = input.streamIdleTimeout;
    if (!Number.isInteger(s) || s < 1 || s > 3600) {
      throw new ConfigError(`--stream-idle-timeout "${s}": use whole seconds from 1 to 3600`);
    }
    config.streamIdleTimeout = s;
  }
  resolveStreamLimits(config, input);
  if (input.altPort !== undefined && input.altAddress === undefined) {
    throw new ConfigError('--alt-port needs --alt-address IP (the second address RFC 5780 answers from)');
  }
  if (input.altAddress !== undefined) resolveRfc5780(config, input.altAddress, input.altPort);
  resolveTurn(config, input);
  resolveAlternates(config, input);
  resolveServices(config, input);
  return config;
}

function resolveStreamLimits(config: ServerConfig, input: ConfigInput): void {
  if (input.streamHandshakeTimeout !== undefined) {
    config.streamHandshakeTimeout = wholeNumber('--stream-handshake-timeout', input.streamHandshakeTimeout, 1, 300);
  }
  if (input.streamMaxMessage !== undefined) {
    config.streamMaxMessage = wholeNumber('--stream-max-message', input.streamMaxMessage, 1280, MAX_STREAM_FRAME);
  }
  if (input.streamMaxBuffered !== undefined) {
    config.streamMaxBuffered = wholeNumber('--stream-max-buffered', input.streamMaxBuffered, 16 * 1024, 64 * 1024 * 1024);
  }
  if (input.maxConnectionsPerIp !== undefined) {
    config.maxConnectionsPerIp = wholeNumber('--max-connections-per-ip', input.maxConnectionsPerIp, 0, 1e6);
  }
  if (input.maxConnections !== undefined) config.maxConnections = wholeNumber('--max-connections', input.maxConnections, 0, 1e7);
}

function resolveRfc5780(config: ServerConfig, altAddress: string, altPort: number | undefined): void {
  const alt = parseIp(altAddress);
  if (!alt) throw new ConfigError(`--alt-address "${altAddress}": not an IP address`);
  if (isWildcard(altAddress)) throw new ConfigError(`--alt-address "${altAddress}": give a specific local IP`);
  config.altAddress = altAddress;
  const primary = rfc5780Primary(config);
  if (!primary) {
    throw new ConfigError(`--alt-address ${altAddress}: add a --listen address of the same IP family to pair it with`);
  }
  if (isWildcard(primary.host)) {
    throw new ConfigError(
      `--alt-address needs a specific --listen address, not ${primary.host} (e.g. --listen 203.0.113.1:3478)`,
    );
  }
  if (parseIp(primary.host)!.bytes.equals(alt.bytes)) {
    throw new ConfigError(`--alt-address ${altAddress} must differ from the --listen address ${primary.host}`);
  }
  const port = altPort ?? primary.port + 1;
  if (primary.port === 0 && altPort === undefined) {
    throw new ConfigError('--alt-address with --listen port 0 needs an explicit --alt-port');
  }
  if (port === primary.port || port > 65535) {
    throw new ConfigError(`--alt-port ${port}: must be a port from 1 to 65535 other than ${primary.port}`);
  }
  config.altPort = port;
}
