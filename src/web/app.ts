/**
 * The conferencing page of turnkit: joins a room over WebSocket signaling (/signal), gets its ICE
 * servers (a short-lived TURN credential) from the welcome message, and connects a full mesh of
 * RTCPeerConnections. Shows, live from getStats(), the candidates gathered, the pairs, the
 * selected pair and its type, RTT, bitrate and packet loss. No framework, no build beyond tsc.
 *
 * The newcomer makes the offers (to everyone already in the room), so two peers never offer to
 * each other at once.
 */

interface IceServerJson {
  urls: string[];
  username?: string;
  credential?: string;
}
interface CandidateJson {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
}
type ServerMessage =
  | { type: 'welcome'; id: string; room: string; peers: string[]; maxPeers: number; iceServers: IceServerJson[]; ttl: number }
  | { type: 'peer-joined'; id: string }
  | { type: 'peer-left'; id: string }
  | { type: 'offer' | 'answer'; from: string; sdp: string }
  | { type: 'candidate'; from: string; candidate: CandidateJson | null }
  | { type: 'left'; room: string }
  | { type: 'ice-servers'; iceServers: IceServerJson[]; ttl: number }
  | { type: 'error'; code: string; message: string };

/** One row of the candidates table. */
interface CandidateView {
  id: string;
  side: 'local' | 'remote';
  type: string;
  protocol: string;
  address: string;
  port: number | undefined;
  relayProtocol: string | undefined;
  url: string | undefined;
  mdns: boolean;
}
interface PairView {
  local: string;
  remote: string;
  state: string;
  nominated: boolean;
  selected: boolean;
  rtt: number | undefined;
}
/** What the page knows about one remote peer; also what `window.turnkitConference.peers()` returns. */
export interface PeerSummary {
  id: string;
  connectionState: string;
  iceConnectionState: string;
  candidates: CandidateView[];
  pairs: PairView[];
  selected: { local: CandidateView | undefined; remote: CandidateView | undefined; kind: string } | undefined;
  rttMs: number | undefined;
  bitrateInKbps: number | undefined;
  bitrateOutKbps: number | undefined;
  packetLossPercent: number | undefined;
  framesDecoded: number;
  bytesReceived: number;
  bytesSent: number;
}

interface Peer {
  id: string;
  pc: RTCPeerConnection;
  /** This side made the offer (and makes the ICE restart when the credential is renewed). */
  offerer: boolean;
  queue: Promise<void>;
  tile: HTMLElement;
  video: HTMLVideoElement;
  panel: HTMLElement;
  last: { t: number; sent: number; received: number; pair: string } | undefined;
  summary: PeerSummary;
}

