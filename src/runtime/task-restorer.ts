/**
 * Restores a detection task when its partition is assigned (Kafka Streams' restoration): its
 * state keys from the changelog partition (task-state-store.ts), then a replay of its repartition
 * partition from the offset that state covers up to where the group resumes, with effects muted
 * (they committed before the hand-over). Both reads are read_committed (partition-reader.ts).
 */
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from '../core/logger.js';
import { emptyOutput, type DetectionTask, type TaskOutput } from './detection-task.js';
import { readPartitionRange } from './partition-reader.js';
import { changelogPartition, foldChangelog, taskStateFrom } from './task-state-store.js';

/** How long one read may take (a killed instance's open transaction holds read_committed readers up to its timeout). */
const READ_TIMEOUT_MS = 120_000;

export interface TaskRestorerOptions {
  kafka: Kafka;
  admin: Admin;
  changelogTopic: string;
  changelogPartitions: number;
  /** Prefix of the throwaway consumer groups the reads use. */
  groupPrefix: string;
  log: Logger;
}

export interface RestoreHooks {
  heartbeat: () => Promise<void>;
  /** Output of replayed records (effects already committed: write only what is idempotent). */
  onReplayed: (out: TaskOutput) => void;
}

export interface RestoreResult {
  fromChangelog: boolean;
  entries: number;
  replayed: number;
}

export class TaskRestorer {
  private reads = 0;

  constructor(private readonly opts: TaskRestorerOptions) {}

  /** A new group generation (kept for symmetry with the task lifecycle; reads are never cached: a dropped task must see its latest checkpoint). */
  newGeneration(): void {}

  async restore(task: DetectionTask, resumeAt: string, hooks: RestoreHooks): Promise<RestoreResult> {
    const { kafka, admin, changelogTopic, changelogPartitions, groupPrefix } = this.opts;
    const latest = new Map<string, Buffer>();
    await readPartitionRange(
      { topic: changelogTopic, partition: changelogPartition(task.partition, changelogPartitions), from: 'earliest', to: 'end' },
      {
        kafka,
        admin,
        groupPrefix: `${groupPrefix}.${++this.reads}`,
        timeoutMs: READ_TIMEOUT_MS,
        heartbeat: hooks.heartbeat,
        onMessages: (ms) => {
          for (const m of ms) foldChangelog(latest, m.key, m.value);
        },
      },
    );
    const state = taskStateFrom(latest, task.role, task.partition);
    const fromChangelog = state.offset !== undefined;
    if (fromChangelog) {
      task.engine.restoreState(state.entries);
      if (state.sources) task.sources.restore(state.sources);
    }
    let replayed = 0;
    const from = state.offset ?? 'earliest';
    if (from === 'earliest' || BigInt(from) < BigInt(resumeAt)) {
      await readPartitionRange(
        { topic: task.topic, partition: task.partition, from, to: resumeAt },
        {
          kafka,
          admin,
          groupPrefix: `${groupPrefix}.${++this.reads}`,
          timeoutMs: READ_TIMEOUT_MS,
          heartbeat: hooks.heartbeat,
          onMessages: (ms) => {
            replayed += ms.length;
            const out = emptyOutput();
            task.apply(ms, out);
            hooks.onReplayed(out);
          },
        },
      );
    }
    return { fromChangelog, entries: state.entries.size, replayed };
  }
}
