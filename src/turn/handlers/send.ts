import { AttributeType } from '../../stun/constants.js';
import { getAttribute } from '../../stun/message.js';
import { relaysFamily, type AllocationTable } from '../allocations.js';
import { fiveTupleKeyOf, type ClientEvent, type TurnEngineConfig, type TurnOutcome } from '../context.js';
import { hasPermission } from '../permissions.js';
import type { StunMessage } from '../../stun/message.js';
import { hasUnknownComprehensionRequired } from '../../stun/server.js';
import { peerAddresses } from './common.js';

/**
 * RFC 8656 §10.2 "Receiving a Send Indication": relays DATA to the XOR-PEER-ADDRESS when the
 * 5-tuple has an allocation, the peer's IP has a permission and the policy allows the peer.
 * Indications are never answered: every refusal is a counted drop.
 */
export function handleSend(
  indication: StunMessage,
  event: ClientEvent,
  now: number,
  table: AllocationTable,
  config: TurnEngineConfig,
): TurnOutcome {
  const allocation = table.get(fiveTupleKeyOf(event));
  if (!allocation || allocation.expiresAt <= now) return { kind: 'relay-drop', reason: 'no-allocation' };
  // RFC 6062: data of a TCP allocation goes over its data connections, not in Send indications.
  if (allocation.relayTransport === 'tcp') return { kind: 'relay-drop', reason: 'tcp-allocation' };
  // RFC 8489 §6.3.2: an indication with an unknown comprehension-required attribute is discarded.
  if (hasUnknownComprehensionRequired(indication)) return { kind: 'relay-drop', reason: 'unknown-attribute' };
  const peers = peerAddresses(indication);
  const dataAttr = getAttribute(indication, AttributeType.Data);
  if (!peers || peers.length === 0 || !dataAttr) return { kind: 'relay-drop', reason: 'malformed' };
  const peer = peers[0]!;
  // No relay of the peer's family to send from (RFC 8656 §10.2 would answer 443; indications get no answer).
  if (!relaysFamily(allocation, peer.family)) return { kind: 'relay-drop', reason: 'peer-family-mismatch' };
  if (!hasPermission(allocation, peer.address, now)) return { kind: 'relay-drop', reason: 'no-permission' };
  const decision = config.policy.checkTransportAddress(peer.address, peer.port);
  if (!decision.allowed) {
    return {
      kind: 'relay-drop',
      reason: 'peer-denied',
      note: { event: 'peer-denied', peer: peer.address, rule: decision.rule, reason: decision.reason },
    };
  }
  return { kind: 'send-peer', allocation, peer, data: dataAttr.value };
}
