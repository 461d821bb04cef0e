/** Log levels, quietest last. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
/** One of the log levels. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A structured logger: one JSON object per line. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Changes the threshold (config reload). */
  setLevel(level: LogLevel): void;
}

/** Creates a logger that writes JSON lines at or above `level` to `out` (stdout by default). */
export function createLogger(level: LogLevel, out: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  let threshold = LOG_LEVELS.indexOf(level);
  const write = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (LOG_LEVELS.indexOf(lvl) < threshold) return;
    out(`${JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields })}\n`);
  };
  return {
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
    setLevel: (l) => {
      threshold = LOG_LEVELS.indexOf(l);
    },
  };
}
