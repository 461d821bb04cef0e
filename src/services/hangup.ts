/**
 * SIGHUP from the first moment of the process: held until the daemon can act on it, then handed
 * over. Node's default action for SIGHUP is to exit, so without this a reload sent while the
 * server starts (or a terminal closing) would kill it.
 */

let held = 0;
const hold = (): void => {
  held++;
};

/** Catches SIGHUP from now on; each one is only remembered until onHangup takes over. */
export function holdHangups(): void {
  process.on('SIGHUP', hold);
}

/** Sends every SIGHUP from now on to `handler`, and calls it once at once if any were held. */
export function onHangup(handler: () => void): void {
  // The new listener goes in before the holder comes out: with none at all, even for a moment,
  // Node restores the default action.
  process.on('SIGHUP', handler);
  process.off('SIGHUP', hold);
  if (held > 0) {
    held = 0;
    handler();
  }
}
