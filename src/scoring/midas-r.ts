/**
 * MIDAS-R: streaming microcluster (burst) scoring of edges in a dynamic graph, after Bhatia,
 * Hooi, Yoon, Shin, Faloutsos, "MIDAS: Microcluster-Based Detector of Anomalies in Edge
 * Streams" (AAAI 2020), relational variant.
 *
 * Three pairs of count-min sketches (CMS) — for the edge (src, dst), the source and the
 * destination — each hold a *current* count that decays by `factor` per elapsed tick and a
 * *total* count since the start. For an item with current count a and total s at tick t, the
 * chi-squared statistic of "current tick vs. the mean of all ticks" is
 *
 *     X² = ((a − s/t) · t)² / (s · (t − 1))       (0 when s = 0 or t ≤ 1)
 *
 * and the edge's raw score is the maximum of the three. The state is fixed by the options
 * (6 · rows · buckets float64 cells), whatever the number of distinct edges: constant memory.
 * Hashes are seeded, so the same input and seed always give the same scores.
 *
 * One deliberate difference from the reference implementation: decay is applied once per
 * *elapsed* tick (factor^gap), not once per new timestamp; they agree when ticks are consecutive.
 * A row whose tick is earlier than the current one is counted at the current tick (the
 * sketches cannot go back in time).
 */

export interface MidasROptions {
  /** Hash functions (rows) per count-min sketch. */
  rows?: number;
  /** Buckets per row. */
  buckets?: number;
  /** Decay of the current counts per elapsed tick, in [0, 1). MIDAS-R's default is 0.5. */
  factor?: number;
  /** Seed of the hash functions. */
  seed?: number;
}

export type ResolvedMidasROptions = Required<MidasROptions>;

export const DEFAULT_MIDAS_R_OPTIONS: ResolvedMidasROptions = { rows: 2, buckets: 1024, factor: 0.5, seed: 7 };

/** JSON-serializable state: the six sketches as one base64 float64 buffer. */
export interface MidasRState {
  v: 1;
  rows: number;
  buckets: number;
  factor: number;
  seed: number;
  /** Current tick; 0 before the first row. */
  tick: number;
  cells: string;
}

/** Per-item raw statistics of the last scored edge (no allocation: the fields are reused). */
export interface MidasRParts {
  edge: number;
  source: number;
  destination: number;
}

// Cell blocks of the one Float64Array: [edge cur, edge tot, src cur, src tot, dst cur, dst tot].
const EDGE_CUR = 0;
const EDGE_TOT = 1;
const SRC_CUR = 2;
const SRC_TOT = 3;
const DST_CUR = 4;
const DST_TOT = 5;
const BLOCKS = 6;
const CURRENT_BLOCKS = [EDGE_CUR, SRC_CUR, DST_CUR] as const;

