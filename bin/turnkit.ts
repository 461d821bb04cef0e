#!/usr/bin/env -S node --max-semi-space-size=2
/**
 * The turnkit command. It catches SIGHUP before loading anything else: Node's default for that
 * signal is to exit, and a reload (systemd's ExecReload sends it) can come while the server is
 * still loading and starting. Held hangups become one reload once the server is up.
 */
import { holdHangups } from '../src/services/hangup.js';

holdHangups();
await import('./turnkit-cli.js');
