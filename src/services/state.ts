import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';

/** The file in the state directory that keeps the generated shared secret. */
export const SECRET_FILE = 'shared-secret';

/**
 * Creates `file` with `text` so that no reader (or a restart after a crash mid-write) ever sees it
 * partly written: the text goes to a temporary file that is fsynced, then linked to its final name
 * (link, unlike rename, fails with EEXIST instead of replacing a file another process made first),
 * and the directory is fsynced so the new name survives a power cut. `replace` renames over an
 * existing (empty, so unusable) file instead.
 */
function createAtomically(dir: string, file: string, text: string, replace: boolean): void {
  const temp = join(dir, `.${SECRET_FILE}.${process.pid}.${randomBytes(4).toString('hex')}`);
  const fd = openSync(temp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  if (replace) {
    renameSync(temp, file);
  } else {
    try {
      linkSync(temp, file);
    } finally {
      unlinkSync(temp);
    }
  }
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/**
 * Returns the shared secret kept in `dir`, generating one (32 random bytes, hex) on first use. The
 * file is created 0600 in a 0700 directory: it is as good as every credential the server accepts.
 */
export function ensureSecret(dir: string): { secret: string; file: string; created: boolean } {
  const file = join(dir, SECRET_FILE);
  // An empty file (left by a crash of a version that wrote in place) is replaced, not kept.
  let empty = false;
  try {
    const secret = readFileSync(file, 'utf8').trim();
    if (secret.length > 0) return { secret, file, created: false };
    empty = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError(`--state-dir ${dir}: cannot read ${file} (${(err as NodeJS.ErrnoException).code})`);
    }
  }
  const secret = randomBytes(32).toString('hex');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    createAtomically(dir, file, `${secret}\n`, empty);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return ensureSecret(dir);
    throw new ConfigError(`--state-dir ${dir}: cannot write ${file} (${(err as NodeJS.ErrnoException).code}); set --state-dir to a writable directory`);
  }
  return { secret, file, created: true };
}
