/**
 * kafkajs heartbeats only between batches: a batch that waits longer than the session timeout
 * for its sinks (a ClickHouse outage retried with backoff) would cost the member its group
 * membership, its partitions and every commit after. While a batch runs, this heartbeats on
 * the consumer's heartbeat interval (kafkajs sends one only when that interval has passed).
 */
export async function withHeartbeats<T>(heartbeat: () => Promise<void>, intervalMs: number, work: () => Promise<T>): Promise<T> {
  let beating = false;
  const timer = setInterval(() => {
    if (beating) return;
    beating = true;
    // a rebalance makes this throw: the batch then turns stale and its result is not committed
    heartbeat()
      .catch(() => undefined)
      .finally(() => {
        beating = false;
      });
  }, intervalMs);
  timer.unref();
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
