/**
 * The floor `run` is compared with: a bare kafkajs consumer on the same input topics that does
 * eachBatch + JSON.parse of every value and nothing else (offsets auto-resolved and committed
 * by kafkajs, as in any consumer).
 */
import type { Kafka } from 'kafkajs';

export async function bareConsumeRate(kafka: Kafka, groupId: string, topics: readonly string[], expected: number, concurrency: number): Promise<{ secs: number; recordsPerSec: number }> {
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...topics], fromBeginning: true });
    let n = 0;
    let tFirst = 0;
    let parsedKeys = 0; // keeps JSON.parse observable so it is not optimised away
    const done = new Promise<number>((resolve) => {
      void consumer.run({
        partitionsConsumedConcurrently: concurrency,
        eachBatch: async ({ batch }) => {
          if (tFirst === 0) tFirst = performance.now();
          for (const m of batch.messages) {
            if (m.value) parsedKeys += Object.keys(JSON.parse(m.value.toString()) as object).length;
          }
          n += batch.messages.length;
          if (n >= expected) resolve(performance.now());
        },
      });
    });
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`bare consumer: ${n}/${expected} after 300 s`)), 300_000).unref());
    const tEnd = await Promise.race([done, timeout]);
    const secs = (tEnd - tFirst) / 1000;
    if (parsedKeys === 0) throw new Error('bare consumer parsed nothing');
    return { secs, recordsPerSec: expected / secs };
  } finally {
    await consumer.disconnect();
  }
}
