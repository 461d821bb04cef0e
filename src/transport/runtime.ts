import { readFile } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import type dgram from 'node:dgram';
import { formatHostPort, isWildcard, rfc5780Primary, type HostPort, type ServerConfig } from '../config.js';
import { TurnkitError } from '../errors.js';
import { createLogger, type Logger } from '../services/logger.js';
import { createStunMetrics, type StreamCloseReason, type StunMetrics } from '../services/metrics.js';
import { methodName } from '../stun/names.js';
import {
  handleStunMessage,
  type BindingServerConfig,
  type SocketRole,
  type StunOutcome,
  type StunRequestEvent,
  type StunTransport,
} from '../stun/server.js';
import type { TransportAddress } from '../stun/ip.js';
import { toTransportAddress } from './address.js';
import { StreamFramer, writeFrame } from './stream.js';
import { bindUdp, closeUdp } from './udp.js';

/** A socket the server listens on, as reported in the ready log line and by the API. */
export interface ListenerInfo {
  transport: StunTransport;
  role: SocketRole;
  address: string;
  port: number;
}

/** A running server: its listeners, metrics, and a way to stop it. */
export interface RunningServer {
  listeners: ListenerInfo[];
  metrics: StunMetrics;
  /** Stops listening, closes every connection, and resolves when all sockets are closed. */
  close(): Promise<void>;
}

/** How long a TLS client may take to finish its handshake. */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** One RFC 5780 group of UDP sockets: the socket for each role it has. */
type UdpGroup = Partial<Record<SocketRole, dgram.Socket>>;

