import { sourceKey } from '../turn/rate-limit.js';

/** Why a new TCP/TLS connection was refused; the label values of `turnkit_stream_refused_total`. */
export type ConnectionRefusal = 'per-ip-limit' | 'connection-limit';

/** Every refusal reason, for pre-registering metric labels. */
export const CONNECTION_REFUSALS: readonly ConnectionRefusal[] = ['per-ip-limit', 'connection-limit'];

/** The connection limits in force; 0 means no limit. Read at each admission, so a reload applies at once. */
export interface ConnectionLimits {
  perIp: number;
  total: number;
}

/**
 * Counts open TCP/TLS connections in total and per client IP, and admits a new one only while both
 * are under their limits: one address cannot take every file descriptor of the server.
 */
export class ConnectionGate {
  private readonly byIp = new Map<string, number>();
  private total = 0;

  constructor(private readonly limits: () => ConnectionLimits) {}

  /** Admits a connection from `ip` (counting it under its sourceKey: an IPv6 /64 is one client) or says why not. */
  admit(address: string): ConnectionRefusal | undefined {
    const ip = sourceKey(address);
    const { perIp, total } = this.limits();
    if (total > 0 && this.total >= total) return 'connection-limit';
    const n = this.byIp.get(ip) ?? 0;
    if (perIp > 0 && n >= perIp) return 'per-ip-limit';
    this.byIp.set(ip, n + 1);
    this.total++;
    return undefined;
  }

  /** Forgets an admitted connection that closed. */
  release(address: string): void {
    const ip = sourceKey(address);
    const n = this.byIp.get(ip) ?? 0;
    if (n <= 1) this.byIp.delete(ip);
    else this.byIp.set(ip, n - 1);
    this.total = Math.max(0, this.total - 1);
  }

  /** Admitted connections still open. */
  get size(): number {
    return this.total;
  }
}
