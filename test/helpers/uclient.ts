/** Reading what coturn's `turnutils_uclient` prints: its closing summary, and its output for failure messages. */
import type { ToolResult } from './process.js';

/** uclient's closing summary. */
export interface Summary {
  sessions?: number;
  sent?: number;
  received?: number;
  lost?: number;
  rttAvgMs?: number;
  rttMinMs?: number;
  rttMaxMs?: number;
}

/** Parses the sessions (msz), the last `tot_send_msgs=…, tot_recv_msgs=…` line, `Total lost packets` and the RTT line. */
export function parseSummary(out: string): Summary {
  const s: Summary = {};
  // uclient prints msz (its session count) on each progress line; under load the last of those
  // lines may come before every session is counted, so the largest value is the session count.
  const msz = [...out.matchAll(/msz=(\d+)/g)].map((m) => Number(m[1]));
  if (msz.length) s.sessions = Math.max(...msz);
  const tot = [...out.matchAll(/tot_send_msgs=(\d+), tot_recv_msgs=(\d+)/g)].pop();
  if (tot) {
    s.sent = Number(tot[1]);
    s.received = Number(tot[2]);
  }
  const lost = /Total lost packets (\d+)/.exec(out);
  if (lost) s.lost = Number(lost[1]);
  const rtt = /Average round trip delay ([\d.]+) ms; min = (\d+) ms, max = (\d+) ms/.exec(out);
  if (rtt) {
    s.rttAvgMs = Number(rtt[1]);
    s.rttMinMs = Number(rtt[2]);
    s.rttMaxMs = Number(rtt[3]);
  }
  return s;
}

/** Exit status and the last lines of stdout and stderr, for assertion messages. */
export function show(r: ToolResult): string {
  const tail = (x: string) => x.split('\n').slice(-25).join('\n');
  return `exit ${r.code}${r.timedOut ? ' (timed out, killed)' : ''}\n--- stdout (tail)\n${tail(r.stdout)}\n--- stderr (tail)\n${tail(r.stderr)}`;
}
