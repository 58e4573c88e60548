/**
 * `tokenwatch policy suggest <logs…> --out policy.yaml`: a least-privilege issuer policy from
 * observed mints. `tokenwatch policy check <logs…> --policy FILE --out violations.ndjson`:
 * replay logs against a policy; exit code 3 when there are violations (for CI gates).
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { once } from 'node:events';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.js';
import { TokenwatchError } from '../core/errors.js';
import { createFingerprinter } from '../core/fingerprint.js';
import { createLogger } from '../core/logger.js';
import { DeadLetterFile } from '../sinks/dead-letter-file.js';
import type { ReplayInput } from '../runners/embedded-runner.js';
import { readPolicy, writePolicy } from '../policy/policy-file.js';
import { checkPolicy, suggestPolicy } from '../policy/policy-replay.js';
import { DEFAULT_SUGGEST_OPTIONS } from '../policy/suggest-policy.js';

const USAGE = `usage:
  tokenwatch policy suggest <logs…|-> --out policy.yaml [--networks block|asn] [--default allow|deny] [--max-values N] [--config FILE]
  tokenwatch policy check <logs…|-> --policy FILE [--out violations.ndjson] [--config FILE]   (exit 3 when violations)`;

export async function policyCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h') {
    process.stdout.write(USAGE + '\n');
    return sub ? 0 : 2;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      out: { type: 'string', short: 'o' },
      policy: { type: 'string' },
      networks: { type: 'string', default: 'block' },
      default: { type: 'string', default: 'allow' },
      'max-values': { type: 'string' },
      config: { type: 'string' },
      'dead-letter': { type: 'string', default: '.tokenwatch/dead-letter.ndjson' },
      quiet: { type: 'boolean', default: false },
    },
  });
  const log = createLogger({ level: values.quiet ? 'warn' : undefined });
  const config = await loadConfig(values.config);
  const fingerprint = createFingerprinter({
    key: process.env[config.hmac_key_env],
    onDevKey: () => log.warn({ env: config.hmac_key_env }, 'using the built-in development HMAC key: fingerprints are guessable; set the env var to a random secret (32+ bytes) in production'),
  });
  const inputs: ReplayInput[] = (positionals.length ? positionals : ['-']).map((p) => (p === '-' ? { name: 'stdin', source: process.stdin } : { name: p, source: p }));
  mkdirSync(dirname(values['dead-letter']), { recursive: true });
  const deadLetters = new DeadLetterFile(values['dead-letter']);

  try {
    if (sub === 'suggest') {
      if (!values.out) throw new TokenwatchError('config_invalid', `policy suggest: --out FILE is required\n${USAGE}`);
      if (values.networks !== 'block' && values.networks !== 'asn') throw new TokenwatchError('config_invalid', `--networks: use block or asn, not "${values.networks}"`);
      if (values.default !== 'allow' && values.default !== 'deny') throw new TokenwatchError('config_invalid', `--default: use allow or deny, not "${values.default}"`);
      const maxValues = values['max-values'] !== undefined ? Number(values['max-values']) : DEFAULT_SUGGEST_OPTIONS.maxValues;
      if (!Number.isInteger(maxValues) || maxValues < 1) throw new TokenwatchError('config_invalid', `--max-values: a positive integer, not "${values['max-values']}"`);
      const { policy, stats, replay } = await suggestPolicy({ config, inputs, fingerprint, deadLetters, suggest: { networks: values.networks, default: values.default, maxValues } });
      const header = `tokenwatch issuer policy suggested from ${inputs.map((i) => i.name).join(', ')}\n${stats.mints} mints by ${stats.issuers} issuers; review before enforcing (schemas/policy.ts)`;
      await writePolicy(values.out, policy, header);
      const overflow = Object.entries(stats.overflowed);
      process.stderr.write(
        [
          `tokenwatch policy suggest: ${replay.records} records → ${replay.events} token events, ${stats.mints} mints by ${stats.issuers} issuers → ${policy.rules.length} rules in ${values.out}`,
          `  mints without an issuer (not covered): ${stats.mints_without_issuer}; invalid records: ${replay.invalid}${replay.invalid ? ` → ${values['dead-letter']}` : ''}`,
          ...(overflow.length ? [`  left unrestricted (more than ${maxValues} values): ${overflow.map(([i, d]) => `${i} ${d.join('/')}`).join('; ')}`] : []),
        ].join('\n') + '\n',
      );
      return 0;
    }
    if (sub === 'check') {
      if (!values.policy) throw new TokenwatchError('config_invalid', `policy check: --policy FILE is required\n${USAGE}`);
      const policy = await readPolicy(values.policy);
      const out = values.out ? createWriteStream(values.out) : process.stdout;
      let summary;
      try {
        summary = await checkPolicy({ config, inputs, fingerprint, deadLetters, policy, alertsOut: out });
      } finally {
        if (out !== process.stdout) {
          out.end();
          await once(out, 'finish');
        }
      }
      const n = summary.alerts_by_detector.policy_violation ?? 0;
      process.stderr.write(
        `tokenwatch policy check: ${summary.records} records → ${summary.events} token events against ${policy.rules.length} rules (default ${policy.default}): ` +
          `${n} violations${values.out ? ` → ${values.out}` : ''}${summary.excepted && Object.keys(summary.excepted).length ? `; excepted: ${JSON.stringify(summary.excepted)}` : ''}\n`,
      );
      return n > 0 ? 3 : 0;
    }
  } finally {
    await deadLetters.close();
  }
  process.stderr.write(`tokenwatch policy: unknown subcommand "${sub}"\n${USAGE}\n`);
  return 2;
}
