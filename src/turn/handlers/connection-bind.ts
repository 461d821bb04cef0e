import { AttributeType, ErrorCode } from '../../stun/constants.js';
import { getAttribute } from '../../stun/message.js';
import type { AllocationTable } from '../allocations.js';
import { fiveTupleKeyOf, type HandlerReply, type RequestContext } from '../context.js';
import type { TcpConnectionTable } from '../tcp-connections.js';
import { decodeConnectionId } from '../wire/attributes.js';
import { fail, succeed } from './common.js';

/**
 * RFC 6062 §5.4 "Receiving a ConnectionBind Request": on a new TCP/TLS connection that holds no
 * allocation, a CONNECTION-ID waiting for its bind, asked for by the user who owns its allocation,
 * turns this connection into the client data connection of that peer connection. Any refusal is
 * 400 (as coturn answers), except another user's connection: 441.
 */
export function handleConnectionBind(ctx: RequestContext, table: AllocationTable, connections: TcpConnectionTable): HandlerReply {
  const { request, event, now } = ctx;
  if (event.transport === 'udp') return fail(ErrorCode.BadRequest);
  // A control connection (one with an allocation) cannot also be a data connection.
  if (table.get(fiveTupleKeyOf(event))) return fail(ErrorCode.BadRequest);

  const attr = getAttribute(request, AttributeType.ConnectionId);
  const id = attr ? decodeConnectionId(attr.value) : undefined;
  if (id === undefined) return fail(ErrorCode.BadRequest);
  const connection = connections.get(id);
  if (!connection || connection.state !== 'pending-bind' || connection.bindBy <= now) return fail(ErrorCode.BadRequest);
  const allocation = table.getById(connection.allocationId);
  if (!allocation || allocation.expiresAt <= now) return fail(ErrorCode.BadRequest);
  if (allocation.username !== ctx.auth.username) return fail(ErrorCode.WrongCredentials);

  connections.bind(id, now);
  return succeed([], { bound: { connection, listenerId: event.listenerId } });
}
