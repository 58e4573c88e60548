/**
 * `tokenwatch run --config FILE`: the Kafka streaming runtime. Runs until SIGTERM/SIGINT, then
 * shuts down gracefully (stop fetching, finish the batch, commit, flush sinks, disconnect).
 * Exit codes: 0 after a signal-initiated shutdown, 1 when the consumer crashed for good, 2 for
 * usage errors.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.js';
import { TokenwatchError } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import { startKafkaRunner, type KafkaRunner } from '../runtime/kafka-runner.js';

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write('usage: tokenwatch run --config FILE\n  Consume the configured Kafka input topics and detect token abuse (see README: Kafka runtime).\n');
    return 0;
  }
  if (!values.config) {
    process.stderr.write('tokenwatch run: --config FILE is required (a YAML/JSON file with a kafka section; see scripts/config/tokenwatch.example.yaml)\n');
    return 2;
  }
  const config = await loadConfig(values.config);
  if (!config.kafka) {
    throw new TokenwatchError('config_invalid', `invalid config:\n  kafka: required by \`tokenwatch run\` — add a kafka section with brokers and inputs to ${values.config}`);
  }
  const log = createLogger({ level: config.log.level });

  let fatal: Error | undefined;
  let wake!: () => void;
  const done = new Promise<void>((resolve) => (wake = resolve));
  let runner: KafkaRunner | undefined;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    // wrappers (npm, tsx, a terminal's process group) often deliver one Ctrl-C twice: only a third signal forces
    if (signals === 2) log.warn({ signal }, 'already shutting down; send the signal again to exit at once');
    if (signals >= 3) {
      log.warn({ signal }, 'exiting without a clean shutdown');
      process.exit(130);
    }
    if (signals > 1) return;
    log.info({ signal }, 'shutting down');
    wake();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    runner = await startKafkaRunner({
      config,
      logger: log,
      onFatal: (err) => {
        fatal = err;
        wake();
      },
    });
    await done;
  } finally {
    await runner?.stop();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
  if (fatal) {
    log.error({ err: { message: fatal.message } }, 'kafka consumer crashed and will not restart');
    return 1;
  }
  return 0;
}
