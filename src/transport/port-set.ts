/**
 * The ports a data plane holds open, per local IP: relay port draws ask it once or more per
 * allocation, and a byte per port answers without building a `host|port` string to hash.
 */
export class PortSet {
  readonly #byHost = new Map<string, Uint8Array>();

  /** Marks `host`:`port` as held. */
  add(host: string, port: number): void {
    let ports = this.#byHost.get(host);
    if (ports === undefined) {
      ports = new Uint8Array(65536);
      this.#byHost.set(host, ports);
    }
    ports[port] = 1;
  }

  /** Marks `host`:`port` as free again. */
  delete(host: string, port: number): void {
    const ports = this.#byHost.get(host);
    if (ports !== undefined) ports[port] = 0;
  }

  /** True while `host`:`port` is held. */
  has(host: string, port: number): boolean {
    return this.#byHost.get(host)?.[port] === 1;
  }
}
