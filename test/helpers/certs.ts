// Throwaway TLS certificates for TLS/DTLS tests, made with the openssl CLI
// so tests need no key material in the repo and no extra npm dependency.
// Tests that use this should skip unless `openssl` is present (see tools.ts).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A self-signed certificate and key on disk (PEM), with their contents. */
export interface SelfSignedCert {
  /** Path of the PEM certificate. */
  certFile: string;
  /** Path of the PEM private key (unencrypted). */
  keyFile: string;
  /** The PEM certificate text (for tls.createServer({ cert })). */
  cert: string;
  /** The PEM key text. */
  key: string;
  /** Removes what this call created; safe to call twice (e.g. from t.teardown). */
  cleanup(): void;
}

/**
 * Makes a P-256 self-signed certificate for CN=localhost valid 2 days, with
 * subjectAltName localhost, 127.0.0.1 and ::1, so clients can verify it by
 * name or loopback address when given it as their CA. Written into a new temp
 * dir, or into `dir` when given (cleanup then removes only the two files).
 */
export function makeSelfSignedCert(dir?: string): SelfSignedCert {
  const ownDir = dir === undefined;
  const where = dir ?? mkdtempSync(join(tmpdir(), 'turnkit-cert-'));
  const certFile = join(where, 'cert.pem');
  const keyFile = join(where, 'key.pem');
  const cleanup = (): void => {
    if (ownDir) rmSync(where, { recursive: true, force: true });
    else {
      rmSync(certFile, { force: true });
      rmSync(keyFile, { force: true });
    }
  };
  try {
    execFileSync(
      'openssl',
      [
        'req', '-x509',
        '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
        '-nodes', '-days', '2',
        '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
        '-keyout', keyFile, '-out', certFile,
      ],
      // openssl chatters on stderr even when it works; keep it for the error message
      { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 },
    );
    return { certFile, keyFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), cleanup };
  } catch (err) {
    cleanup();
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`openssl could not make a test certificate: ${stderr || (err as Error).message}`);
  }
}
