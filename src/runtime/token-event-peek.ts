/**
 * Repartition records checked now, decoded later: a detection task peeks at each record of a
 * frame — the same checks as decodeRecord (token-event-codec.ts), the same errors — and keeps the
 * event as its bytes until the engine releases it (src/pipeline/deferred-event.ts says why).
 */
import { PLATFORMS, SOURCE_FORMATS, TOKEN_ACTIONS, TOKEN_KINDS, WORKLOAD_KINDS, type TokenEvent } from '../../schemas/token-event.js';
import type { DeferredEvent } from '../pipeline/deferred-event.js';
import {
  KIND_EVENT, MASK, MASK_KNOWN, NET, NET_KNOWN, NETWORK_SCOPES, OUTCOMES, TAG_LATE, TAG_PARENT, decodeRecordAt, readEventSource, readRecordTag,
} from './token-event-codec.js';
import {
  atEnd, codecError, readByte, readEnum, readNumber, readPosition, readString, readVarint, skipBytes, skipNumber, skipString, skipStrings,
} from './token-event-codec-io.js';

/**
 * A repartition record checked whole but decoded only as far as a detection task needs before
 * the event's release (its id, time, order, source and route): the event stays bytes in its
 * frame until `decode()` (deferred-event.ts says why).
 */
export type PeekedRecord =
  | { kind: 'event'; event: EncodedTokenEvent; route: 'token' | 'parent'; source: string; order: number }
  | { kind: 'watermark'; source: string; watermark: number; idle: boolean };

/** A token event as its bytes in a frame: decoded on every `decode()` (not cached: held entries stay small). */
export class EncodedTokenEvent implements DeferredEvent {
  constructor(
    readonly event_id: string,
    readonly time: number,
    private readonly frame: Buffer,
    private readonly start: number,
    private readonly end: number,
  ) {}

  decode(): TokenEvent {
    const r = decodeRecordAt(this.frame, this.start, this.end);
    if (r.kind !== 'event') throw codecError('a deferred event decoded as a watermark'); // peekRecord checked the kind
    return r.event;
  }
}

/**
 * Check the record at `start`..`end` of `frame` as decodeRecord does (the same errors) and return
 * it with its event deferred. `frame` must not change while the event is held.
 */
export function peekRecord(frame: Buffer, start: number, end: number): PeekedRecord {
  const tag = readRecordTag(frame, start, end);
  const kind = tag & 3;
  let r: PeekedRecord;
  if (kind === KIND_EVENT) {
    const source = readEventSource(tag);
    const { id, time } = skimEvent();
    const order = tag & TAG_LATE ? readNumber() : time;
    r = { kind: 'event', event: new EncodedTokenEvent(id, time, frame, start, end), route: tag & TAG_PARENT ? 'parent' : 'token', source, order };
  } else {
    return decodeRecordAt(frame, start, end) as PeekedRecord; // a watermark (or garbage: its error)
  }
  if (!atEnd()) throw codecError(`trailing bytes after byte ${readPosition()}`);
  return r;
}

const skimmed = { id: '', time: 0 };

/** readEvent's walk without building the event: its id and time, every other field checked and skipped. */
function skimEvent(): { id: string; time: number } {
  const m = readByte() | (readByte() << 8) | (readByte() << 16);
  if ((m & ~MASK_KNOWN) !== 0 || (m & (MASK.one_time | MASK.one_time_true)) === MASK.one_time_true) throw codecError(`unknown presence bits 0x${m.toString(16)}`);
  const id = readString();
  readEnum(SOURCE_FORMATS, 'source');
  readEnum(PLATFORMS, 'platform');
  readEnum(TOKEN_ACTIONS, 'action');
  const time = readNumber();
  skipBytes(16);
  readEnum(TOKEN_KINDS, 'token kind');
  if (m & MASK.hint) skipString();
  if (m & MASK.parent_fp) skipBytes(16);
  for (const f of SKIMMED_STRINGS) if (m & f) skipString();
  if (m & MASK.audience) skipStrings();
  if (m & MASK.service) skipString();
  if (m & MASK.scopes_requested) skipStrings();
  if (m & MASK.scopes_granted) skipStrings();
  if (m & MASK.scopes_used) skipStrings();
  if (m & MASK.issued_at) skipNumber();
  if (m & MASK.expires_at) skipNumber();
  if (m & MASK.network) skimNetwork();
  if (m & MASK.user_agent) skipString();
  if (m & MASK.workload) {
    readEnum(WORKLOAD_KINDS, 'workload kind');
    skipString();
  }
  if (m & MASK.outcome) readEnum(OUTCOMES, 'outcome');
  if (m & MASK.operation) skipString();
  if (m & MASK.signal) skipString();
  if (m & MASK.envelope) skipString();
  skimmed.id = id;
  skimmed.time = time;
  return skimmed;
}

/** issuer, minted_by, authority, subject: read in this order between parent_fp and audience. */
const SKIMMED_STRINGS = [MASK.issuer, MASK.minted_by, MASK.authority, MASK.subject] as const;

function skimNetwork(): void {
  const m = readVarint();
  if (m > NET_KNOWN) throw codecError(`unknown network presence bits 0x${m.toString(16)}`);
  if (m & NET.ip) skipString();
  if (m & NET.asn) skipString();
  if (m & NET.label) skipString();
  if (m & NET.scope) readEnum(NETWORK_SCOPES, 'network scope');
  for (const f of NET_SKIMMED_STRINGS) if (m & f) skipString();
}

/** as_org … cloud_service: read in this order after scope. */
const NET_SKIMMED_STRINGS = [NET.as_org, NET.country, NET.cloud_provider, NET.cloud_region, NET.cloud_service] as const;
