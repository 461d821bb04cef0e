import type { BindingObservation, NatPresence } from './classify.js';

/** The machine-readable report (`--json`). */
export interface NatReport {
  server: string;
  local: string;
  mapped: string | null;
  nat: NatPresence;
}

/** Builds the report from an observation and its verdict. */
export function buildReport(server: string, o: BindingObservation, nat: NatPresence): NatReport {
  const fmt = (a: { address: string; port: number }): string =>
    a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  return { server, local: fmt(o.local), mapped: o.mapped ? fmt(o.mapped) : null, nat };
}

const EXPLAIN: Record<NatPresence, string> = {
  'no-nat': 'no NAT: the server sees this host\'s own address; peers that can route to it reach it directly',
  nat: 'behind a NAT: peers see the mapped address above, not this host\'s own',
  'udp-blocked': 'no answer over UDP: UDP is blocked or the server is down; calls will need TURN over TCP/TLS',
};

/** Renders the report as text for people. */
export function formatReport(r: NatReport): string {
  return [
    `server:          ${r.server}`,
    `local address:   ${r.local}`,
    `mapped address:  ${r.mapped ?? '(none)'}`,
    `verdict:         ${EXPLAIN[r.nat]}`,
  ].join('\n');
}