/** Runs the STUN server described by `config` until `close()` is called. */
export async function runServer(config: ServerConfig, logger: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  const metrics = createStunMetrics();
  const udpSockets: dgram.Socket[] = [];
  const streamServers: net.Server[] = [];
  const connections = new Set<net.Socket>();
  const listeners: ListenerInfo[] = [];
  const stunConfig: BindingServerConfig = { software: config.software };

  const execute = (outcome: StunOutcome, transport: StunTransport, reply: (data: Buffer, to: TransportAddress, from: SocketRole) => void): void => {
    switch (outcome.kind) {
      case 'respond':
        metrics.requests.inc({ transport, method: methodName(outcome.method), result: outcome.result });
        reply(outcome.data, outcome.to, outcome.from);
        return;
      case 'drop':
        metrics.dropped.inc({ transport, reason: outcome.reason });
        logger.debug('dropped', { transport, reason: outcome.reason });
        return;
      case 'indication':
        return;
    }
  };

  const handle = (event: StunRequestEvent): StunOutcome => {
    try {
      return handleStunMessage(event, stunConfig);
    } catch (err) {
      // A bug must cost one message, never the server.
      logger.error('internal error handling a message', { transport: event.transport, error: String(err) });
      return { kind: 'drop', reason: 'internal-error' };
    }
  };

  const closeAll = async (): Promise<void> => {
    for (const c of connections) {
      metrics.connectionsClosed.inc({ transport: c instanceof tls.TLSSocket ? 'tls' : 'tcp', reason: 'shutdown' });
      c.destroy();
    }
    await Promise.all([
      ...udpSockets.map((s) => closeUdp(s)),
      ...streamServers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    ]);
  };

  const openUdpGroup = async (group: Array<[SocketRole, HostPort]>, optional: boolean): Promise<void> => {
    const sockets: UdpGroup = {};
    for (const [role, hp] of group) {
      let bound;
      try {
        bound = await bindUdp(hp);
      } catch (err) {
        if (optional) {
          logger.info('listener skipped', { transport: 'udp', listen: formatHostPort(hp), reason: (err as Error).message });
          return;
        }
        throw listenError('udp', hp, err);
      }
      const { socket, local } = bound;
      udpSockets.push(socket);
      sockets[role] = socket;
      listeners.push({ transport: 'udp', role, address: local.address, port: local.port });
      const specific = isWildcard(hp.host) ? undefined : local;
      socket.on('message', (data, rinfo) => {
        const event: StunRequestEvent = { data, transport: 'udp', source: toTransportAddress(rinfo.address, rinfo.port), role };
        if (specific) event.local = specific;
        execute(handle(event), 'udp', (out, to, from) => {
          (sockets[from] ?? socket).send(out, to.port, to.address);
        });
      });
      socket.on('error', (err) => logger.warn('udp socket error', { error: err.message }));
    }
  };

  const openStream = async (transport: 'tcp' | 'tls', role: SocketRole, hp: HostPort, optional: boolean, tlsOptions?: tls.TlsOptions): Promise<void> => {
    const onConnection = (conn: net.Socket): void => {
      connections.add(conn);
      metrics.connections.inc({ transport });
      const framer = new StreamFramer();
      const source = toTransportAddress(conn.remoteAddress ?? '0.0.0.0', conn.remotePort ?? 0);
      const local = isWildcard(hp.host) ? undefined : toTransportAddress(conn.localAddress ?? hp.host, conn.localPort ?? hp.port);
      const closeFor = (reason: StreamCloseReason): void => {
        metrics.connectionsClosed.inc({ transport, reason });
        conn.destroy();
      };
      conn.setNoDelay(true);
      conn.setTimeout(config.streamIdleTimeout * 1000, () => closeFor('idle'));
      conn.on('data', (chunk: Buffer) => {
        const error = framer.push(chunk, (frame, kind) => {
          if (kind === 'channel-data') {
            metrics.dropped.inc({ transport, reason: 'channel-data' });
            return;
          }
          const event: StunRequestEvent = { data: frame, transport, source, role };
          if (local) event.local = local;
          execute(handle(event), transport, (out) => writeFrame(conn, out));
        });
        if (error) closeFor(error);
      });
      conn.on('error', () => conn.destroy());
      conn.on('close', () => {
        connections.delete(conn);
        metrics.connections.dec({ transport });
      });
    };
    const server =
      transport === 'tls'
        ? tls.createServer({ ...tlsOptions, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, onConnection)
        : net.createServer(onConnection);
    if (transport === 'tls') {
      server.on('tlsClientError', () => metrics.connectionsClosed.inc({ transport, reason: 'tls-handshake' }));
    }
    const ipv6 = hp.host.includes(':');
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: hp.host, port: hp.port, ipv6Only: ipv6, exclusive: true }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      if (optional) {
        logger.info('listener skipped', { transport, listen: formatHostPort(hp), reason: (err as Error).message });
        return;
      }
      throw listenError(transport, hp, err);
    }
    server.on('error', (err) => logger.warn('listener error', { transport, error: err.message }));
    streamServers.push(server);
    const a = server.address() as net.AddressInfo;
    listeners.push({ transport, role, address: toTransportAddress(a.address, a.port).address, port: a.port });
  };

  try {
    const primary5780 = rfc5780Primary(config);
    for (const hp of config.listen) {
      const optional = config.defaultListeners && hp.host.includes(':');
      const group: Array<[SocketRole, HostPort]> = [['primary', hp]];
      if (hp === primary5780) {
        group.push(
          ['alt-port', { host: hp.host, port: config.altPort! }],
          ['alt-ip', { host: config.altAddress!, port: hp.port }],
          ['alt-both', { host: config.altAddress!, port: config.altPort! }],
        );
        stunConfig.rfc5780 = Object.fromEntries(
          group.map(([role, g]) => [role, toTransportAddress(g.host, g.port)]),
        ) as Record<SocketRole, TransportAddress>;
      }
      await openUdpGroup(group, optional);
      for (const [role, g] of group) await openStream('tcp', role, g, optional);
    }
    if (config.cert && config.key) {
      const tlsOptions = await loadTls(config.cert, config.key);
      for (const hp of config.tlsListen) {
        await openStream('tls', 'primary', hp, config.defaultListeners && hp.host.includes(':'), tlsOptions);
      }
    } else {
      logger.info('TLS listener off: no certificate configured (set --cert FILE --key FILE to enable it)');
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  logger.info('ready', { listeners });
  return { listeners, metrics, close: closeAll };
}

function listenError(transport: string, hp: HostPort, err: unknown): TurnkitError {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  const hint =
    code === 'EADDRINUSE'
      ? 'another process uses it; pick another port'
      : code === 'EADDRNOTAVAIL'
        ? 'that IP is not configured on this host'
        : code === 'EACCES'
          ? 'ports below 1024 need root or CAP_NET_BIND_SERVICE'
          : (err as Error).message;
  return new TurnkitError('ERR_LISTEN_FAILED', `cannot listen on ${transport} ${formatHostPort(hp)}: ${code} (${hint})`, { cause: err });
}

/** Reads and checks the TLS certificate and key; TLS 1.2 is the oldest version offered. */
async function loadTls(certFile: string, keyFile: string): Promise<tls.TlsOptions> {
  let cert: Buffer;
  let key: Buffer;
  try {
    [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
  } catch (err) {
    throw new TurnkitError('ERR_TLS_CERT_UNREADABLE', `cannot read TLS certificate or key: ${(err as Error).message}`);
  }
  const options: tls.TlsOptions = { cert, key, minVersion: 'TLSv1.2' };
  try {
    tls.createSecureContext(options);
  } catch (err) {
    throw new TurnkitError(
      'ERR_TLS_CERT_UNREADABLE',
      `TLS certificate ${certFile} or key ${keyFile} is not usable: ${(err as Error).message}`,
    );
  }
  return options;
}
