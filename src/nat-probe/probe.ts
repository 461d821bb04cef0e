import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { AttributeType, MAGIC_COOKIE, MessageClass, Method } from '../stun/constants.js';
import { decodeAddress, decodeXorAddress } from '../stun/attributes/address.js';
import { decodeMessage, encodeMessage, getAttribute } from '../stun/message.js';
import type { TransportAddress } from '../stun/ip.js';
import type { HostPort } from '../config.js';
import { toTransportAddress } from '../transport/address.js';
import type { BindingObservation } from './classify.js';

/** RFC 8489 §6.2.1: first retransmission timeout; it doubles on each retry. */
const INITIAL_RTO_MS = 250;

/** Sends Binding requests to `server` until one is answered or `timeoutMs` passes; reports the mapping. */
export async function probeBinding(server: HostPort, timeoutMs: number, localAddress?: string): Promise<BindingObservation> {
  const ipv6 = server.host.includes(':');
  const socket = dgram.createSocket(ipv6 ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(localAddress ? { address: localAddress, port: 0 } : { port: 0 }, () => resolve());
  });
  const a = socket.address();
  const local = toTransportAddress(a.address, a.port);
  const transactionId = randomBytes(12);
  const request = encodeMessage(
    { method: Method.Binding, cls: MessageClass.Request, transactionId, cookie: MAGIC_COOKIE, attributes: [] },
    { fingerprint: true },
  );
  const interfaceAddresses = Object.values(networkInterfaces())
    .flat()
    .map((i) => i?.address)
    .filter((x): x is string => typeof x === 'string');
  try {
    const mapped = await new Promise<TransportAddress | undefined>((resolve) => {
      let rto = INITIAL_RTO_MS;
      let timer: NodeJS.Timeout;
      const deadline = setTimeout(() => {
        clearTimeout(timer);
        resolve(undefined);
      }, timeoutMs);
      const send = (): void => {
        socket.send(request, server.port, server.host);
        timer = setTimeout(send, rto);
        rto *= 2;
      };
      socket.on('message', (data) => {
        const r = decodeMessage(data);
        if (!r.ok || r.message.cls !== MessageClass.SuccessResponse) return;
        if (!r.message.transactionId.equals(transactionId)) return;
        const xor = getAttribute(r.message, AttributeType.XorMappedAddress);
        const plain = getAttribute(r.message, AttributeType.MappedAddress);
        const addr = xor ? decodeXorAddress(xor.value, transactionId) : plain ? decodeAddress(plain.value) : undefined;
        if (!addr) return;
        clearTimeout(timer);
        clearTimeout(deadline);
        resolve(addr);
      });
      send();
    });
    const observation: BindingObservation = { local, interfaceAddresses };
    if (mapped) observation.mapped = mapped;
    return observation;
  } finally {
    socket.close();
  }
}