const $ = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} missing`);
  return e as T;
};

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

const state = {
  ws: undefined as WebSocket | undefined,
  id: undefined as string | undefined,
  room: undefined as string | undefined,
  iceServers: [] as IceServerJson[],
  local: undefined as MediaStream | undefined,
  peers: new Map<string, Peer>(),
  timer: undefined as number | undefined,
  renewTimer: undefined as number | undefined,
};

function status(text: string): void {
  $('status').textContent = text;
}

function mediaError(text: string | undefined): void {
  const e = $('media-error');
  e.hidden = text === undefined;
  e.textContent = text ?? '';
}

function relayOnly(): boolean {
  return $<HTMLInputElement>('relay-only').checked;
}

/** Camera and microphone; on failure a clear message and a receive-only call. */
async function getMedia(): Promise<MediaStream | undefined> {
  if (!navigator.mediaDevices?.getUserMedia) {
    mediaError('This browser gives no camera access here (the page must be served over HTTPS or from localhost). You can still watch the others.');
    return undefined;
  }
  try {
    return await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
  } catch (err) {
    const name = (err as DOMException).name;
    if (name === 'NotAllowedError' || name === 'SecurityError') {
      mediaError('Camera and microphone permission was refused. Allow it in the browser (the icon in the address bar) and join again; meanwhile you can still see and hear the others.');
    } else if (name === 'NotFoundError' || name === 'OverconstrainedError') {
      mediaError('No camera or microphone was found. You joined without sending media; you can still see and hear the others.');
    } else if (name === 'NotReadableError') {
      mediaError('The camera or microphone is in use by another program. You joined without sending media.');
    } else {
      mediaError(`Cannot open camera or microphone (${name}). You joined without sending media.`);
    }
    // Try audio alone before giving up (a machine with a microphone but no camera).
    try {
      return await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch {
      return undefined;
    }
  }
}

function addTile(id: string, label: string, muted: boolean): { tile: HTMLElement; video: HTMLVideoElement } {
  const video = el('video', { autoplay: '', playsinline: '', 'aria-label': `Video of ${label}` });
  video.muted = muted;
  const tile = el('figure', { 'data-peer': id }, video, el('figcaption', {}, label));
  $('tiles').append(tile);
  return { tile, video };
}

function send(m: unknown): void {
  if (state.ws?.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(m));
}

/** Asks for a fresh credential before this one expires (at 80 % of its lifetime). */
function scheduleRenew(ttl: number): void {
  if (state.renewTimer !== undefined) clearTimeout(state.renewTimer);
  state.renewTimer = undefined;
  if (ttl > 0) state.renewTimer = window.setTimeout(() => send({ type: 'renew' }), Math.max(30, ttl * 0.8) * 1000);
}

/** New credential: every connection gets it, and the offering side restarts ICE so TURN uses it. */
function renewed(iceServers: IceServerJson[], ttl: number): void {
  state.iceServers = iceServers;
  for (const p of state.peers.values()) {
    p.pc.setConfiguration({ ...p.pc.getConfiguration(), iceServers: iceServers as RTCIceServer[] });
    if (p.offerer) {
      enqueue(p, async () => {
        await p.pc.setLocalDescription(await p.pc.createOffer({ iceRestart: true }));
        send({ type: 'offer', to: p.id, sdp: p.pc.localDescription!.sdp });
      });
    }
  }
  scheduleRenew(ttl);
}

function createPeer(id: string, offerer = false): Peer {
  const pc = new RTCPeerConnection({ iceServers: state.iceServers as RTCIceServer[], iceTransportPolicy: relayOnly() ? 'relay' : 'all' });
  const { tile, video } = addTile(id, `Peer ${id.slice(0, 6)}`, false);
  const panel = el('section', { class: 'peer-ice', 'aria-label': `ICE for peer ${id.slice(0, 6)}` });
  $('ice').append(panel);
  const peer: Peer = {
    id,
    pc,
    offerer,
    queue: Promise.resolve(),
    tile,
    video,
    panel,
    last: undefined,
    summary: {
      id,
      connectionState: 'new',
      iceConnectionState: 'new',
      candidates: [],
      pairs: [],
      selected: undefined,
      rttMs: undefined,
      bitrateInKbps: undefined,
      bitrateOutKbps: undefined,
      packetLossPercent: undefined,
      framesDecoded: 0,
      bytesReceived: 0,
      bytesSent: 0,
    },
  };
  if (state.local && state.local.getTracks().length > 0) {
    for (const track of state.local.getTracks()) pc.addTrack(track, state.local);
    if (state.local.getVideoTracks().length === 0) pc.addTransceiver('video', { direction: 'recvonly' });
  } else {
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
  }
  pc.addEventListener('icecandidate', (e) => send({ type: 'candidate', to: id, candidate: e.candidate ? e.candidate.toJSON() : null }));
  pc.addEventListener('track', (e) => {
    const stream = e.streams[0] ?? new MediaStream([e.track]);
    if (video.srcObject !== stream) video.srcObject = stream;
  });
  pc.addEventListener('connectionstatechange', () => {
    peer.summary.connectionState = pc.connectionState;
    updateStatus();
  });
  state.peers.set(id, peer);
  renderPeer(peer);
  return peer;
}

/** Runs signaling work for one peer in order (a candidate must wait for the description). */
function enqueue(peer: Peer, work: () => Promise<void>): void {
  peer.queue = peer.queue.then(work).catch((err: unknown) => {
    console.error(`peer ${peer.id}:`, err);
  });
}

function removePeer(id: string): void {
  const p = state.peers.get(id);
  if (!p) return;
  p.pc.close();
  p.tile.remove();
  p.panel.remove();
  state.peers.delete(id);
  updateStatus();
}

function updateStatus(): void {
  if (!state.room) return status('Not in a room.');
  const n = state.peers.size;
  const connected = [...state.peers.values()].filter((p) => p.pc.connectionState === 'connected').length;
  status(`In room "${state.room}"${relayOnly() ? ' (relay only)' : ''}: ${n} other ${n === 1 ? 'person' : 'people'}, ${connected} connected.`);
}

function onMessage(m: ServerMessage): void {
  switch (m.type) {
    case 'welcome': {
      state.id = m.id;
      state.room = m.room;
      state.iceServers = m.iceServers;
      $('max-peers').textContent = String(m.maxPeers);
      $<HTMLButtonElement>('turn-test').disabled = false;
      const url = new URL(location.href);
      url.searchParams.set('room', m.room);
      history.replaceState(null, '', url);
      scheduleRenew(m.ttl);
      for (const other of m.peers) {
        const p = createPeer(other, true);
        enqueue(p, async () => {
          await p.pc.setLocalDescription(await p.pc.createOffer());
          send({ type: 'offer', to: other, sdp: p.pc.localDescription!.sdp });
        });
      }
      updateStatus();
      return;
    }
    case 'peer-joined':
      // They will send the offer; the connection is made when it arrives.
      updateStatus();
      return;
    case 'peer-left':
      removePeer(m.id);
      return;
    case 'offer': {
      const p = state.peers.get(m.from) ?? createPeer(m.from);
      enqueue(p, async () => {
        await p.pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
        await p.pc.setLocalDescription(await p.pc.createAnswer());
        send({ type: 'answer', to: m.from, sdp: p.pc.localDescription!.sdp });
      });
      return;
    }
    case 'answer': {
      const p = state.peers.get(m.from);
      if (p) enqueue(p, () => p.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp }));
      return;
    }
    case 'candidate': {
      const p = state.peers.get(m.from);
      if (p) enqueue(p, () => p.pc.addIceCandidate(m.candidate ?? undefined));
      return;
    }
    case 'left':
      return;
    case 'ice-servers':
      renewed(m.iceServers, m.ttl);
      return;
    case 'error':
      // A refused join (room full, server shutting down) leaves, which re-enables Join; leaving
      // resets the status line, so the reason goes on it afterwards.
      if (m.code === 'room-full' || (m.code === 'unavailable' && state.room === undefined)) leave();
      status(`Signaling error (${m.code}): ${m.message}`);
      return;
  }
}

async function join(room: string): Promise<void> {
  $<HTMLButtonElement>('join').disabled = true;
  $<HTMLInputElement>('relay-only').disabled = true;
  $<HTMLInputElement>('room').disabled = true;
  mediaError(undefined);
  status('Opening camera and microphone…');
  if (!state.local) {
    state.local = await getMedia();
    if (state.local) {
      const { video } = addTile('self', 'You', true);
      video.srcObject = state.local;
    }
  }
  status('Connecting to the signaling server…');
  const ws = new WebSocket(new URL('signal', location.href.replace(/^http/, 'ws')));
  state.ws = ws;
  ws.addEventListener('open', () => send({ type: 'join', room }));
  ws.addEventListener('message', (e) => {
    try {
      onMessage(JSON.parse(String(e.data)) as ServerMessage);
    } catch (err) {
      console.error('bad signaling message', err);
    }
  });
  ws.addEventListener('close', (e) => {
    if (state.ws !== ws) return;
    const room = state.room;
    leave();
    status(room ? `Disconnected from the signaling server (code ${e.code}${e.reason ? ': ' + e.reason : ''}).` : `Cannot reach the signaling server (code ${e.code}).`);
  });
  $<HTMLButtonElement>('leave').disabled = false;
  state.timer = window.setInterval(() => void refreshStats(), 1000);
}

/** Stops the camera and microphone (their indicator goes off) and removes the page's own tile. */
function releaseMedia(): void {
  for (const track of state.local?.getTracks() ?? []) track.stop();
  state.local = undefined;
  document.querySelector('#tiles figure[data-peer="self"]')?.remove();
}

function leave(): void {
  const ws = state.ws;
  state.ws = undefined;
  if (ws && ws.readyState === WebSocket.OPEN) {
    ws.send(JSON.stringify({ type: 'leave' }));
    ws.close(1000, 'left');
  }
  for (const id of [...state.peers.keys()]) removePeer(id);
  releaseMedia();
  if (state.timer !== undefined) clearInterval(state.timer);
  state.timer = undefined;
  scheduleRenew(0);
  state.room = undefined;
  state.id = undefined;
  $<HTMLButtonElement>('join').disabled = false;
  $<HTMLButtonElement>('leave').disabled = true;
  $<HTMLButtonElement>('turn-test').disabled = true;
  $<HTMLInputElement>('relay-only').disabled = false;
  $<HTMLInputElement>('room').disabled = false;
  updateStatus();
}

// ---------------------------------------------------------------------------------------------
// Stats

type StatsEntry = Record<string, unknown> & { id: string; type: string };

function candidateView(s: StatsEntry, side: 'local' | 'remote'): CandidateView {
  const address = String(s.address ?? s.ip ?? '');
  return {
    id: s.id,
    side,
    type: String(s.candidateType ?? '?'),
    protocol: String(s.protocol ?? '?'),
    address,
    port: typeof s.port === 'number' ? s.port : undefined,
    relayProtocol: typeof s.relayProtocol === 'string' ? s.relayProtocol : undefined,
    url: typeof s.url === 'string' ? s.url : undefined,
    mdns: address.endsWith('.local'),
  };
}

/** How the selected pair carries media, in words. */
function pairKind(l: CandidateView | undefined, r: CandidateView | undefined): string {
  if (!l || !r) return 'none yet';
  if (l.type === 'relay' || r.type === 'relay') return `relayed through TURN (${l.type} ↔ ${r.type})`;
  if (['srflx', 'prflx'].includes(l.type) || ['srflx', 'prflx'].includes(r.type)) return `direct, via STUN-discovered address (${l.type} ↔ ${r.type})`;
  return `direct (${l.type} ↔ ${r.type})`;
}

async function refreshStats(): Promise<void> {
  for (const p of state.peers.values()) {
    let report: RTCStatsReport;
    try {
      report = await p.pc.getStats();
    } catch {
      continue;
    }
    const all = new Map<string, StatsEntry>();
    report.forEach((s: StatsEntry) => all.set(s.id, s));
    const candidates: CandidateView[] = [];
    let selectedPairId: string | undefined;
    let transport: StatsEntry | undefined;
    let framesDecoded = 0;
    let lost = 0;
    let received = 0;
    for (const s of all.values()) {
      if (s.type === 'local-candidate') candidates.push(candidateView(s, 'local'));
      else if (s.type === 'remote-candidate') candidates.push(candidateView(s, 'remote'));
      else if (s.type === 'transport' && typeof s.selectedCandidatePairId === 'string') {
        selectedPairId = s.selectedCandidatePairId;
        transport = s;
      }
      else if (s.type === 'inbound-rtp') {
        if (s.kind === 'video') framesDecoded += Number(s.framesDecoded ?? 0);
        lost += Math.max(0, Number(s.packetsLost ?? 0));
        received += Number(s.packetsReceived ?? 0);
      }
    }
    if (!selectedPairId) {
      for (const s of all.values()) if (s.type === 'candidate-pair' && s.selected === true) selectedPairId = s.id;
    }
    const byId = new Map(candidates.map((c) => [c.id, c]));
    const pairs: PairView[] = [];
    for (const s of all.values()) {
      if (s.type !== 'candidate-pair') continue;
      pairs.push({
        local: String(s.localCandidateId),
        remote: String(s.remoteCandidateId),
        state: String(s.state),
        nominated: s.nominated === true,
        selected: s.id === selectedPairId,
        rtt: typeof s.currentRoundTripTime === 'number' ? s.currentRoundTripTime : undefined,
      });
    }
    const sel = selectedPairId ? all.get(selectedPairId) : undefined;
    const sum = p.summary;
    sum.candidates = candidates;
    sum.pairs = pairs;
    sum.connectionState = p.pc.connectionState;
    sum.iceConnectionState = p.pc.iceConnectionState;
    sum.framesDecoded = framesDecoded;
    sum.packetLossPercent = lost + received > 0 ? (100 * lost) / (lost + received) : undefined;
    if (sel) {
      const local = byId.get(String(sel.localCandidateId));
      const remote = byId.get(String(sel.remoteCandidateId));
      sum.selected = { local, remote, kind: pairKind(local, remote) };
      sum.rttMs = typeof sel.currentRoundTripTime === 'number' ? sel.currentRoundTripTime * 1000 : undefined;
      const now = performance.now();
      // The transport's counters survive a change of pair (ICE restart); Firefox has only the pair's.
      const counters = transport ?? sel;
      const sent = Number(counters.bytesSent ?? 0);
      const recv = Number(counters.bytesReceived ?? 0);
      const pairKey = transport ? 'transport' : sel.id;
      // Rates over at least half a second (an extra refresh right after the timer's would show 0).
      if (!p.last || p.last.pair !== pairKey || now - p.last.t >= 500) {
        if (p.last && p.last.pair === pairKey) {
          const dt = (now - p.last.t) / 1000;
          sum.bitrateOutKbps = Math.max(0, (8 * (sent - p.last.sent)) / dt / 1000);
          sum.bitrateInKbps = Math.max(0, (8 * (recv - p.last.received)) / dt / 1000);
        }
        p.last = { t: now, sent, received: recv, pair: pairKey };
      }
      sum.bytesSent = sent;
      sum.bytesReceived = recv;
    } else {
      sum.selected = undefined;
    }
    renderPeer(p);
  }
}

/** Pairs listed per peer; the rest (mostly waiting ones) are counted. */
const MAX_PAIR_ROWS = 8;

function fmt(n: number | undefined, digits = 0, unit = ''): string {
  return n === undefined ? '–' : `${n.toFixed(digits)}${unit}`;
}

function candidateCell(c: CandidateView | undefined): Node {
  if (!c) return document.createTextNode('–');
  const span = el('span', {}, el('span', { class: `tag t-${c.type}` }, c.type), ` ${c.protocol} ${c.address}${c.port !== undefined ? ':' + c.port : ''}`);
  if (c.mdns) span.append(' ', el('span', { class: 'tag mdns', title: 'mDNS name: the browser hides its local IP address behind a random .local name' }, 'mDNS'));
  if (c.relayProtocol) span.append(` (to TURN over ${c.relayProtocol})`);
  return span;
}

function renderPeer(p: Peer): void {
  const s = p.summary;
  const summary = el(
    'dl',
    { class: 'summary' },
    el('dt', {}, 'Connection'),
    el('dd', { 'data-k': 'state' }, `${s.connectionState} (ICE ${s.iceConnectionState})`),
    el('dt', {}, 'Selected pair'),
    el('dd', { 'data-k': 'kind', class: 'selected' }, s.selected?.kind ?? 'none yet'),
    el('dt', {}, 'Round trip'),
    el('dd', { 'data-k': 'rtt' }, fmt(s.rttMs, 1, ' ms')),
    el('dt', {}, 'Packet loss'),
    el('dd', { 'data-k': 'loss' }, fmt(s.packetLossPercent, 1, ' %')),
    el('dt', {}, 'Bitrate in'),
    el('dd', { 'data-k': 'in' }, fmt(s.bitrateInKbps, 0, ' kbit/s')),
    el('dt', {}, 'Bitrate out'),
    el('dd', { 'data-k': 'out' }, fmt(s.bitrateOutKbps, 0, ' kbit/s')),
    el('dt', {}, 'Video frames decoded'),
    el('dd', { 'data-k': 'frames' }, String(s.framesDecoded)),
  );
  const cands = el(
    'table',
    {},
    el('caption', {}, 'Candidates'),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Side'), el('th', { scope: 'col' }, 'Candidate'), el('th', { scope: 'col' }, 'Server'))),
  );
  const cb = el('tbody');
  for (const c of [...s.candidates].sort((a, b) => a.side.localeCompare(b.side) || a.type.localeCompare(b.type))) {
    cb.append(el('tr', {}, el('td', {}, c.side), el('td', {}, candidateCell(c)), el('td', {}, c.url ?? '')));
  }
  cands.append(cb);
  const byId = new Map(s.candidates.map((c) => [c.id, c]));
  const pairs = el(
    'table',
    {},
    el('caption', {}, 'Candidate pairs'),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Local'), el('th', { scope: 'col' }, 'Remote'), el('th', { scope: 'col' }, 'State'), el('th', { scope: 'col' }, 'RTT'))),
  );
  const pb = el('tbody');
  const rank = (pr: PairView): number => (pr.selected ? 0 : pr.state === 'succeeded' ? 1 : pr.state === 'in-progress' ? 2 : pr.state === 'waiting' ? 3 : 4);
  const shown = [...s.pairs].sort((x, y) => rank(x) - rank(y)).slice(0, MAX_PAIR_ROWS);
  for (const pr of shown) {
    const row = el(
      'tr',
      pr.selected ? { class: 'selected' } : {},
      el('td', {}, candidateCell(byId.get(pr.local))),
      el('td', {}, candidateCell(byId.get(pr.remote))),
      el('td', {}, `${pr.state}${pr.nominated ? ', nominated' : ''}${pr.selected ? ', selected' : ''}`),
      el('td', { class: 'num' }, fmt(pr.rtt === undefined ? undefined : pr.rtt * 1000, 1, ' ms')),
    );
    pb.append(row);
  }
  if (s.pairs.length > shown.length) {
    pb.append(el('tr', {}, el('td', { colspan: '4' }, `… and ${s.pairs.length - shown.length} more pairs (waiting, failed or from before an ICE restart)`)));
  }
  pairs.append(pb);
  p.panel.replaceChildren(el('h3', {}, `Peer ${p.id.slice(0, 6)}`), summary, cands, pairs);
}

// ---------------------------------------------------------------------------------------------
// TURN test: one relay-only gathering per server URL

async function turnTest(): Promise<void> {
  const table = $<HTMLTableElement>('turn-test-results');
  const body = table.tBodies[0]!;
  body.replaceChildren();
  table.hidden = false;
  const button = $<HTMLButtonElement>('turn-test');
  button.disabled = true;
  const jobs: Array<Promise<void>> = [];
  for (const server of state.iceServers) {
    for (const url of server.urls) {
      const result = el('td', {}, 'gathering…');
      const found = el('td');
      body.append(el('tr', {}, el('th', { scope: 'row' }, url), result, found));
      if (!url.startsWith('turn')) {
        result.textContent = 'STUN only (no relay to test)';
        continue;
      }
      jobs.push(
        (async () => {
          const pc = new RTCPeerConnection({ iceServers: [{ urls: url, username: server.username ?? '', credential: server.credential ?? '' }], iceTransportPolicy: 'relay' });
          const relays: string[] = [];
          const errors: string[] = [];
          pc.addEventListener('icecandidate', (e) => {
            if (e.candidate?.type === 'relay') relays.push(`${e.candidate.address}:${e.candidate.port}`);
          });
          pc.addEventListener('icecandidateerror', (e) => errors.push(`${e.errorCode} ${e.errorText}`));
          pc.createDataChannel('probe');
          await pc.setLocalDescription(await pc.createOffer());
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 8000);
            pc.addEventListener('icegatheringstatechange', () => {
              if (pc.iceGatheringState === 'complete') (clearTimeout(timer), resolve());
            });
          });
          pc.close();
          result.replaceChildren(relays.length ? el('span', { class: 'ok' }, 'works') : el('span', { class: 'bad' }, `no relay candidate${errors.length ? ': ' + errors.join('; ') : ''}`));
          found.textContent = relays.join(', ');
        })(),
      );
    }
  }
  await Promise.allSettled(jobs);
  button.disabled = state.room === undefined;
}

// ---------------------------------------------------------------------------------------------

declare global {
  interface Window {
    turnkitConference: { peers(): PeerSummary[]; id(): string | undefined; refresh(): Promise<void>; renew(): void };
  }
}
window.turnkitConference = {
  peers: () => [...state.peers.values()].map((p) => p.summary),
  id: () => state.id,
  refresh: refreshStats,
  renew: () => send({ type: 'renew' }),
};

function init(): void {
  const params = new URLSearchParams(location.search);
  const room = $<HTMLInputElement>('room');
  room.value = params.get('room') ?? '';
  if (params.get('relay') === '1') $<HTMLInputElement>('relay-only').checked = true;
  $<HTMLFormElement>('join-form').addEventListener('submit', (e) => {
    e.preventDefault();
    if (room.checkValidity()) void join(room.value);
  });
  $('leave').addEventListener('click', () => leave());
  $('turn-test').addEventListener('click', () => void turnTest());
  if (room.value && room.checkValidity()) void join(room.value);
  else room.focus();
}

init();
