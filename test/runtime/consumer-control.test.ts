/**
 * consumerControl: pause / resume / seek of a kafkajs consumer that is not running (as while
 * kafkajs restarts it in-process after a crash) are skipped with a warning instead of throwing —
 * thrown from a transaction's failure handler they ended the process in the chaos harness's
 * broker-outage case. A real kafkajs consumer that was never run throws exactly that error.
 */
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.js';
import { consumerControl } from '../../src/runtime/consumer-control.js';

const { Kafka, logLevel } = kafkajs;

describe('consumerControl', () => {
  it('skips pause, resume and seek of a consumer that is not running, and says so', () => {
    const consumer = new Kafka({ clientId: 'tw-control', brokers: ['127.0.0.1:9'], logLevel: logLevel.NOTHING }).consumer({ groupId: 'tw-control' });
    expect(() => consumer.pause([{ topic: 't' }])).toThrow(/not initialized/);
    const warnings: string[] = [];
    const log = createLogger({ level: 'warn' }, { write: (line: string) => warnings.push(line) > 0 } as unknown as NodeJS.WritableStream);
    const control = consumerControl(consumer, log);
    expect(() => control.pause([{ topic: 't', partitions: [0] }])).not.toThrow();
    expect(() => control.seek({ topic: 't', partition: 0, offset: '5' })).not.toThrow();
    expect(() => control.resume([{ topic: 't', partitions: [0] }])).not.toThrow();
    expect(warnings.map((w) => (JSON.parse(w) as { call: string }).call)).toEqual(['pause', 'seek', 'resume']);
  });

  it('passes calls through to a consumer that takes them', () => {
    const calls: string[] = [];
    const control = consumerControl({ pause: () => void calls.push('pause'), resume: () => void calls.push('resume'), seek: () => void calls.push('seek') }, createLogger({ level: 'silent' }));
    control.pause([{ topic: 't' }]);
    control.seek({ topic: 't', partition: 0, offset: '1' });
    control.resume([{ topic: 't' }]);
    expect(calls).toEqual(['pause', 'seek', 'resume']);
  });
});
