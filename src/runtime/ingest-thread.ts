/**
 * An ingest thread: stage 1 (decode, validate, normalize, enrich, encode, frame — the
 * RepartitionStage) for the input partitions routed to it (ingest-threads.ts), off the main
 * thread. It holds those partitions' stage-1 state — plausible-time windows, source clocks — and
 * answers requests in the order they came, so a reset or a new assignment sent after a batch
 * applies after it, as on the main thread. No I/O but its port: the main thread does the Kafka
 * side and turns the replies into transactions.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createFingerprinter } from '../core/fingerprint.js';
import { enrichmentVersions } from '../enrich/provenance.js';
import { IngestTally } from './ingest-tally.js';
import { packOutput, serializeError, unpackValues, type FromThread, type IngestThreadInit, type PackedOutput, type ToThread } from './ingest-thread-protocol.js';
import { RepartitionStage, repartitionOptionsFor } from './repartition-stage.js';

const port = parentPort;
if (!port) throw new Error('ingest-thread.ts runs as a worker thread (ingest-threads.ts starts it)');

const init = workerData as IngestThreadInit;
const tally = new IngestTally();
const reply = (m: FromThread, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

let stage: RepartitionStage;
try {
  const ctx = { fingerprint: createFingerprinter({ key: init.hmacKey }) };
  const options = repartitionOptionsFor(init.config, { ctx, formats: new Map(init.formats), metrics: tally, counters: tally.counters });
  options.enrich?.load(); // now, not in the first batch
  stage = new RepartitionStage({ ...options, partitions: init.partitions });
  reply({ op: 'ready', enrichment: enrichmentVersions() });
} catch (e) {
  reply({ op: 'init-failed', error: serializeError(e) });
  throw e;
}

port.on('message', (m: ToThread) => {
  try {
    handle(m);
  } catch (e) {
    if (m.op === 'process' || m.op === 'idle') reply({ op: 'failed', id: m.id, error: serializeError(e) });
    else throw e; // state changes cannot fail short of a bug: the thread dies and the runner with it
  }
});

function handle(m: ToThread): void {
  switch (m.op) {
    case 'process': {
      const out = packOutput(stage.process(m.topic, m.partition, unpackValues(m.values, m.lengths, m.keyLengths), m.lag));
      reply({ op: 'processed', id: m.id, out, watermark: stage.inputWatermark(`${m.topic}/${m.partition}`), tally: tally.take() }, [out.frames]);
      return;
    }
    case 'idle': {
      const skip = new Set(m.skip);
      const outputs = [...stage.idleMarkers(m.now, m.idleMs, (input) => skip.has(input))].map(([input, o]): [string, PackedOutput] => [input, packOutput(o)]);
      reply({ op: 'idled', id: m.id, outputs }, outputs.map(([, o]) => o.frames));
      return;
    }
    case 'owned':
      stage.owned(m.inputs, m.now);
      return;
    case 'keep-only':
      stage.keepOnly(new Set(m.owned));
      return;
    case 'reset':
      stage.resetInput(m.input, m.now);
      return;
    case 'not-idle':
      stage.notIdle(m.sources);
      return;
  }
}
