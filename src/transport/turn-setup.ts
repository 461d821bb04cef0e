import { networkInterfaces } from 'node:os';
import type { ServerConfig } from '../config.js';
import type { IpFamily, TransportAddress } from '../stun/ip.js';
import type { TurnEngineConfig } from '../turn/context.js';
import { CredentialStore } from '../turn/credentials.js';
import { NonceIssuer } from '../turn/nonce.js';
import { PeerPolicy } from '../turn/policy.js';
import { ConfigError } from '../errors.js';
import { toTransportAddress } from './address.js';

/** Builds the TURN engine's configuration from the daemon's, with the listening addresses it must protect. */
export function turnEngineConfig(config: ServerConfig, serverAddresses: TransportAddress[], nonces: NonceIssuer): TurnEngineConfig {
  let policy: PeerPolicy;
  try {
    policy = new PeerPolicy({ allow: config.allowPeers, deny: config.denyPeers, serverAddresses });
  } catch (err) {
    throw new ConfigError(`--allow-peer/--deny-peer: ${(err as Error).message}`);
  }
  return {
    realm: config.realm,
    software: config.software,
    store: new CredentialStore({ users: config.users, secrets: config.secrets }),
    nonces,
    policy,
    defaultLifetime: config.defaultLifetime,
    maxLifetime: config.maxLifetime,
    quotas: config.quotas,
    maxPermissions: config.maxPermissions,
    relayFamilies: relayFamilies(config),
    alternates: {
      udp: config.alternateServers.map((hp) => toTransportAddress(hp.host, hp.port)),
      tls: config.tlsAlternateServers.map((hp) => toTransportAddress(hp.host, hp.port)),
      ...(config.alternateDomain ? { domain: config.alternateDomain } : {}),
    },
    enabled: Object.keys(config.users).length > 0 || config.secrets.length > 0,
  };
}

/** A nonce issuer for this process; username anonymity only when every user can be found by USERHASH. */
export function nonceIssuer(config: ServerConfig): NonceIssuer {
  return new NonceIssuer({ lifetimeMs: config.nonceLifetime * 1000, usernameAnonymity: config.secrets.length === 0 });
}

/**
 * The families relays can be opened in (others answer 440, RFC 8656 §7.2): those of `--relay-ip`
 * when given; else IPv4, and IPv6 when the host has an IPv6 address that is not link-local.
 */
export function relayFamilies(config: ServerConfig): Set<IpFamily> {
  const configured = Object.keys(config.relayIps) as IpFamily[];
  if (configured.length > 0) return new Set(configured);
  const out = new Set<IpFamily>(['IPv4']);
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) if (i.family === 'IPv6' && !i.address.toLowerCase().startsWith('fe80')) out.add('IPv6');
  }
  return out;
}

/**
 * The IP a new relay socket of `family` binds to: `--relay-ip` of that family (none: the family is
 * not relayed), else the specific address the client reached, else loopback for a loopback client,
 * else the host's first non-internal, non-link-local address of the family.
 */
export function relayIpFor(config: ServerConfig, family: IpFamily, client: TransportAddress, local: TransportAddress | undefined): string | undefined {
  if (Object.keys(config.relayIps).length > 0) return config.relayIps[family];
  if (local && local.family === family) return local.address;
  const loopback = client.family === 'IPv4' ? client.address.startsWith('127.') : client.address === '::1';
  if (loopback) return family === 'IPv4' ? '127.0.0.1' : '::1';
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) if (!i.internal && i.family === family && !i.address.toLowerCase().startsWith('fe80')) return i.address;
  }
  return undefined;
}

/** What XOR-RELAYED-ADDRESS advertises for a relay bound at `relayed` (RFC 8656 §7.2; 1:1 NAT mapping). */
export function advertisedRelay(config: ServerConfig, relayed: TransportAddress): TransportAddress {
  const ext = config.externalIp;
  if (!ext || (ext.private !== undefined && ext.private !== relayed.address)) return relayed;
  const family = ext.public.includes(':') ? 'IPv6' : 'IPv4';
  // A public IPv4 address says nothing about where the IPv6 relay of a dual allocation is reached.
  if (family !== relayed.family) return relayed;
  return { family, address: ext.public, port: relayed.port };
}
