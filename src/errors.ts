/** Stable error codes of turnkit's library errors; the CLI maps them to one line and an exit code. */
export type TurnkitErrorCode =
  | 'ERR_CONFIG_INVALID'
  | 'ERR_TLS_CERT_UNREADABLE'
  | 'ERR_LISTEN_FAILED';

/** The base of every error turnkit throws; match on `code`, not on the message. */
export class TurnkitError extends Error {
  /** The stable code of this error. */
  readonly code: TurnkitErrorCode;

  constructor(code: TurnkitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TurnkitError';
    this.code = code;
  }
}

/** A configuration value that cannot be used; the message names the option, the value and what is allowed. */
export class ConfigError extends TurnkitError {
  constructor(message: string) {
    super('ERR_CONFIG_INVALID', message);
    this.name = 'ConfigError';
  }
}
