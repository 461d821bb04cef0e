import type { TransportAddress } from '../stun/ip.js';

/** What one Binding exchange showed about the path to the server. */
export interface BindingObservation {
  /** The local socket address the request was sent from. */
  local: TransportAddress;
  /** XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS) from the response; undefined when no answer came. */
  mapped?: TransportAddress;
  /** Addresses of this host's interfaces. */
  interfaceAddresses: string[];
}

/** The verdict so far: whether a NAT sits between this host and the server. */
export type NatPresence = 'no-nat' | 'nat' | 'udp-blocked';

/** Pure: no answer means UDP is blocked; a mapped IP that is one of ours means no NAT. */
export function classifyNatPresence(o: BindingObservation): NatPresence {
  if (!o.mapped) return 'udp-blocked';
  return o.interfaceAddresses.includes(o.mapped.address) ? 'no-nat' : 'nat';
}
