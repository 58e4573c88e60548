#!/usr/bin/env node
// Smoke test for kafkajs against the local broker (scripts/kafka/start.sh):
// create a topic via admin, produce 10 messages, consume them in a consumer group,
// commit offsets, verify the committed offsets, delete the topic.
// Usage: node scripts/kafka/smoke.mjs [brokers]   (default: $KAFKA_BROKERS or 127.0.0.1:19092)
import kafkajs from 'kafkajs';

const { Kafka, logLevel, Partitioners } = kafkajs;
const brokers = (process.argv[2] ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
const run = `${Date.now()}-${process.pid}`;
const topic = `tokenwatch-smoke-${run}`;
const groupId = `tokenwatch-smoke-${run}`;
const N = 10;
const t0 = Date.now();

const kafka = new Kafka({ clientId: 'tokenwatch-smoke', brokers, logLevel: logLevel.WARN });
const admin = kafka.admin();
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 1000 });

const timeout = setTimeout(() => { console.error('kafka smoke: timed out after 60s'); process.exit(1); }, 60000);
let ok = false;
try {
  await admin.connect();
  const created = await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
  if (!created) throw new Error(`topic ${topic} was not created`);

  await producer.connect();
  await producer.send({
    topic,
    messages: Array.from({ length: N }, (_, i) => ({ key: `k${i}`, value: JSON.stringify({ i, run }) })),
  });

  const seen = new Set();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const done = new Promise((resolve) => {
    consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic: t, partition, message }) => {
        seen.add(JSON.parse(message.value.toString()).i);
        await consumer.commitOffsets([{ topic: t, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
        if (seen.size === N) resolve();
      },
    });
  });
  await done;
  await consumer.stop();

  const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
  const committed = offsets[0].partitions.reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
  if (committed !== N) throw new Error(`committed offsets sum ${committed}, expected ${N}`);
  ok = true;
  console.log(`kafka smoke: ok — topic created, ${N} produced, ${seen.size} consumed in group, offsets committed (${committed}) in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
} catch (err) {
  console.error('kafka smoke: FAILED:', err?.stack ?? err);
} finally {
  await consumer.disconnect().catch(() => {});
  await producer.disconnect().catch(() => {});
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin.deleteGroups([groupId]).catch(() => {});
  await admin.disconnect().catch(() => {});
  clearTimeout(timeout);
}
process.exit(ok ? 0 : 1);
