import { resolveConfig, type ConfigInput } from './config.js';
import { createLogger } from './services/logger.js';
import { runServer, type RunningServer } from './transport/runtime.js';

export { resolveConfig, parseHostPort, DEFAULTS, type ConfigInput, type HostPort, type ServerConfig } from './config.js';
export { TurnkitError, ConfigError, type TurnkitErrorCode } from './errors.js';
export { runServer, type RunningServer, type ListenerInfo } from './transport/runtime.js';
export { loadConfigFile, loadEnv, OPTIONS as CONFIG_OPTIONS, CONFIG_KEYS } from './config-file.js';
export { mintRestCredential, restPassword, CredentialStore, type RestCredential } from './turn/credentials.js';
export { PeerPolicy, RECOMMENDED_DENY, parseCidr, type PeerDecision } from './turn/policy.js';
export { TurnEngine } from './turn/engine.js';
export * from './stun/index.js';

/** Starts a STUN server from options as flags give them (defaults applied, values checked). */
export async function startServer(input: ConfigInput = {}): Promise<RunningServer> {
  const config = resolveConfig(input);
  return runServer(config, createLogger(config.logLevel));
}
