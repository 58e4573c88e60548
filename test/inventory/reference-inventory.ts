/**
 * The object-per-token inventory as it was before it was packed (src/inventory/token-inventory.ts):
 * the reference the packed one must agree with, record for record. Test code only.
 *
 * The token inventory: every token seen, its issuer, owner, scopes, lifetime, first and last
 * use, services and networks, revocation. Bounded (max tokens, least recently seen evicted);
 * records changed since the last drain are handed to sinks (ReplacingMergeTree keyed by fp).
 */
import type { TokenEvent } from '../../schemas/token-event.js';
import type { InventoryRecord } from '../../src/inventory/inventory-record.js';
import { KeyedStore } from '../../src/core/keyed-store.js';
import type { InventoryOptions } from '../../src/inventory/token-inventory.js';

/**
 * `arr` with `v` appended, as a new exactly-sized array (`arr` itself when there is nothing to
 * add). Values are added rarely, records live long, and an array grown by push() reserves room
 * for 16 more elements: across five such sets per token that was most of a record's heap.
 */
function addBounded<T>(arr: T[], v: T | undefined, max: number): T[] {
  if (v === undefined || arr.length >= max || arr.includes(v)) return arr;
  const out = new Array<T>(arr.length + 1);
  for (let i = 0; i < arr.length; i++) out[i] = arr[i]!;
  out[arr.length] = v;
  return out;
}

export class ReferenceInventory {
  /** By fp, least recently seen evicted first; no idle TTL (a token stays until pushed out). */
  private readonly records: KeyedStore<InventoryRecord>;
  private readonly dirty = new Set<string>();

  constructor(private readonly opts: InventoryOptions) {
    this.records = new KeyedStore(opts.maxTokens, Infinity);
  }

  get size(): number {
    return this.records.size;
  }

  get evicted(): number {
    return this.records.evicted;
  }

  get(fp: string): InventoryRecord | undefined {
    return this.records.get(fp);
  }

  observe(e: TokenEvent): void {
    const fp = e.token.fp;
    const r = this.records.touch(fp, e.time, () => ({
      token_fp: fp, kind: e.token.kind, scopes: [], audience: [], first_seen: e.time, last_seen: e.time, use_count: 0, services: [], networks: [], platforms: [], version: e.time,
    }));
    this.dirty.add(fp);
    const max = this.opts.maxSetSize;
    if (r.kind === 'unknown' && e.token.kind !== 'unknown') r.kind = e.token.kind;
    r.issuer ??= e.issuer;
    r.subject ??= e.subject;
    r.authority ??= e.authority;
    r.first_seen = Math.min(r.first_seen, e.time);
    r.last_seen = Math.max(r.last_seen, e.time);
    r.version = Math.max(r.version, e.time);
    r.platforms = addBounded(r.platforms, e.platform, max);
    for (const s of e.scopes_granted ?? e.scopes_used ?? []) r.scopes = addBounded(r.scopes, s, max * 4);
    for (const a of e.audience ?? []) r.audience = addBounded(r.audience, a, max);
    if (e.expires_at !== undefined) r.expires_at = e.expires_at;
    switch (e.action) {
      case 'mint':
        r.minted_at ??= e.time;
        r.minted_by ??= e.minted_by;
        break;
      case 'use':
        r.use_count++;
        r.first_use = r.first_use === undefined ? e.time : Math.min(r.first_use, e.time);
        r.last_use = r.last_use === undefined ? e.time : Math.max(r.last_use, e.time);
        r.services = addBounded(r.services, e.service, max);
        r.networks = addBounded(r.networks, e.network?.ip ?? e.network?.label, max);
        break;
      case 'revoke':
        r.revoked_at = r.revoked_at === undefined ? e.time : Math.min(r.revoked_at, e.time);
        break;
      case 'reuse_signal':
        break;
    }
    if (r.minted_at !== undefined && r.expires_at !== undefined) r.lifetime_ms = r.expires_at - r.minted_at;
  }

  /** Records changed since the last call (copies, safe to hand to an async sink). */
  drainDirty(): InventoryRecord[] {
    const out: InventoryRecord[] = [];
    for (const fp of this.dirty) {
      const r = this.records.get(fp); // undefined when evicted since
      if (r) out.push({ ...r, scopes: [...r.scopes], audience: [...r.audience], services: [...r.services], networks: [...r.networks], platforms: [...r.platforms] });
    }
    this.dirty.clear();
    return out;
  }

  get dirtyCount(): number {
    return this.dirty.size;
  }
}
