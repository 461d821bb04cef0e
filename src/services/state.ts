import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';

/** The file in the state directory that keeps the generated shared secret. */
export const SECRET_FILE = 'shared-secret';

/**
 * Returns the shared secret kept in `dir`, generating one (32 random bytes, hex) on first use. The
 * file is created 0600 in a 0700 directory: it is as good as every credential the server accepts.
 */
export function ensureSecret(dir: string): { secret: string; file: string; created: boolean } {
  const file = join(dir, SECRET_FILE);
  try {
    const secret = readFileSync(file, 'utf8').trim();
    if (secret.length > 0) return { secret, file, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError(`--state-dir ${dir}: cannot read ${file} (${(err as NodeJS.ErrnoException).code})`);
    }
  }
  const secret = randomBytes(32).toString('hex');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return ensureSecret(dir);
    throw new ConfigError(`--state-dir ${dir}: cannot write ${file} (${(err as NodeJS.ErrnoException).code}); set --state-dir to a writable directory`);
  }
  return { secret, file, created: true };
}
