/**
 * Periodic hygiene findings: a job that queries the store every `interval` and hands findings
 * not reported before (by finding_id) to a callback — the Kafka runner delivers them to the
 * webhook / Splunk HEC sinks; replay runs one pass at its end.
 *
 * Why a store query and not a detector: detectors are I/O-free, keyed by token or issuer, and see
 * one partition's events in event time. Hygiene is a property of the whole inventory over months
 * ("never used", "unused for 74 days", scopes granted to an issuer vs used by any of its tokens,
 * revocation latency per service): it needs the absence of events, joins across keys and history
 * older than any detector state — exactly what the store already holds, durable across restarts
 * and shared by all runner instances. Passes are judged as of the newest stored event time, so
 * they stay deterministic for replayed data.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { hygieneAlert, type HygieneAlert } from './hygiene-alert.js';
import { runHygieneReport, type HygieneReport } from './hygiene-report.js';

export interface HygieneJobOptions {
  client: ClickHouseClient;
  database: string;
  intervalMs: number;
  onFindings: (findings: HygieneAlert[], report: HygieneReport) => Promise<void>;
  onError?: (err: Error) => void;
  /** Finding ids remembered (reported once per process); oldest forgotten beyond this. */
  maxRemembered?: number;
}

export class HygieneJob {
  private readonly reported = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  passes = 0;

  constructor(private readonly opts: HygieneJobOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.runOnce().catch((err: Error) => this.opts.onError?.(err)), this.opts.intervalMs);
    this.timer.unref();
  }

  /** One pass: query, keep the findings not reported before, hand them over. Never overlaps. */
  runOnce(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      const report = await runHygieneReport(this.opts.client, this.opts.database);
      this.passes++;
      const fresh: HygieneAlert[] = [];
      for (const f of report.findings) {
        const alert = hygieneAlert(f, report.as_of);
        if (this.reported.has(alert.finding_id)) continue;
        this.remember(alert.finding_id);
        fresh.push(alert);
      }
      await this.opts.onFindings(fresh, report);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  private remember(id: string): void {
    this.reported.add(id);
    const max = this.opts.maxRemembered ?? 100_000;
    if (this.reported.size > max) this.reported.delete(this.reported.values().next().value as string);
  }
}
