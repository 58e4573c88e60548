/**
 * pause / resume / seek of the runner's kafkajs consumer, made safe to call at any time. Between
 * runs — kafkajs restarting the consumer in-process after a crash, e.g. a broker outage longer
 * than its retry budget — kafkajs throws "Consumer group was not initialized". Thrown from a
 * transaction's failure handler or a timer, that ended the process (seen in the chaos harness's
 * broker case). Nothing is lost by skipping the call: the restarted consumer joins again,
 * unpaused, from the group's committed offsets, and the runner re-applies its pauses on the join.
 */
import type { Consumer } from 'kafkajs';
import type { Logger } from '../core/logger.js';

export type ConsumerControl = Pick<Consumer, 'pause' | 'resume' | 'seek'>;

export function consumerControl(consumer: ConsumerControl, log: Logger): ConsumerControl {
  const guarded =
    <A extends unknown[]>(what: string, call: (...args: A) => void) =>
    (...args: A): void => {
      try {
        call(...args);
      } catch (err) {
        log.warn({ call: what, err: { message: (err as Error).message } }, 'consumer call skipped: the consumer is not running (restarting); its rejoin starts from the committed offsets');
      }
    };
  return {
    pause: guarded('pause', (topics: Parameters<Consumer['pause']>[0]) => consumer.pause(topics)),
    resume: guarded('resume', (topics: Parameters<Consumer['resume']>[0]) => consumer.resume(topics)),
    seek: guarded('seek', (target: Parameters<Consumer['seek']>[0]) => consumer.seek(target)),
  };
}
