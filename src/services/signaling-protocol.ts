/**
 * The signaling protocol of the conferencing page (`/signal`, JSON over WebSocket), pure: message
 * validation, rooms and a per-socket rate limiter. No I/O, no clock of its own (time comes in).
 *
 * Client → server: `{type:'join', room}`, `{type:'leave'}`, `{type:'offer'|'answer', to, sdp}`,
 * `{type:'candidate', to, candidate}` (candidate null = end of candidates), `{type:'renew'}` (a fresh
 * credential before the current one expires).
 * Server → client: `welcome` (own id, peers already in the room, iceServers), `peer-joined`,
 * `peer-left`, relayed `offer`/`answer`/`candidate` with `from`, `ice-servers` (answer to renew),
 * and `error` with a code.
 */

/** Room names: short, and nothing odd in logs or URLs. */
export const ROOM_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** Peer ids the server assigns (hex). */
const PEER_ID = /^[0-9a-f]{1,32}$/;
/** Limits of one message's fields (the whole message is also capped by the WebSocket's maxPayload). */
const MAX_SDP = 12_000;
const MAX_CANDIDATE = 1_024;

export interface CandidateInit {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
}

export type ClientMessage =
  | { type: 'join'; room: string }
  | { type: 'leave' }
  | { type: 'renew' }
  | { type: 'offer' | 'answer'; to: string; sdp: string }
  | { type: 'candidate'; to: string; candidate: CandidateInit | null };

export type ErrorCode = 'bad-message' | 'rate-limited' | 'room-full' | 'not-in-room' | 'already-in-room' | 'unknown-peer' | 'unavailable';

export interface IceServerJson {
  urls: string[];
  username?: string;
  credential?: string;
}

export type ServerMessage =
  | { type: 'welcome'; id: string; room: string; peers: string[]; maxPeers: number; iceServers: IceServerJson[]; ttl: number }
  | { type: 'peer-joined'; id: string }
  | { type: 'peer-left'; id: string }
  | { type: 'offer' | 'answer'; from: string; sdp: string }
  | { type: 'candidate'; from: string; candidate: CandidateInit | null }
  | { type: 'left'; room: string }
  | { type: 'ice-servers'; iceServers: IceServerJson[]; ttl: number }
  | { type: 'error'; code: ErrorCode; message: string };

export type ParseResult = { ok: true; message: ClientMessage } | { ok: false; error: string };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(o: Record<string, unknown>, allowed: readonly string[]): string | undefined {
  return Object.keys(o).find((k) => !allowed.includes(k));
}

function optionalNullableString(v: unknown, max: number): boolean {
  return v === undefined || v === null || (typeof v === 'string' && v.length <= max);
}

function parseCandidate(v: unknown): CandidateInit | null | string {
  if (v === null) return null;
  if (!isObject(v)) return 'candidate: an object or null';
  const extra = onlyKeys(v, ['candidate', 'sdpMid', 'sdpMLineIndex', 'usernameFragment']);
  if (extra) return `candidate: unknown field "${extra}"`;
  if (typeof v.candidate !== 'string' || v.candidate.length > MAX_CANDIDATE) return `candidate.candidate: a string of at most ${MAX_CANDIDATE} characters`;
  if (!optionalNullableString(v.sdpMid, 64)) return 'candidate.sdpMid: a short string or null';
  if (!optionalNullableString(v.usernameFragment, 256)) return 'candidate.usernameFragment: a short string or null';
  const idx = v.sdpMLineIndex;
  if (!(idx === undefined || idx === null || (Number.isInteger(idx) && (idx as number) >= 0 && (idx as number) < 64))) {
    return 'candidate.sdpMLineIndex: an integer 0-63 or null';
  }
  const out: CandidateInit = { candidate: v.candidate };
  if (v.sdpMid !== undefined) out.sdpMid = v.sdpMid as string | null;
  if (idx !== undefined) out.sdpMLineIndex = idx as number | null;
  if (v.usernameFragment !== undefined) out.usernameFragment = v.usernameFragment as string | null;
  return out;
}

