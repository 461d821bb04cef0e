/**
 * Child process of turn-werift.test.ts (not a test file itself): two werift RTCPeerConnections
 * in one process, relay-only through the TURN server given on the command line, signalled
 * in-process, open a data channel and exchange messages both ways. Prints one JSON line
 * (`WERIFT_RESULT {...}`) on stdout and exits explicitly: werift leaves timers running after
 * close() (a TURN refresh timer), so the process would otherwise never end.
 *
 * Usage: node turn-werift-peers.js '{"url":"turn:127.0.0.1:P?transport=udp","username":"u","credential":"p","messages":5}'
 * (for turns: add "tlsCa": "<PEM>", the CA werift verifies the server's certificate with).
 */
import { RTCPeerConnection, type RTCDataChannel } from 'werift';

interface Args {
  url: string;
  username: string;
  credential: string;
  messages: number;
  timeoutMs?: number;
  /** PEM CA that signed a turns: server's certificate. */
  tlsCa?: string;
}

/** A candidate as reported by getStats(), reduced to what the parent checks. */
interface CandidateInfo {
  candidateType: string;
  address: string;
  port: number;
  protocol: string;
  /** For a relay candidate, the client-to-TURN-server transport, when the implementation reports it. */
  relayProtocol?: string;
}

interface SelectedPair {
  local?: CandidateInfo;
  remote?: CandidateInfo;
  /** How the pair was found: the transport's selectedCandidatePairId, or the nominated pair. */
  via: 'selectedCandidatePairId' | 'nominated' | 'none';
}

export interface WeriftResult {
  ok: boolean;
  error?: string;
  /** Messages b received from a, and a from b, in arrival order. */
  aToB: string[];
  bToA: string[];
  localCandidateTypes: { a: string[]; b: string[] };
  selected: { a: SelectedPair; b: SelectedPair };
  states: { a: string; b: string };
  /** Milliseconds from the first createOffer to both channels open, and to the last message. */
  openMs?: number;
  doneMs?: number;
}

const MARK = 'WERIFT_RESULT ';

let emitted = false;

/** Prints the result line once and ends the process (exit 0 when ok). */
function emit(result: WeriftResult): void {
  if (emitted) return;
  emitted = true;
  const code = result.ok ? 0 : 1;
  process.stdout.write(MARK + JSON.stringify(result) + '\n', () => process.exit(code));
  // in case the write callback never runs
  setTimeout(() => process.exit(code), 2000).unref();
}

type StatsEntry = Record<string, unknown> & { type?: string; id?: string };

/** The selected candidate pair from getStats(): transport.selectedCandidatePairId, else the nominated pair. */
async function selectedPair(pc: RTCPeerConnection): Promise<SelectedPair> {
  const report = (await pc.getStats()) as unknown as Map<string, StatsEntry> | StatsEntry[];
  const entries: StatsEntry[] = report instanceof Map ? [...report.values()] : Array.from(report as Iterable<StatsEntry>);
  const byId = new Map<string, StatsEntry>();
  for (const e of entries) if (typeof e.id === 'string') byId.set(e.id, e);
  let pair: StatsEntry | undefined;
  let via: SelectedPair['via'] = 'none';
  for (const e of entries) {
    if (e.type === 'transport' && typeof e.selectedCandidatePairId === 'string' && byId.has(e.selectedCandidatePairId)) {
      pair = byId.get(e.selectedCandidatePairId);
      via = 'selectedCandidatePairId';
      break;
    }
  }
  if (!pair) {
    pair = entries.find((e) => e.type === 'candidate-pair' && e.nominated === true);
    if (pair) via = 'nominated';
  }
  const cand = (id: unknown): CandidateInfo | undefined => {
    const c = typeof id === 'string' ? byId.get(id) : undefined;
    if (!c) return undefined;
    const info: CandidateInfo = { candidateType: String(c.candidateType), address: String(c.address), port: Number(c.port), protocol: String(c.protocol) };
    if (typeof c.relayProtocol === 'string') info.relayProtocol = c.relayProtocol;
    return info;
  };
  return { local: cand(pair?.localCandidateId), remote: cand(pair?.remoteCandidateId), via };
}

