/**
 * The binary encoding of the Kafka runtime's repartition records: a token event on its way from
 * stage 1 (./repartition-stage.ts) to stage 2 (./kafka-runner.ts), or a source watermark.
 * The repartition topics are ours, so decoding trusts the layout (no JSON, no zod) but stays
 * safe on garbage: bounds-checked reads, a closed set of tags, enums and presence bits, no
 * trailing bytes. Any failure is a TokenwatchError('invalid_token_event').
 *
 * Layout (integers are unsigned LEB128 varints unless said otherwise):
 *
 *   record    = version:u8 tag:u8 source:string (event | watermark)
 *   tag       = kind (bits 0-1: 0 event, 1 watermark) | 4 route=parent | 8 late (an order time
 *               follows the event) | 16 idle
 *               | 32 wide (every string of the record is UTF-16LE: one was not well-formed Unicode)
 *   watermark = float64 LE (may be -Infinity)
 *   order     = number: where a late event sorts (reorder-buffer.ts); absent: its time
 *   event     = mask:u24 LE (MASK below) event_id:string source:u8 platform:u8 action:u8 time:number
 *               token.fp:16 bytes token.kind:u8 [token.hint] [parent_fp:16 bytes] [issuer]
 *               [minted_by] [authority] [subject] [audience:strings] [service]
 *               [scopes_requested:strings] [scopes_granted:strings] [scopes_used:strings]
 *               [issued_at:number] [expires_at:number] [network] [user_agent]
 *               [workload: kind:u8 id:string] [outcome:u8] [operation] [signal] [envelope]
 *   network   = mask:varint (NET below), then its present fields in schema order; scope:u8
 *   string    = byte length, UTF-8 bytes          strings = count, string…
 *   number    = varint of v + 1 for a non-negative safe integer, else 0 then float64 LE
 *   fp        = the 16 bytes of `tw1:<32 hex>`
 *
 * Enums are one byte: the index into the value arrays of schemas/token-event.ts. Appending a
 * value keeps old records readable; reordering or removing one changes the meaning of stored
 * bytes and needs a CODEC_VERSION bump (as does any change of this layout). The repartition
 * topics are transient: a bump only needs stage 1 and 2 of one deployment to agree.
 *
 * A decoded event has exactly the fields the encoded one had (a key holding `undefined` counts
 * as absent, as in JSON), in the schema's key order. Decoding checks structure, not the
 * schema's value bounds (string lengths, time range): stage 1 validated those.
 */
import {
  PLATFORMS, SOURCE_FORMATS, TOKEN_ACTIONS, TOKEN_KINDS, TokenEvent, WORKLOAD_KINDS,
  type Platform, type SourceFormat, type TokenAction, type TokenKind, type WorkloadKind,
} from '../../schemas/token-event.js';
import {
  atEnd, beginRead, beginWrite, codecError, finishWrite, readByte, readEnum, readFingerprint, readFloat64, readInterned, readInternedStrings, readNumber,
  readPosition, readString, readVarint, sawIllFormed, setReadWide, writeByte, writeFingerprint, writeFloat64,
  writeNumber, writeString, writeStrings, writeVarint,
} from './token-event-codec-io.js';

/** Bumped on any change of the layout above, or a reorder of an enum's values. */
export const CODEC_VERSION = 2;

export type RepartitionRecord =
  /** `order`: where the event sorts at the task — its time, or just past its source's watermark when it was late there. */
  | { kind: 'event'; event: TokenEvent; route: 'token' | 'parent'; source: string; order: number }
  | { kind: 'watermark'; source: string; watermark: number; idle: boolean };

type NetworkScope = NonNullable<NonNullable<TokenEvent['network']>['scope']>;
type Outcome = NonNullable<TokenEvent['outcome']>;
// read from the schema itself (they have no exported arrays): same order, one source of truth
export const NETWORK_SCOPES: readonly NetworkScope[] = TokenEvent.shape.network.unwrap().shape.scope.unwrap().options;
export const OUTCOMES: readonly Outcome[] = TokenEvent.shape.outcome.unwrap().options;

const indexOf = (values: readonly string[]): ReadonlyMap<string, number> => new Map(values.map((v, i) => [v, i]));
const SOURCE_INDEX = indexOf(SOURCE_FORMATS);
const PLATFORM_INDEX = indexOf(PLATFORMS);
const ACTION_INDEX = indexOf(TOKEN_ACTIONS);
const TOKEN_KIND_INDEX = indexOf(TOKEN_KINDS);
const WORKLOAD_KIND_INDEX = indexOf(WORKLOAD_KINDS);
const SCOPE_INDEX = indexOf(NETWORK_SCOPES);
const OUTCOME_INDEX = indexOf(OUTCOMES);

