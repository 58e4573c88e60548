/**
 * `npm run chaos` (issue 8, item 8): the Kafka runtime (`tokenwatch run`) under faults, against
 * the harness's OWN broker (127.0.0.1:29092) and ClickHouse (127.0.0.1:28123), started here and
 * stopped at the end (and on Ctrl-C). The shared services on 19092/18123 are never touched.
 *
 *   npm run chaos -- [--records 1000000] [--malformed N (default records/10)] [--outage-seconds 60]
 *     [--cases baseline,kill9,join-leave,clickhouse-down,broker-restart,malformed]
 *     [--quiet-seconds 8] [--case-timeout S] [--keep] [--out .local/chaos/result.json]
 *
 * Every case starts from fresh topics (3 input topics, one per simulated vendor format, 4
 * partitions each), a fresh group and a fresh ClickHouse database. Expected alert ids: the
 * embedded replay (`tokenwatch replay`) of exactly the same valid records (ids are
 * deterministic; the same HMAC key everywhere), reading one file per input partition, as the
 * runners read them (records go to partitions round robin per topic, fixed here). Observed: alert ids on the alert topic
 * (read_committed, copies counted) and in `<db>.alerts` (rows per alert_id, copies counted).
 * Prints one markdown table and writes the details to --out.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { resultTable, type CaseResult } from './chaos-compare.js';
import { CASE_NAMES, runCase, type CaseName } from './chaos-cases.js';
import { replayAlertIds } from './chaos-observe.js';
import { partitionedChaosRecords, planSimulation, type SimulationPlan } from './chaos-records.js';
import { liveRunners } from './chaos-runner-process.js';
import { ChaosClickHouse, ChaosKafka } from './chaos-services.js';

const out = (s: string): void => void process.stdout.write(s + '\n');

/**
 * A private copy of dist/ with its own bin/tokenwatch.js: other people rebuild dist/ while a run
 * takes minutes, and a runner restarted mid-build would not start. Packages still resolve from
 * the repository's node_modules (the copy lives under .local/). Retried while dist/ is mid-build.
 */
async function snapshotCli(root: string, outDir: string): Promise<string> {
  const app = join(outDir, 'app');
  const cli = join(app, 'bin/tokenwatch.js');
  for (let attempt = 1; ; attempt++) {
    rmSync(app, { recursive: true, force: true });
    cpSync(join(root, 'dist'), join(app, 'dist'), { recursive: true });
    mkdirSync(join(app, 'bin'), { recursive: true });
    cpSync(join(root, 'bin/tokenwatch.js'), cli);
    const check = spawnSync(process.execPath, [cli, 'formats'], { cwd: root, encoding: 'utf8' });
    if (check.status === 0) return cli;
    if (attempt >= 10) throw new Error(`chaos: the build in dist/ does not run (npm run build): ${check.stderr.slice(-1000)}`);
    await new Promise((r) => setTimeout(r, 5000));
  }
}

/**
 * The records of a case as the input topics hold them: one NDJSON file per (format, partition), each
 * in produce order — the replay's inputs. `tokenwatch replay` merges them by event time with one
 * event-time clock per file, as each runner has one per input partition.
 */
