/**
 * At most one log line per key per interval, for events that come in floods (refused requests, a
 * client retrying a denied peer): the metrics count every one, the log says it once a while and
 * can say how many it left out in between.
 */

/** Keys remembered at most; past this the memory is dropped, which costs at most one extra line per key. */
const MAX_KEYS = 10_000;

/** Decides which events of a flood get a log line. */
export class LogThrottle {
  private readonly next = new Map<string, { at: number; skipped: number }>();

  constructor(private readonly intervalMs = 60_000) {}

  /**
   * Whether an event under `key` at `now` gets a line: the number of events left unlogged under it
   * since its last line (0 or more), or undefined when this one is left unlogged too.
   */
  take(key: string, now = Date.now()): number | undefined {
    const entry = this.next.get(key);
    if (entry && entry.at > now) {
      entry.skipped += 1;
      return undefined;
    }
    if (!entry && this.next.size >= MAX_KEYS) this.next.clear();
    const skipped = entry?.skipped ?? 0;
    this.next.set(key, { at: now + this.intervalMs, skipped: 0 });
    return skipped;
  }
}