/** 32-bit string hash (FNV-1a over UTF-16 code units, then murmur3's finalizer), seeded. */
export function hashString(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Chi-squared score of current count `a` vs total `s` at tick `t` (MIDAS's ComputeScore). */
export function chiSquaredScore(a: number, s: number, t: number): number {
  if (s <= 0 || t <= 1) return 0;
  const d = (a - s / t) * t;
  return (d * d) / (s * (t - 1));
}

/**
 * Monotone map of a raw MIDAS-R score x ≥ 0 into [0, 1): 1 − (1 + x)^(−ln 2 / ln(1 + half)).
 * 0 at x = 0, 0.5 at x = half, strictly increasing, and (a power law, not an exponential) it
 * keeps large scores apart at 6 decimals instead of saturating at 1.
 */
export function normalizeScore(x: number, half: number): number {
  if (!(x > 0)) return 0;
  const k = Math.LN2 / Math.log1p(half);
  return 1 - Math.pow(1 + x, -k);
}

function resolve(opts: MidasROptions): ResolvedMidasROptions {
  const o = { ...DEFAULT_MIDAS_R_OPTIONS };
  if (opts.rows !== undefined) o.rows = opts.rows;
  if (opts.buckets !== undefined) o.buckets = opts.buckets;
  if (opts.factor !== undefined) o.factor = opts.factor;
  if (opts.seed !== undefined) o.seed = opts.seed;
  if (!Number.isInteger(o.rows) || o.rows < 1 || o.rows > 16) throw new RangeError('rows must be an integer in [1, 16]');
  if (!Number.isInteger(o.buckets) || o.buckets < 2 || o.buckets > 1 << 22) throw new RangeError('buckets must be an integer in [2, 4194304]');
  if (!(o.factor >= 0 && o.factor < 1)) throw new RangeError('factor must be in [0, 1)');
  if (!Number.isInteger(o.seed)) throw new RangeError('seed must be an integer');
  return o;
}

export class MidasR {
  readonly options: ResolvedMidasROptions;
  /** Raw per-item statistics of the last `score()` call. */
  readonly last: MidasRParts = { edge: 0, source: 0, destination: 0 };
  private readonly cells: Float64Array;
  /** Per-row hash seeds (derived from the seed). */
  private readonly rowSeeds: Uint32Array;
  private readonly block: number;
  private tick = 0;
  /** Cell indexes of the current item in each row (reused, no per-row allocation). */
  private readonly idxEdge: Uint32Array;
  private readonly idxSrc: Uint32Array;
  private readonly idxDst: Uint32Array;

  constructor(opts: MidasROptions = {}) {
    this.options = resolve(opts);
    const { rows, buckets, seed } = this.options;
    this.block = rows * buckets;
    this.cells = new Float64Array(BLOCKS * this.block);
    this.rowSeeds = new Uint32Array(rows);
    for (let r = 0; r < rows; r++) this.rowSeeds[r] = fmix32((seed >>> 0) + Math.imul(r + 1, 0x9e3779b9));
    this.idxEdge = new Uint32Array(rows);
    this.idxSrc = new Uint32Array(rows);
    this.idxDst = new Uint32Array(rows);
  }

  /** The current tick (0 before the first edge). */
  get currentTick(): number {
    return this.tick;
  }

  /** Bytes of sketch state (fixed by the options). */
  get stateBytes(): number {
    return this.cells.byteLength;
  }

  /**
   * Count the edge src → dst at `tick` (an integer ≥ 1) and return its raw score: the largest
   * chi-squared statistic of the edge, its source and its destination.
   */
  score(src: string, dst: string, tick: number): number {
    if (!Number.isFinite(tick)) throw new RangeError('tick must be a finite number');
    const t = Math.floor(tick);
    if (t > this.tick) {
      this.decay(this.tick === 0 ? 0 : t - this.tick);
      this.tick = t;
    }
    const now = this.tick;
    const { rows, buckets } = this.options;
    const hs = hashString(src, 0x5eed0001);
    const hd = hashString(dst, 0x5eed0002);
    // The edge hash mixes both ends (not hs ^ hd, which would make a→b and b→a collide).
    const he = fmix32((Math.imul(hs, 31) + hd) >>> 0);
    for (let r = 0; r < rows; r++) {
      const rs = this.rowSeeds[r]!;
      const off = r * buckets;
      this.idxEdge[r] = off + (fmix32(he ^ rs) % buckets);
      this.idxSrc[r] = off + (fmix32(hs ^ rs) % buckets);
      this.idxDst[r] = off + (fmix32(hd ^ rs) % buckets);
    }
    const e = this.updateAndQuery(this.idxEdge, EDGE_CUR, EDGE_TOT, now);
    const s = this.updateAndQuery(this.idxSrc, SRC_CUR, SRC_TOT, now);
    const d = this.updateAndQuery(this.idxDst, DST_CUR, DST_TOT, now);
    this.last.edge = e;
    this.last.source = s;
    this.last.destination = d;
    return Math.max(e, s, d);
  }

  snapshot(): MidasRState {
    const { rows, buckets, factor, seed } = this.options;
    return { v: 1, rows, buckets, factor, seed, tick: this.tick, cells: Buffer.from(this.cells.buffer, this.cells.byteOffset, this.cells.byteLength).toString('base64') };
  }

  restore(state: MidasRState): void {
    const o = this.options;
    if (state.v !== 1 || state.rows !== o.rows || state.buckets !== o.buckets || state.seed !== o.seed) {
      throw new TypeError('MidasR state does not match these options (rows, buckets, seed)');
    }
    const buf = Buffer.from(state.cells, 'base64');
    if (buf.byteLength !== this.cells.byteLength) throw new TypeError('MidasR state has the wrong size');
    // Copy through a fresh aligned buffer: a Buffer's offset need not be 8-byte aligned.
    const aligned = new Uint8Array(this.cells.buffer, this.cells.byteOffset, this.cells.byteLength);
    aligned.set(buf);
    this.tick = state.tick;
  }

  static fromState(state: MidasRState): MidasR {
    const m = new MidasR({ rows: state.rows, buckets: state.buckets, factor: state.factor, seed: state.seed });
    m.restore(state);
    return m;
  }

  /** Multiply every current count by factor^gap. */
  private decay(gap: number): void {
    if (gap <= 0) return;
    const f = Math.pow(this.options.factor, gap);
    const b = this.block;
    for (const blk of CURRENT_BLOCKS) {
      const start = blk * b;
      for (let i = start; i < start + b; i++) this.cells[i]! *= f;
    }
  }

  /** Add 1 to the item's cells in both sketches; return the chi-squared score of the CMS minima. */
  private updateAndQuery(idx: Uint32Array, cur: number, tot: number, t: number): number {
    const c0 = cur * this.block;
    const t0 = tot * this.block;
    let a = Number.POSITIVE_INFINITY;
    let s = Number.POSITIVE_INFINITY;
    for (let r = 0; r < idx.length; r++) {
      const i = idx[r]!;
      const ca = (this.cells[c0 + i]! += 1);
      const cs = (this.cells[t0 + i]! += 1);
      if (ca < a) a = ca;
      if (cs < s) s = cs;
    }
    return chiSquaredScore(a, s, t);
  }
}