function writeEnum(index: ReadonlyMap<string, number>, value: string, what: string): void {
  const i = index.get(value);
  if (i === undefined) throw codecError(`unknown ${what} "${String(value).slice(0, 40)}"`);
  writeByte(i);
}

export const KIND_EVENT = 0;
const KIND_WATERMARK = 1;
export const TAG_PARENT = 4;
export const TAG_LATE = 8;
const TAG_IDLE = 16;
const TAG_WIDE = 32;

/** Presence bits of the optional fields of an event (3 bytes). */
export const MASK = {
  hint: 1 << 0,
  one_time: 1 << 1,
  one_time_true: 1 << 2,
  parent_fp: 1 << 3,
  issuer: 1 << 4,
  minted_by: 1 << 5,
  authority: 1 << 6,
  subject: 1 << 7,
  audience: 1 << 8,
  service: 1 << 9,
  scopes_requested: 1 << 10,
  scopes_granted: 1 << 11,
  scopes_used: 1 << 12,
  issued_at: 1 << 13,
  expires_at: 1 << 14,
  network: 1 << 15,
  user_agent: 1 << 16,
  workload: 1 << 17,
  outcome: 1 << 18,
  operation: 1 << 19,
  signal: 1 << 20,
  envelope: 1 << 21,
} as const;
export const MASK_KNOWN = (1 << 22) - 1;

/** Presence bits of `network`'s fields. */
export const NET = {
  ip: 1 << 0,
  asn: 1 << 1,
  label: 1 << 2,
  scope: 1 << 3,
  as_org: 1 << 4,
  country: 1 << 5,
  cloud_provider: 1 << 6,
  cloud_region: 1 << 7,
  cloud_service: 1 << 8,
} as const;
export const NET_KNOWN = (1 << 9) - 1;

// ---------------------------------------------------------------- encode

export function encodeRecord(r: RepartitionRecord): Buffer {
  beginWrite(false);
  writeRecord(r, 0);
  if (sawIllFormed()) {
    beginWrite(true);
    writeRecord(r, TAG_WIDE);
  }
  return finishWrite();
}

function writeRecord(r: RepartitionRecord, wide: number): void {
  writeByte(CODEC_VERSION);
  if (r.kind === 'event') {
    const late = r.order !== r.event.time;
    writeByte(KIND_EVENT | (r.route === 'parent' ? TAG_PARENT : 0) | (late ? TAG_LATE : 0) | wide);
    writeString(r.source);
    writeEvent(r.event);
    if (late) writeNumber(r.order);
  } else if (r.kind === 'watermark') {
    writeByte(KIND_WATERMARK | (r.idle ? TAG_IDLE : 0) | wide);
    writeString(r.source);
    writeFloat64(r.watermark);
  } else {
    throw codecError(`unknown record kind "${String((r as { kind: unknown }).kind)}"`);
  }
}

function eventMask(e: TokenEvent): number {
  const t = e.token;
  let m = 0;
  if (t.hint !== undefined) m |= MASK.hint;
  if (t.one_time !== undefined) m |= t.one_time ? MASK.one_time | MASK.one_time_true : MASK.one_time;
  if (e.parent_fp !== undefined) m |= MASK.parent_fp;
  if (e.issuer !== undefined) m |= MASK.issuer;
  if (e.minted_by !== undefined) m |= MASK.minted_by;
  if (e.authority !== undefined) m |= MASK.authority;
  if (e.subject !== undefined) m |= MASK.subject;
  if (e.audience !== undefined) m |= MASK.audience;
  if (e.service !== undefined) m |= MASK.service;
  if (e.scopes_requested !== undefined) m |= MASK.scopes_requested;
  if (e.scopes_granted !== undefined) m |= MASK.scopes_granted;
  if (e.scopes_used !== undefined) m |= MASK.scopes_used;
  if (e.issued_at !== undefined) m |= MASK.issued_at;
  if (e.expires_at !== undefined) m |= MASK.expires_at;
  if (e.network !== undefined) m |= MASK.network;
  if (e.user_agent !== undefined) m |= MASK.user_agent;
  if (e.workload !== undefined) m |= MASK.workload;
  if (e.outcome !== undefined) m |= MASK.outcome;
  if (e.operation !== undefined) m |= MASK.operation;
  if (e.signal !== undefined) m |= MASK.signal;
  if (e.envelope !== undefined) m |= MASK.envelope;
  return m;
}

