/**
 * A `tokenwatch run --config FILE` child process of the chaos harness, with a supervisor's
 * restart: when it exits on its own (the consumer crashed for good), it is started again after
 * a second, as a container orchestrator would, and the exit is counted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { CHAOS_HMAC_KEY } from './chaos-observe.js';

/** Every live runner child, so Ctrl-C and errors can end them. */
export const liveRunners = new Set<RunnerProcess>();

export class RunnerProcess {
  private child: ChildProcess | undefined;
  private stopping = false;
  /** Exits the harness did not ask for. */
  unexpectedExits: string[] = [];
  starts = 0;

  constructor(
    private readonly root: string,
    /** bin/tokenwatch.js of the harness's snapshot of dist/ */
    private readonly cli: string,
    private readonly configPath: string,
    readonly logPath: string,
  ) {}

  start(): void {
    this.stopping = false;
    const fd = openSync(this.logPath, 'a');
    const child = spawn(process.execPath, [this.cli, 'run', '--config', this.configPath], {
      cwd: this.root,
      env: { ...process.env, TOKENWATCH_HMAC_KEY: CHAOS_HMAC_KEY },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    this.child = child;
    this.starts++;
    liveRunners.add(this);
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      if (this.stopping) return;
      this.unexpectedExits.push(signal ?? `exit ${code}`);
      setTimeout(() => {
        if (!this.stopping && this.child === child) this.start();
      }, 1000);
    });
  }

  running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Send a signal and wait for the exit; SIGKILL after `graceMs`. No restart afterwards. */
  async signal(sig: NodeJS.Signals, graceMs = 45_000): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      liveRunners.delete(this);
      return;
    }
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(sig);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
    liveRunners.delete(this);
  }
}

/**
 * What the runners' own logs say about the case (pino JSON lines): consumer crashes inside the
 * process, group joins, and task state dropped / restored on assignment (summed numeric fields).
 */
/** Counters of the runner's final "stopped" line (processes that were SIGKILLed never write one). */
const STOPPED_COUNTERS = ['records_in', 'records_invalid', 'events_implausible', 'events_detected', 'alerts'];

export function summarizeRunnerLogs(paths: readonly string[]): string[] {
  let crashes = 0;
  let joins = 0;
  const sums = new Map<string, number>();
  for (const path of paths) {
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue;
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      const msg = typeof rec.msg === 'string' ? rec.msg : '';
      if (msg === 'kafka consumer crashed') crashes++;
      if (msg === 'joined consumer group') joins++;
      const keys = msg === 'stopped' ? STOPPED_COUNTERS : ['tasks_dropped', 'tasks_restored'];
      for (const k of keys) if (typeof rec[k] === 'number') sums.set(k, (sums.get(k) ?? 0) + (rec[k] as number));
    }
  }
  const fmt = (ks: readonly string[]): string => [...sums].filter(([k]) => ks.includes(k)).map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`).join(', ');
  const final = fmt(STOPPED_COUNTERS);
  const out = [`runner logs: ${[`${joins} group joins`, fmt(['tasks_dropped', 'tasks_restored'])].filter(Boolean).join(', ')}${final ? `; final counters of the runners stopped by SIGTERM: ${final}` : ''}`];
  if (crashes > 0) out.push(`kafka consumer crashed (and restarted in-process) ${crashes}×`);
  return out;
}