/** Validates one text frame against the protocol; unknown fields are refused (the shape is closed). */
export function parseClientMessage(text: string): ParseResult {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  if (!isObject(v)) return { ok: false, error: 'a JSON object is expected' };
  switch (v.type) {
    case 'join': {
      const extra = onlyKeys(v, ['type', 'room']);
      if (extra) return { ok: false, error: `join: unknown field "${extra}"` };
      if (typeof v.room !== 'string' || !ROOM_NAME.test(v.room)) return { ok: false, error: 'join.room: 1-64 characters from A-Z a-z 0-9 _ . -' };
      return { ok: true, message: { type: 'join', room: v.room } };
    }
    case 'leave':
    case 'renew': {
      const extra = onlyKeys(v, ['type']);
      if (extra) return { ok: false, error: `${v.type}: unknown field "${extra}"` };
      return { ok: true, message: { type: v.type } };
    }
    case 'offer':
    case 'answer': {
      const extra = onlyKeys(v, ['type', 'to', 'sdp']);
      if (extra) return { ok: false, error: `${v.type}: unknown field "${extra}"` };
      if (typeof v.to !== 'string' || !PEER_ID.test(v.to)) return { ok: false, error: `${v.type}.to: a peer id` };
      if (typeof v.sdp !== 'string' || v.sdp.length === 0 || v.sdp.length > MAX_SDP) return { ok: false, error: `${v.type}.sdp: a string of 1-${MAX_SDP} characters` };
      return { ok: true, message: { type: v.type, to: v.to, sdp: v.sdp } };
    }
    case 'candidate': {
      const extra = onlyKeys(v, ['type', 'to', 'candidate']);
      if (extra) return { ok: false, error: `candidate: unknown field "${extra}"` };
      if (typeof v.to !== 'string' || !PEER_ID.test(v.to)) return { ok: false, error: 'candidate.to: a peer id' };
      if (!('candidate' in v)) return { ok: false, error: 'candidate.candidate: required (null ends candidates)' };
      const c = parseCandidate(v.candidate);
      if (typeof c === 'string') return { ok: false, error: c };
      return { ok: true, message: { type: 'candidate', to: v.to, candidate: c } };
    }
    default:
      return { ok: false, error: 'type: one of join, leave, renew, offer, answer, candidate' };
  }
}

/** Who is in which room; a peer is in at most one room. */
export class Rooms {
  readonly #rooms = new Map<string, Set<string>>();
  readonly #roomOf = new Map<string, string>();
  constructor(readonly maxPeers: number) {}

  /** Adds a peer; returns the peers already there, or an error code. */
  join(peer: string, room: string): { ok: true; others: string[] } | { ok: false; code: 'room-full' | 'already-in-room' } {
    if (this.#roomOf.has(peer)) return { ok: false, code: 'already-in-room' };
    const members = this.#rooms.get(room) ?? new Set<string>();
    if (members.size >= this.maxPeers) return { ok: false, code: 'room-full' };
    const others = [...members];
    members.add(peer);
    this.#rooms.set(room, members);
    this.#roomOf.set(peer, room);
    return { ok: true, others };
  }

  /** Removes a peer; returns its room and the peers left there (to tell), or undefined if it was in none. */
  leave(peer: string): { room: string; others: string[] } | undefined {
    const room = this.#roomOf.get(peer);
    if (room === undefined) return undefined;
    this.#roomOf.delete(peer);
    const members = this.#rooms.get(room)!;
    members.delete(peer);
    if (members.size === 0) this.#rooms.delete(room);
    return { room, others: [...members] };
  }

  roomOf(peer: string): string | undefined {
    return this.#roomOf.get(peer);
  }

  /** Whether two peers share a room (relay is allowed only then). */
  together(a: string, b: string): boolean {
    const r = this.#roomOf.get(a);
    return r !== undefined && a !== b && this.#roomOf.get(b) === r;
  }

  get size(): number {
    return this.#rooms.size;
  }
}

/** A token bucket: `burst` messages at once, refilled at `perSecond`. */
export class RateLimiter {
  #tokens: number;
  #last: number;
  constructor(
    readonly burst: number,
    readonly perSecond: number,
    now: number,
  ) {
    this.#tokens = burst;
    this.#last = now;
  }

  /** Takes a token if there is one. */
  take(now: number): boolean {
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.perSecond);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