function writeEvent(e: TokenEvent): void {
  const m = eventMask(e);
  writeByte(m & 0xff);
  writeByte((m >>> 8) & 0xff);
  writeByte(m >>> 16);
  writeString(e.event_id);
  writeEnum(SOURCE_INDEX, e.source, 'source');
  writeEnum(PLATFORM_INDEX, e.platform, 'platform');
  writeEnum(ACTION_INDEX, e.action, 'action');
  writeNumber(e.time);
  writeFingerprint(e.token.fp);
  writeEnum(TOKEN_KIND_INDEX, e.token.kind, 'token kind');
  if (m & MASK.hint) writeString(e.token.hint!);
  if (m & MASK.parent_fp) writeFingerprint(e.parent_fp!);
  if (m & MASK.issuer) writeString(e.issuer!);
  if (m & MASK.minted_by) writeString(e.minted_by!);
  if (m & MASK.authority) writeString(e.authority!);
  if (m & MASK.subject) writeString(e.subject!);
  if (m & MASK.audience) writeStrings(e.audience!);
  if (m & MASK.service) writeString(e.service!);
  if (m & MASK.scopes_requested) writeStrings(e.scopes_requested!);
  if (m & MASK.scopes_granted) writeStrings(e.scopes_granted!);
  if (m & MASK.scopes_used) writeStrings(e.scopes_used!);
  if (m & MASK.issued_at) writeNumber(e.issued_at!);
  if (m & MASK.expires_at) writeNumber(e.expires_at!);
  if (m & MASK.network) writeNetwork(e.network!);
  if (m & MASK.user_agent) writeString(e.user_agent!);
  if (m & MASK.workload) {
    writeEnum(WORKLOAD_KIND_INDEX, e.workload!.kind, 'workload kind');
    writeString(e.workload!.id);
  }
  if (m & MASK.outcome) writeEnum(OUTCOME_INDEX, e.outcome!, 'outcome');
  if (m & MASK.operation) writeString(e.operation!);
  if (m & MASK.signal) writeString(e.signal!);
  if (m & MASK.envelope) writeString(e.envelope!);
}

function writeNetwork(n: NonNullable<TokenEvent['network']>): void {
  let m = 0;
  if (n.ip !== undefined) m |= NET.ip;
  if (n.asn !== undefined) m |= NET.asn;
  if (n.label !== undefined) m |= NET.label;
  if (n.scope !== undefined) m |= NET.scope;
  if (n.as_org !== undefined) m |= NET.as_org;
  if (n.country !== undefined) m |= NET.country;
  if (n.cloud_provider !== undefined) m |= NET.cloud_provider;
  if (n.cloud_region !== undefined) m |= NET.cloud_region;
  if (n.cloud_service !== undefined) m |= NET.cloud_service;
  writeVarint(m);
  if (m & NET.ip) writeString(n.ip!);
  if (m & NET.asn) writeString(n.asn!);
  if (m & NET.label) writeString(n.label!);
  if (m & NET.scope) writeEnum(SCOPE_INDEX, n.scope!, 'network scope');
  if (m & NET.as_org) writeString(n.as_org!);
  if (m & NET.country) writeString(n.country!);
  if (m & NET.cloud_provider) writeString(n.cloud_provider!);
  if (m & NET.cloud_region) writeString(n.cloud_region!);
  if (m & NET.cloud_service) writeString(n.cloud_service!);
}

// ---------------------------------------------------------------- decode

export function decodeRecord(buf: Buffer): RepartitionRecord {
  return decodeRecordAt(buf, 0, buf.length);
}

/** Start reading the record at `start`..`end` of `buf`: its version checked, its tag returned. */
export function readRecordTag(buf: Buffer, start: number, end: number): number {
  beginRead(buf, start, end);
  const version = readByte();
  if (version !== CODEC_VERSION) throw codecError(`unknown codec version ${version} (this build reads ${CODEC_VERSION})`);
  return readByte();
}

/** An event record's tag bits checked and its strings' width set; returns its source. */
export function readEventSource(tag: number): string {
  if ((tag & ~(3 | TAG_PARENT | TAG_LATE | TAG_WIDE)) !== 0) throw codecError(`unknown event tag bits 0x${tag.toString(16)}`);
  setReadWide((tag & TAG_WIDE) !== 0);
  return readInterned();
}

