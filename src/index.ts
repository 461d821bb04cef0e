import { resolveConfig, type ConfigInput } from './config.js';
import { createLogger } from './services/logger.js';
import { runServer, type RunningServer } from './transport/runtime.js';

export { resolveConfig, parseHostPort, DEFAULTS, type ConfigInput, type HostPort, type ServerConfig } from './config.js';
export { TurnkitError, ConfigError, type TurnkitErrorCode } from './errors.js';
export { runServer, type RunningServer, type ListenerInfo } from './transport/runtime.js';
export * from './stun/index.js';

/** Starts a STUN server from options as flags give them (defaults applied, values checked). */
export async function startServer(input: ConfigInput = {}): Promise<RunningServer> {
  const config = resolveConfig(input);
  return runServer(config, createLogger(config.logLevel));
}
