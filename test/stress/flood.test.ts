/**
 * Garbage flood: while another process sends malformed datagrams to the server's UDP port as fast as
 * it can, a relayed call (ChannelData both ways, 100 packets a second each way) keeps below 1 % loss
 * and its allocation stays alive. Prints the flood rate sent, the rate the server dropped and
 * counted, and the call's loss. Loopback only; the flood is bounded in time and count.
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

t.test(`garbage flood for ${SECONDS} s: a ChannelData call both ways keeps < 1 % loss`, async (t) => {
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

  const droppedBefore = await d.metric('turnkit_stun_dropped_total');
  const flood = spawnTracked(process.execPath, [fileURLToPath(new URL('./flooder.js', import.meta.url)), String(d.udp), String(SECONDS), '20000000'], { t });
  await new Promise((r) => setTimeout(r, 300)); // the flood is on before the call starts
  let sent = 0;
  const total = Math.floor((SECONDS - 0.8) * CALL_PPS);
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const seq = Buffer.alloc(4);
      seq.writeUInt32BE(sent);
      client.send(channelData(0x4000, seq));
      peer.send(seq, relayed.port, relayed.address);
      if (++sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 1000 / CALL_PPS);
  });
  const result = JSON.parse((await flood.waitForLine(/"sent"/, (SECONDS + 10) * 1000)).trim()) as { sent: number; ms: number };
  await flood.waitExit(5000);
  await new Promise((r) => setTimeout(r, 500));
  const dropped = (await d.metric('turnkit_stun_dropped_total')) - droppedBefore;
  const lossToPeer = 1 - atPeer.size / sent;
  const lossToClient = 1 - atClient.size / sent;
  const rate = Math.round(result.sent / (result.ms / 1000));
  t.comment(`flood: ${result.sent} datagrams in ${result.ms} ms = ${rate}/s sent; ${dropped} dropped and counted by the server (${Math.round(dropped / (result.ms / 1000))}/s)`);
  t.comment(`call: ${sent} packets each way at ${CALL_PPS}/s; loss client→peer ${(lossToPeer * 100).toFixed(2)} %, peer→client ${(lossToClient * 100).toFixed(2)} %`);
  t.ok(result.sent > 10_000, 'the flood ran');
  t.ok(dropped > 0, 'the garbage was dropped and counted');
  t.ok(lossToPeer < 0.01, `client → peer loss < 1 % (${(lossToPeer * 100).toFixed(2)} %)`);
  t.ok(lossToClient < 0.01, `peer → client loss < 1 % (${(lossToClient * 100).toFixed(2)} %)`);
  const refreshed = await client.request(refreshRequest(creds, 600));
  t.equal(refreshed && resultOf(refreshed), 'success', 'the allocation is alive after the flood');
  t.equal(d.proc.exitStatus, null, 'the daemon is running');
});
