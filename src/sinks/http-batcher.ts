/**
 * Batching, retry and backpressure shared by the HTTP delivery sinks (SET push, webhook,
 * Splunk HEC) — the same contract as ClickHouseSink, for one queue of items:
 *
 * - `write(items)` resolves once every item was delivered; it rejects with
 *   TokenwatchError('sink_failed') when a batch holding its items failed for good.
 *   `offer(items)` resolves as soon as the items are queued (delivery failures are counted in
 *   `stats`, not thrown): the replay loop uses it so alerts are not serialized on HTTP.
 * - Items are batched by size (`max_batch`) and time (`flush_interval_ms`); one request batch is
 *   in flight at a time, so delivery keeps alert order.
 * - Retries: exponential backoff with equal jitter, honouring a receiver's Retry-After up to
 *   `max_delay_ms`; 408, 425, 429, 5xx and network errors/timeouts are retried, other 4xx fail at once.
 * - Backpressure: at most `max_queue` items are queued or in flight; writers wait, in call order,
 *   for room (a stalled receiver stalls the producer instead of growing memory).
 * - `send(batch)` may remove delivered items from `batch` before it throws (SET push posts one
 *   SET per request): a retry resends only what is left.
 */
import { TokenwatchError } from '../core/errors.js';

export interface HttpDeliveryConfig {
  max_batch: number;
  flush_interval_ms: number;
  max_queue: number;
  /** Retries after the first attempt; 0 = one attempt only. */
  max_retries: number;
  base_delay_ms: number;
  max_delay_ms: number;
  /** Per-request timeout: a receiver that does not answer in time counts as a retryable failure. */
  timeout_ms: number;
}

export const DEFAULT_HTTP_DELIVERY: Readonly<HttpDeliveryConfig> = {
  max_batch: 100,
  flush_interval_ms: 1000,
  max_queue: 10_000,
  max_retries: 6,
  base_delay_ms: 500,
  max_delay_ms: 60_000,
  timeout_ms: 10_000,
};

/** A failed delivery attempt: `retryable` says whether the same request may succeed later. */
export class HttpDeliveryError extends Error {
  override readonly name = 'HttpDeliveryError';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    /** From Retry-After, in ms. */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface HttpBatcherStats {
  delivered: number;
  batches: number;
  retries: number;
  /** Batches given up on (after max_retries, or at once for permanent errors). */
  failures: number;
  items_failed: number;
}

interface Owner {
  remaining: number;
  settled: boolean;
  resolve(): void;
  reject(err: Error): void;
}

interface Queued<T> {
  item: T;
  owner: Owner;
}

export interface HttpBatcherOptions<T> {
  /** Sink name for messages ("webhook", "splunk_hec", "set"). */
  name: string;
  send: (batch: T[]) => Promise<void>;
  config?: Partial<HttpDeliveryConfig>;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function resolveDeliveryConfig(name: string, partial: Partial<HttpDeliveryConfig> = {}): HttpDeliveryConfig {
  const cfg: HttpDeliveryConfig = { ...DEFAULT_HTTP_DELIVERY };
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) (cfg as unknown as Record<string, number>)[k] = v as number;
  for (const key of ['max_batch', 'flush_interval_ms', 'max_queue', 'base_delay_ms', 'max_delay_ms', 'timeout_ms'] as const) {
    if (!(Number.isFinite(cfg[key]) && cfg[key] > 0)) throw new TokenwatchError('config_invalid', `${name} sink: ${key} must be > 0`);
  }
  if (!(Number.isInteger(cfg.max_retries) && cfg.max_retries >= 0)) throw new TokenwatchError('config_invalid', `${name} sink: max_retries must be an integer >= 0`);
  return cfg;
}

export class HttpBatcher<T> {
  readonly stats: HttpBatcherStats = { delivered: 0, batches: 0, retries: 0, failures: 0, items_failed: 0 };
  readonly config: HttpDeliveryConfig;
  private readonly name: string;
  private readonly send: (batch: T[]) => Promise<void>;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly queue: Queued<T>[] = [];
  private inflight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private depth = 0;
  private admission: Promise<void> = Promise.resolve();
  private waitingWriters = 0;
  private roomWaiters: (() => void)[] = [];
  private closed = false;
  private lastError: Error | undefined;

  constructor(opts: HttpBatcherOptions<T>) {
    this.name = opts.name;
    this.send = opts.send;
    this.config = resolveDeliveryConfig(opts.name, opts.config);
    this.sleep = opts.sleep ?? defaultSleep;
    this.random = opts.random ?? Math.random;
  }

  /** Items accepted and not yet delivered (or failed). */
  get queueDepth(): number {
    return this.depth;
  }

  /** Resolves once all `items` are delivered. */
  write(items: readonly T[]): Promise<void> {
    return this.admit(items).then((t) => t.delivered);
  }

  /** Resolves once `items` are queued (waiting for room when the queue is full); failures land in `stats`. */
  async offer(items: readonly T[]): Promise<void> {
    const { delivered } = await this.admit(items);
    delivered.catch(() => undefined);
  }