/** The record at `start`..`end` of `buf` (inside a frame). */
export function decodeRecordAt(buf: Buffer, start: number, end: number): RepartitionRecord {
  const tag = readRecordTag(buf, start, end);
  const kind = tag & 3;
  let r: RepartitionRecord;
  if (kind === KIND_EVENT) {
    const source = readEventSource(tag);
    const event = readEvent();
    const order = tag & TAG_LATE ? readNumber() : event.time;
    r = { kind: 'event', event, route: tag & TAG_PARENT ? 'parent' : 'token', source, order };
  } else if (kind === KIND_WATERMARK) {
    if ((tag & ~(3 | TAG_IDLE | TAG_WIDE)) !== 0) throw codecError(`unknown watermark tag bits 0x${tag.toString(16)}`);
    setReadWide((tag & TAG_WIDE) !== 0);
    const source = readInterned();
    r = { kind: 'watermark', source, watermark: readFloat64(), idle: (tag & TAG_IDLE) !== 0 };
  } else {
    throw codecError(`unknown record kind ${kind}`);
  }
  if (!atEnd()) throw codecError(`trailing bytes after byte ${readPosition()}`);
  return r;
}

function readEvent(): TokenEvent {
  const m = readByte() | (readByte() << 8) | (readByte() << 16);
  if ((m & ~MASK_KNOWN) !== 0 || (m & (MASK.one_time | MASK.one_time_true)) === MASK.one_time_true) throw codecError(`unknown presence bits 0x${m.toString(16)}`);
  const event_id = readString();
  const source = readEnum<SourceFormat>(SOURCE_FORMATS, 'source');
  const platform = readEnum<Platform>(PLATFORMS, 'platform');
  const action = readEnum<TokenAction>(TOKEN_ACTIONS, 'action');
  const time = readNumber();
  const fp = readFingerprint();
  const token: TokenEvent['token'] = { fp, kind: readEnum<TokenKind>(TOKEN_KINDS, 'token kind') };
  if (m & MASK.hint) token.hint = readString();
  if (m & MASK.one_time) token.one_time = (m & MASK.one_time_true) !== 0;
  // schema key order, the order TokenEvent.parse gives
  const e: TokenEvent = { event_id, source, platform, action, time, token };
  if (m & MASK.parent_fp) e.parent_fp = readFingerprint();
  if (m & MASK.issuer) e.issuer = readInterned();
  if (m & MASK.minted_by) e.minted_by = readInterned();
  if (m & MASK.authority) e.authority = readInterned();
  if (m & MASK.subject) e.subject = readInterned();
  if (m & MASK.audience) e.audience = readInternedStrings();
  if (m & MASK.service) e.service = readInterned();
  if (m & MASK.scopes_requested) e.scopes_requested = readInternedStrings();
  if (m & MASK.scopes_granted) e.scopes_granted = readInternedStrings();
  if (m & MASK.scopes_used) e.scopes_used = readInternedStrings();
  if (m & MASK.issued_at) e.issued_at = readNumber();
  if (m & MASK.expires_at) e.expires_at = readNumber();
  if (m & MASK.network) e.network = readNetwork();
  if (m & MASK.user_agent) e.user_agent = readInterned();
  if (m & MASK.workload) {
    const kind = readEnum<WorkloadKind>(WORKLOAD_KINDS, 'workload kind');
    e.workload = { kind, id: readInterned() };
  }
  if (m & MASK.outcome) e.outcome = readEnum(OUTCOMES, 'outcome');
  if (m & MASK.operation) e.operation = readInterned();
  if (m & MASK.signal) e.signal = readInterned();
  if (m & MASK.envelope) e.envelope = readInterned();
  return e;
}

function readNetwork(): NonNullable<TokenEvent['network']> {
  const m = readVarint();
  if (m > NET_KNOWN) throw codecError(`unknown network presence bits 0x${m.toString(16)}`);
  const n: NonNullable<TokenEvent['network']> = {};
  if (m & NET.ip) n.ip = readInterned();
  if (m & NET.asn) n.asn = readInterned();
  if (m & NET.label) n.label = readInterned();
  if (m & NET.scope) n.scope = readEnum(NETWORK_SCOPES, 'network scope');
  if (m & NET.as_org) n.as_org = readInterned();
  if (m & NET.country) n.country = readInterned();
  if (m & NET.cloud_provider) n.cloud_provider = readInterned();
  if (m & NET.cloud_region) n.cloud_region = readInterned();
  if (m & NET.cloud_service) n.cloud_service = readInterned();
  return n;
}
