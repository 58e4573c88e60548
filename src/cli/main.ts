/** The `tokenwatch` command-line dispatcher. Each command lives in its own file. */
import { replayCommand } from './replay-command.js';
import { simulateCommand } from './simulate-command.js';
import { scoreSeriesCommand } from './score-series-command.js';
import { scoreEdgesCommand } from './score-edges-command.js';
import { runCommand } from './run-command.js';
import { migrateCommand } from './migrate-command.js';
import { formatsCommand } from './formats-command.js';
import { queryCommand } from './query-command.js';
import { reportCommand } from './report-command.js';
import { exceptionsCommand } from './exceptions-command.js';
import { policyCommand } from './policy-command.js';
import { inventoryCommand } from './inventory-command.js';

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; help: string }> = {
  replay: { run: replayCommand, help: 'replay [files…|-] [--format F] [--out FILE] [--incidents FILE] [--dead-letter FILE] [--data-dir DIR | --store-url URL | --no-store] [--config FILE] [--alert-format native|ocsf|both] [--ocsf-out FILE] [--hygiene-out FILE]' },
  simulate: { run: simulateCommand, help: 'simulate [--seed N] [--hours H] [--scale S] [--attacks all|none|a,b] [--out FILE|-] [--truth FILE]' },
  'score-series': { run: scoreSeriesCommand, help: 'score-series <file.csv|-> : adds an anomaly_score column in [0,1]' },
  'score-edges': { run: scoreEdgesCommand, help: 'score-edges <file.csv|-> [--tick-seconds S] : src,dst,time rows + a MIDAS-R anomaly_score in [0,1]' },
  run: { run: runCommand, help: 'run --config FILE : the Kafka streaming runtime' },
  migrate: { run: migrateCommand, help: 'migrate [--config FILE] [--data-dir DIR | --store-url URL] : create/update the ClickHouse schema' },
  query: { run: queryCommand, help: 'query [--data-dir DIR | --store-url URL] (--dashboard NAME [--at latest|now|ISO] | --sql SQL | --list) [--json]' },
  inventory: { run: inventoryCommand, help: 'inventory [--data-dir DIR | --store-url URL] [--at latest|now|ISO] [--format table|json] : token hygiene findings (OWASP NHI) and revocation latency' },
  exceptions: { run: exceptionsCommand, help: 'exceptions add|list|expired --file F [--detector D --issuer GLOB --reason R --owner O --expires DATE …] [--at ISO] : alert exceptions as data' },
  policy: { run: policyCommand, help: 'policy suggest <logs…> --out policy.yaml [--networks block|asn] | policy check <logs…> --policy FILE [--out violations.ndjson] : issuer policy' },
  report: { run: reportCommand, help: 'report [--data-dir DIR | --store-url URL] --out FILE.html [--at latest|now|ISO] [--hours H] [--bucket-minutes M] : self-contained HTML report' },
  formats: { run: formatsCommand, help: 'formats : list the vendor formats and detectors' },
};

function usage(): string {
  return ['usage: tokenwatch <command> [options]', '', ...Object.values(COMMANDS).map((c) => `  tokenwatch ${c.help}`)].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`tokenwatch: unknown command "${name}"\n${usage()}\n`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    process.stderr.write(`tokenwatch ${name}: ${e.code ? `[${e.code}] ` : ''}${e.message ?? String(err)}\n`);
    return 1;
  }
}