function localTypes(pc: RTCPeerConnection): string[] {
  const sdp = pc.localDescription?.sdp ?? '';
  return [...sdp.matchAll(/a=candidate:\S+ \d+ \S+ \d+ \S+ \d+ typ (\w+)/g)].map((m) => m[1]!);
}

function waitOpen(dc: RTCDataChannel): Promise<void> {
  if (dc.readyState === 'open') return Promise.resolve();
  return new Promise((resolve) => {
    dc.stateChanged.subscribe((s) => {
      if (s === 'open') resolve();
    });
  });
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as Args;
  const timeoutMs = args.timeoutMs ?? 30_000;
  const config = {
    iceServers: [{ urls: args.url, username: args.username, credential: args.credential }],
    iceTransportPolicy: 'relay' as const,
    ...(args.tlsCa ? { turnTlsOptions: { ca: args.tlsCa } } : {}),
  };
  const a = new RTCPeerConnection(config);
  const b = new RTCPeerConnection(config);
  const result: WeriftResult = {
    ok: false,
    aToB: [],
    bToA: [],
    localCandidateTypes: { a: [], b: [] },
    selected: { a: { via: 'none' }, b: { via: 'none' } },
    states: { a: 'new', b: 'new' },
  };
  a.connectionStateChange.subscribe((s) => (result.states.a = s));
  b.connectionStateChange.subscribe((s) => (result.states.b = s));

  const watchdog = setTimeout(() => {
    result.error = `timed out after ${timeoutMs} ms (connection states a=${result.states.a} b=${result.states.b}; ` +
      `received a→b ${result.aToB.length}, b→a ${result.bToA.length})`;
    result.localCandidateTypes = { a: localTypes(a), b: localTypes(b) };
    emit(result);
  }, timeoutMs);

  const started = Date.now();
  const n = args.messages;
  const allReceived = (): boolean => result.aToB.length >= n && result.bToA.length >= n;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));

  const dcA = a.createDataChannel('turnkit');
  const dcBPromise = new Promise<RTCDataChannel>((resolve) => b.onDataChannel.subscribe((ch) => resolve(ch)));
  dcA.onMessage.subscribe((data) => {
    result.bToA.push(data.toString());
    if (allReceived()) finish();
  });

  // Non-trickle signalling: werift's setLocalDescription gathers first, so the SDP holds the candidates.
  const offer = await a.createOffer();
  await a.setLocalDescription(offer);
  await b.setRemoteDescription(a.localDescription!);
  const answer = await b.createAnswer();
  await b.setLocalDescription(answer);
  await a.setRemoteDescription(b.localDescription!);
  result.localCandidateTypes = { a: localTypes(a), b: localTypes(b) };

  const dcB = await dcBPromise;
  dcB.onMessage.subscribe((data) => {
    result.aToB.push(data.toString());
    if (allReceived()) finish();
  });
  await Promise.all([waitOpen(dcA), waitOpen(dcB)]);
  result.openMs = Date.now() - started;
  for (let i = 0; i < n; i++) {
    dcA.send(`a->b ${i}`);
    dcB.send(`b->a ${i}`);
  }
  await finished;
  result.doneMs = Date.now() - started;
  result.selected = { a: await selectedPair(a), b: await selectedPair(b) };
  clearTimeout(watchdog);
  result.ok = true;
  // close() lets werift send Refresh(LIFETIME 0); give it a moment, then exit regardless.
  await Promise.race([Promise.all([a.close(), b.close()]), new Promise((r) => setTimeout(r, 1500))]);
  emit(result);
}

main().catch((e: unknown) => {
  emit({
    ok: false,
    error: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e),
    aToB: [],
    bToA: [],
    localCandidateTypes: { a: [], b: [] },
    selected: { a: { via: 'none' }, b: { via: 'none' } },
    states: { a: '?', b: '?' },
  });
});
