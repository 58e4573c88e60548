/**
 * The parent's side of kafka-bench-worker.ts: fork runner instances, follow their stats, time a
 * consume-everything phase, stop them and collect their final memory figures.
 *
 * Environment, for experiments: TW_BENCH_NODE_FLAGS (extra node flags of every runner process,
 * e.g. "--max-semi-space-size=64"), TW_BENCH_CPU_PROF=dir (a CPU profile per runner process),
 * TW_BENCH_SURVIVOR_PROF=dir (kafka-bench-worker.ts: where the main thread's scavenge survivors
 * were allocated).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Admin } from 'kafkajs';
import { groupLag } from '../src/runtime/kafka-runner.js';
import type { WorkerFinal, WorkerMessage, WorkerStart, WorkerStats } from './kafka-bench-worker.js';

const WORKER = fileURLToPath(new URL('./kafka-bench-worker.js', import.meta.url));

export class BenchWorker {
  latest?: WorkerStats;
  private readonly child: ChildProcess;
  private readonly started: Promise<void>;
  private final?: Promise<WorkerFinal>;

  constructor(start: Omit<WorkerStart, 'type'>) {
    const flags = process.env.TW_BENCH_NODE_FLAGS?.split(' ').filter((f) => f !== '') ?? [];
    const prof = process.env.TW_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.TW_BENCH_CPU_PROF}`] : [];
    this.child = fork(WORKER, [], { execArgv: ['--expose-gc', ...flags, ...prof], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.started = new Promise((resolve, reject) => {
      this.child.on('message', (m: WorkerMessage) => {
        if (m.type === 'started') resolve();
        else if (m.type === 'stats') this.latest = m;
        else if (m.type === 'failed') reject(new Error(`bench worker failed: ${m.error}`));
      });
      this.child.once('exit', (code) => reject(new Error(`bench worker exited (${code}) before it started`)));
    });
    this.child.send({ type: 'start', ...start } satisfies WorkerStart);
  }

  ready(): Promise<void> {
    return this.started;
  }

  /** Restart the worker's event-loop delay histogram. */
  mark(): void {
    if (this.child.connected) this.child.send({ type: 'mark' });
  }

  /** Ask the worker for its final figures; resolves once it has stopped its runner and exited (idempotent). */
  stop(): Promise<WorkerFinal> {
    this.final ??= new Promise((resolve, reject) => {
      let final: WorkerFinal | undefined;
      const timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        reject(new Error('bench worker did not stop within 60 s'));
      }, 60_000);
      this.child.on('message', (m: WorkerMessage) => {
        if (m.type === 'final') final = m;
      });
      const exited = (): void => {
        clearTimeout(timer);
        if (final) resolve(final);
        else reject(new Error('bench worker exited without final figures'));
      };
      if (this.child.exitCode !== null || this.child.signalCode !== null) exited();
      else this.child.once('exit', exited);
      if (this.child.connected) this.child.send({ type: 'stop' });
    });
    return this.final;
  }
}

export interface PhaseResult {
  /** From the first record any instance read to the group having committed everything. */
  secs: number;
  recordsPerSec: number;
  /**
   * Rate after every instance had its partitions (group joined, rebalance done): records not yet
   * read at that moment over the time from then to the end. Undefined when less than a quarter
   * of the records was left.
   */
  steadyRecordsPerSec?: number;
  finals: WorkerFinal[];
}

/**
 * Start `count` runner processes in one group, wait until they have read `expected` input
 * records and the group has no lag on `watched` (inputs and repartition topics), stop them.
 */
export async function timeRunPhase(
  admin: Admin,
  groupId: string,
  watched: readonly string[],
  expected: number,
  count: number,
  start: Omit<WorkerStart, 'type'>,
  timeoutMs = 600_000,
): Promise<PhaseResult> {
  const workers: BenchWorker[] = [];
  try {
    for (let i = 0; i < count; i++) workers.push(new BenchWorker(start));
    await Promise.all(workers.map((w) => w.ready()));
    const t0 = Date.now();
    let stable: { at: number; recordsIn: number } | undefined;
    let recordsIn = 0;
    for (;;) {
      recordsIn = workers.reduce((s, w) => s + (w.latest?.stats.records_in ?? 0), 0);
      if (!stable && workers.every((w) => (w.latest?.stats.assigned_partitions ?? 0) > 0)) stable = { at: Date.now(), recordsIn };
      if (recordsIn >= expected && (await groupLag(admin, groupId, watched)) === 0) break;
      if (Date.now() - t0 > timeoutMs) throw new Error(`bench: ${count} runner(s) not done after ${timeoutMs / 1000} s (${recordsIn}/${expected} records)`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const tEnd = Date.now();
    const firsts = workers.map((w) => w.latest?.firstRecordAt).filter((t): t is number => t !== undefined);
    const secs = (tEnd - (firsts.length > 0 ? Math.min(...firsts) : t0)) / 1000;
    const left = stable ? expected - stable.recordsIn : 0;
    const finals = await Promise.all(workers.map((w) => w.stop()));
    return {
      secs,
      recordsPerSec: expected / secs,
      ...(stable && left >= expected / 4 && { steadyRecordsPerSec: left / ((tEnd - stable.at) / 1000) }),
      finals,
    };
  } finally {
    await Promise.allSettled(workers.map((w) => w.stop()));
  }
}
