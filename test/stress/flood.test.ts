/**
 * Garbage flood against a relayed call (ChannelData both ways, 100 packets a second each way).
 * First another process floods the server's UDP port with malformed datagrams as fast as it can:
 * this measures how many the server drops (and counts) a second, and the call's loss when the
 * flood is faster than that. Then a flood at 80 % of that capacity: the call keeps below 1 % loss
 * and its allocation stays alive. Loopback only; every flood is bounded in time and count.
 */
import t from 'tap';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { AttributeType } from '../../src/stun/constants.js';
import { LiveUdpClient, resultOf, startDaemon, xorAddressOf } from '../helpers/live-turn.js';
import { spawnTracked } from '../helpers/process.js';
import { channelBindRequest, channelData, refreshRequest } from '../helpers/turn-client.js';

const SECONDS = Number(process.env.FLOOD_SECONDS ?? 6);
const CALL_PPS = 100;

t.test(`garbage flood: the server's drop rate, and a call under a flood it can absorb keeps < 1 % loss`, async (t) => {
  const realm = 'flood.example';
  const d = await startDaemon(t, ['--realm', realm, '--user', 'caller:caller-pw', '--allow-peer', '127.0.0.1/32'], { http: false });
  const peer = dgram.createSocket('udp4');
  await new Promise<void>((r) => peer.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => peer.close());
  const client = await LiveUdpClient.open(t, d.udp, '127.0.5.1');
  const { answer, creds } = await client.allocate('caller', 'caller-pw', realm);
  t.equal(answer && resultOf(answer), 'success', 'the call has its allocation');
  const relayed = xorAddressOf(answer!, AttributeType.XorRelayedAddress)!;
  const peerAddress = { family: 'IPv4' as const, address: '127.0.0.1', port: peer.address().port };
  const bound = await client.request(channelBindRequest(creds, 0x4000, peerAddress));
  t.equal(bound && resultOf(bound), 'success', 'channel bound to the peer');

  // Count what arrives, by sequence number, on both ends.
  const atPeer = new Set<number>();
  const atClient = new Set<number>();
  peer.on('message', (m) => {
    if (m.length >= 4) atPeer.add(m.readUInt32BE(0));
  });
  client.socket.on('message', (m) => {
    if (m.length >= 8 && m.readUInt16BE(0) === 0x4000) atClient.add(m.readUInt32BE(4));
  });

  let seq = 0;
  /** Runs the call for `seconds` under a flood at `rate` datagrams/s (0: as fast as it can). */
  const callUnderFlood = async (seconds: number, rate: number) => {
    atPeer.clear();
    atClient.clear();
    const droppedBefore = await d.metric('turnkit_stun_dropped_total');
    const flooder = fileURLToPath(new URL('./flooder.js', import.meta.url));
    const flood = spawnTracked(process.execPath, [flooder, String(d.udp), String(seconds), '50000000', String(rate)], { t });
    await new Promise((r) => setTimeout(r, 300)); // the flood is on before the call starts
    const first = seq;
    const total = Math.floor((seconds - 0.8) * CALL_PPS);
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(seq++);
        client.send(channelData(0x4000, b));
        peer.send(b, relayed.port, relayed.address);
        if (seq - first >= total) {
          clearInterval(timer);
          resolve();
        }
      }, 1000 / CALL_PPS);
    });
    const result = JSON.parse((await flood.waitForLine(/"sent"/, (seconds + 10) * 1000)).trim()) as { sent: number; ms: number };
    await flood.waitExit(5000);
    await new Promise((r) => setTimeout(r, 500));
    const dropped = (await d.metric('turnkit_stun_dropped_total')) - droppedBefore;
    const secs = result.ms / 1000;
    return {
      sentRate: Math.round(result.sent / secs),
      droppedRate: Math.round(dropped / secs),
      sent: result.sent,
      dropped,
      lossToPeer: 1 - atPeer.size / total,
      lossToClient: 1 - atClient.size / total,
      packets: total,
    };
  };
  const pct = (x: number): string => `${(x * 100).toFixed(2)} %`;

  // 1. As fast as another process on this machine can send: how much can the server drop?
  const max = await callUnderFlood(3, 0);
  t.comment(`max flood: ${max.sentRate}/s sent, ${max.droppedRate}/s dropped and counted by the server; call loss client→peer ${pct(max.lossToPeer)}, peer→client ${pct(max.lossToClient)}`);
  t.ok(max.sent > 10_000, 'the flood ran');
  t.ok(max.dropped > 0, 'the garbage was dropped and counted');
  t.ok(max.lossToClient < 0.01, `peer → client (relay socket, not flooded) loss < 1 % (${pct(max.lossToClient)})`);

  // 2. A flood the server can absorb (80 % of what it dropped above): the call must not notice.
  const rate = Math.max(1000, Math.round(max.droppedRate * 0.8));
  const held = await callUnderFlood(SECONDS, rate);
  t.comment(`flood at ${rate}/s for ${SECONDS} s: ${held.sentRate}/s sent, ${held.droppedRate}/s dropped; call ${held.packets} packets each way, loss client→peer ${pct(held.lossToPeer)}, peer→client ${pct(held.lossToClient)}`);
  t.ok(held.lossToPeer < 0.01, `client → peer loss < 1 % (${pct(held.lossToPeer)})`);
  t.ok(held.lossToClient < 0.01, `peer → client loss < 1 % (${pct(held.lossToClient)})`);
  const refreshed = await client.request(refreshRequest(creds, 600));
  t.equal(refreshed && resultOf(refreshed), 'success', 'the allocation is alive after the flood');
  t.equal(d.proc.exitStatus, null, 'the daemon is running');
});