  /** Deliver everything queued now; rejects when a batch failed meanwhile. */
  async flush(): Promise<void> {
    const failuresBefore = this.stats.failures;
    while (this.queue.length > 0 || this.inflight) await this.drain();
    if (this.stats.failures > failuresBefore) {
      throw new TokenwatchError('sink_failed', `${this.name} sink: ${this.stats.failures - failuresBefore} batch(es) failed during flush`, undefined, { cause: this.lastError });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.releaseWaiters();
    try {
      await this.flush();
    } finally {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** Waits for room (in call order), then enqueues; resolves to a ticket holding the delivery promise. */
  private admit(items: readonly T[]): Promise<{ delivered: Promise<void> }> {
    if (this.closed) return Promise.reject(new TokenwatchError('sink_failed', `${this.name} sink is closed`));
    if (items.length === 0) return Promise.resolve({ delivered: Promise.resolve() });
    if (this.waitingWriters === 0 && this.hasRoom(items.length)) return Promise.resolve({ delivered: this.enqueue(items) });
    this.waitingWriters++;
    const turn = this.admission.then(() => this.waitForRoom(items.length));
    this.admission = turn.catch(() => undefined);
    return turn.then(() => {
      this.waitingWriters--;
      if (this.closed) throw new TokenwatchError('sink_failed', `${this.name} sink is closed`);
      return { delivered: this.enqueue(items) };
    });
  }

  private enqueue(items: readonly T[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const owner: Owner = { remaining: items.length, settled: false, resolve, reject };
      for (const item of items) this.queue.push({ item, owner });
      this.depth += items.length;
      this.schedule();
    });
  }

  private hasRoom(n: number): boolean {
    return this.depth === 0 || this.depth + n <= this.config.max_queue;
  }

  private async waitForRoom(n: number): Promise<void> {
    while (!this.closed && !this.hasRoom(n)) {
      if (this.queue.length > 0) void this.drain();
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
  }

  private releaseWaiters(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w();
  }

  private schedule(): void {
    if (this.inflight) return;
    if (this.queue.length >= this.config.max_batch) void this.drain();
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.drain();
      }, this.config.flush_interval_ms);
    }
  }

  /** One drain loop; resolves when the queue is empty. Never rejects. */
  private drain(): Promise<void> {
    if (this.inflight) return this.inflight;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const loop = (async () => {
      while (this.queue.length > 0) await this.deliver(this.queue.splice(0, this.config.max_batch));
    })().finally(() => {
      this.inflight = undefined;
      if (this.queue.length > 0) this.schedule();
    });
    this.inflight = loop;
    return loop;
  }

  private async deliver(batch: Queued<T>[]): Promise<void> {
    const items = batch.map((q) => q.item);
    const total = items.length;
    let error: unknown;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.send(items);
        error = undefined;
        break;
      } catch (err) {
        error = err;
        const retryable = err instanceof HttpDeliveryError ? err.retryable : false;
        if (attempt >= this.config.max_retries || !retryable) break;
        this.stats.retries++;
        const retryAfter = err instanceof HttpDeliveryError ? (err.retryAfterMs ?? 0) : 0;
        await this.sleep(Math.min(this.config.max_delay_ms, Math.max(retryAfter, this.backoffDelay(attempt))));
      }
    }
    this.depth -= total;
    if (error === undefined) {
      this.stats.delivered += total;
      this.stats.batches++;
      for (const { owner } of batch) {
        owner.remaining--;
        if (owner.remaining === 0 && !owner.settled) {
          owner.settled = true;
          owner.resolve();
        }
      }
    } else {
      // `send` removed what it delivered: the rest failed.
      const failedCount = items.length;
      this.stats.delivered += total - failedCount;
      this.stats.failures++;
      this.stats.items_failed += failedCount;
      const failure = new TokenwatchError('sink_failed', `${this.name} delivery failed (${failedCount} of ${total} items): ${(error as Error)?.message ?? String(error)}`, undefined, { cause: error });
      this.lastError = failure;
      const undelivered = new Set(items);
      for (const { item, owner } of batch) {
        if (owner.settled) continue;
        if (undelivered.has(item)) {
          owner.settled = true;
          owner.reject(failure);
        } else if (--owner.remaining === 0) {
          owner.settled = true;
          owner.resolve();
        }
      }
    }
    this.releaseWaiters();
  }

  private backoffDelay(attempt: number): number {
    const step = Math.min(this.config.max_delay_ms, this.config.base_delay_ms * 2 ** attempt);
    return Math.round(step / 2 + this.random() * (step / 2));
  }
}

/** Retry-After as ms: delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs: number = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : Math.max(0, t - nowMs);
}

/** Statuses worth retrying: timeouts, too early, rate limited, server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/**
 * POST `body` and classify the outcome. Resolves with the response when `ok(status)`; otherwise
 * throws HttpDeliveryError (retryable per status, network error or timeout). The response body
 * is read (up to 4 KiB kept for the message) so the connection is reusable.
 */
export async function postOnce(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  ok: (status: number) => boolean = (s) => s >= 200 && s < 300,
): Promise<{ status: number; text: string }> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', body, headers, signal: AbortSignal.timeout(timeoutMs) });
  } catch (cause) {
    const timedOut = (cause as Error)?.name === 'TimeoutError';
    throw new HttpDeliveryError(timedOut ? `no answer within ${timeoutMs} ms` : `request failed: ${(cause as Error)?.message ?? String(cause)}`, true, undefined, undefined, { cause });
  }
  const text = (await res.text().catch(() => '')).slice(0, 4096);
  if (ok(res.status)) return { status: res.status, text };
  throw new HttpDeliveryError(`HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`, isRetryableStatus(res.status), res.status, parseRetryAfter(res.headers.get('retry-after')));
}