function writePartitionFiles(dir: string, tag: string, plan: SimulationPlan, malformed: number): string[] {
  const files = new Map<string, { fd: number; chunk: Buffer[]; size: number }>();
  const nl = Buffer.from('\n');
  const flush = (f: { fd: number; chunk: Buffer[]; size: number }): void => {
    writeSync(f.fd, Buffer.concat(f.chunk));
    f.chunk = [];
    f.size = 0;
  };
  try {
    for (const r of partitionedChaosRecords(plan, malformed)) {
      const path = join(dir, `records-${tag}-${r.format}-${r.partition}.ndjson`);
      let f = files.get(path);
      if (!f) files.set(path, (f = { fd: openSync(path, 'w'), chunk: [], size: 0 }));
      f.chunk.push(r.value, nl);
      f.size += r.value.length + 1;
      if (f.size > 1 << 20) flush(f);
    }
  } finally {
    for (const f of files.values()) {
      flush(f);
      closeSync(f.fd);
    }
  }
  return [...files.keys()].sort();
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '1000000' },
      malformed: { type: 'string' },
      'outage-seconds': { type: 'string', default: '60' },
      cases: { type: 'string', default: CASE_NAMES.join(',') },
      'quiet-seconds': { type: 'string', default: '8' },
      'case-timeout': { type: 'string' },
      keep: { type: 'boolean', default: false },
      out: { type: 'string', default: '.local/chaos/result.json' },
    },
  });
  const root = process.cwd();
  if (!existsSync(join(root, 'bin/tokenwatch.js'))) throw new Error('chaos: run from the repository root (npm run chaos)');
  const records = Number(values.records);
  const malformed = values.malformed !== undefined ? Number(values.malformed) : Math.round(records / 10);
  const outageSecs = Number(values['outage-seconds']);
  const cases = values.cases.split(',').map((c) => c.trim()).filter(Boolean);
  for (const c of cases) if (!(CASE_NAMES as readonly string[]).includes(c)) throw new Error(`chaos: unknown case "${c}" — use ${CASE_NAMES.join(', ')}`);
  // generous: ~2k records/s at worst, two outages, session timeouts, drain
  const timeoutSecs = values['case-timeout'] ? Number(values['case-timeout']) : Math.round(240 + records / 2000 + 2 * outageSecs);
  const runId = `${new Date().toISOString().slice(11, 19).replace(/:/g, '')}${Math.random().toString(36).slice(2, 5)}`;
  const outDir = resolve(root, '.local/chaos', runId);
  mkdirSync(outDir, { recursive: true });

  const kafka = new ChaosKafka(root);
  const ch = new ChaosClickHouse(root);
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) return;
    interrupted = true;
    out('\nchaos: interrupted — stopping runners and the harness\'s own services');
    void (async () => {
      await Promise.all([...liveRunners].map((r) => r.signal('SIGKILL', 5000)));
      await Promise.all([kafka.kill(), ch.kill()]);
      process.exit(130);
    })();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const t0 = Date.now();
  const cli = await snapshotCli(root, outDir);
  const plan = planSimulation(records);
  out(`chaos: ${plan.records.toLocaleString('en-US')} simulated records (${plan.hours} h at scale ${plan.scale.toFixed(2)}, asked ${records.toLocaleString('en-US')})${cases.includes('malformed') ? ` (+${malformed.toLocaleString('en-US')} malformed in the malformed case)` : ''}, cases ${cases.join(', ')}, outage ${outageSecs} s; logs and configs in ${outDir}`);

  // expected: the embedded replay of the same records
  const replayConfig = join(outDir, 'replay.config.yaml');
  // engine defaults, as the runners' configs (bench/chaos-cases.ts) use them
  writeFileSync(replayConfig, '# generated by bench/chaos.ts: the runners use the same (default) engine settings\nlog:\n  level: warn\n');
  const cleanFiles = writePartitionFiles(outDir, 'clean', plan, 0);
  const expected = await replayAlertIds(root, cli, cleanFiles, replayConfig, outDir, 'clean');
  for (const f of cleanFiles) rmSync(f, { force: true });
  out(`  expected: ${expected.ids.size} alert ids from the embedded replay in ${expected.secs.toFixed(0)} s (${expected.summary})`);
  let malformedReplayNote: string | undefined;
  if (cases.includes('malformed')) {
    const files = writePartitionFiles(outDir, 'malformed', plan, malformed);
    const r = await replayAlertIds(root, cli, files, replayConfig, outDir, 'malformed');
    for (const f of files) rmSync(f, { force: true });
    const real = [...expected.ids.keys()].filter((id) => r.ids.has(id)).length;
    malformedReplayNote = `the embedded replay of the same input incl. the malformed records: ${r.ids.size} alerts, ${real} of the ${expected.ids.size} expected`;
    out(`  ${malformedReplayNote} (${r.summary})`);
  }

  const results: CaseResult[] = [];
  try {
    const ks = await kafka.start(true);
    const cs = await ch.start(true);
    out(`  own services: kafka ${kafka.brokers[0]} (${ks.toFixed(1)} s), clickhouse ${ch.url} (${cs.toFixed(1)} s)`);
    for (const name of cases as CaseName[]) {
      if (interrupted) break;
      if (!kafka.running()) await kafka.start();
      if (!ch.running()) await ch.start();
      const res = await runCase(name, { root, cli, runId, outDir, kafka, ch, plan, malformed, outageSecs, quietSecs: Number(values['quiet-seconds']), timeoutSecs, keep: values.keep, expected: expected.ids, expectedLabels: expected.labels, expectedKeys: expected.keys, log: out });
      if (name === 'malformed' && malformedReplayNote) res.notes.push(malformedReplayNote);
      results.push(res);
      out(resultTable([res]).split('\n').slice(2).join('\n'));
      out(`  ${name}: ${res.secs.toFixed(0)} s`);
    }
  } finally {
    await Promise.all([...liveRunners].map((r) => r.signal('SIGKILL', 5000)));
    await kafka.stop();
    await ch.stop();
  }

  out('');
  out(resultTable(results));
  out('');
  out(`case runtimes: ${results.map((r) => `${r.name} ${r.secs.toFixed(0)} s`).join(', ')}; total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const json = {
    run_id: runId,
    records: plan.records,
    simulation: { hours: plan.hours, scale: plan.scale },
    malformed,
    outage_seconds: outageSecs,
    expected_alert_ids: [...expected.ids.keys()].sort(),
    results: results.map((r) => ({ ...r, recoverySecs: r.recoverySecs === undefined ? null : Number.isFinite(r.recoverySecs) ? r.recoverySecs : 'never' })),
  };
  const outPath = resolve(root, values.out);
  mkdirSync(resolve(outPath, '..'), { recursive: true });
  writeFileSync(outPath, JSON.stringify(json, null, 2) + '\n');
  out(`details: ${outPath}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
