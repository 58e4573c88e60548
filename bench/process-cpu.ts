/**
 * CPU time of the processes the bench shares the machine with, so each phase can say where its
 * cores went: the runner (its worker reports its own), the Kafka broker and the ClickHouse server
 * (read from /proc, the pids scripts/kafka/start.sh and scripts/clickhouse/start.sh wrote) and the
 * bench process itself (producer and alert watcher).
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on Linux). */
const TICKS_PER_SEC = 100;

/** A pid from a pid file when /proc says it runs `command` (undefined: not running, or another process). */
function runningPid(pidFile: string, command: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes(command) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The local broker's pid when scripts/kafka/start.sh runs it (undefined: another broker, or none). */
export function localBrokerPid(pidFile = '.local/kafka/kafka.pid'): number | undefined {
  return runningPid(pidFile, 'kafka.Kafka');
}

/** The local ClickHouse server's pid when scripts/clickhouse/start.sh runs it (undefined otherwise). */
export function localClickHousePid(pidFile = '.local/clickhouse/clickhouse.pid'): number | undefined {
  return runningPid(pidFile, 'clickhouse');
}

/** User + system CPU µs of a process so far (all threads); undefined when it cannot be read. */
export function processCpuMicros(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name (which may hold spaces, so split after its closing paren)
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]); // utime, stime: fields 14 and 15 of stat(5)
    return Number.isFinite(ticks) ? (ticks * 1e6) / TICKS_PER_SEC : undefined;
  } catch {
    return undefined;
  }
}

/**
 * This process's peak resident set (bytes): /proc/self/status's VmHWM, the high-water mark of its own
 * address space. Not process.resourceUsage().maxRSS: Linux carries the parent's high-water mark over
 * fork and exec into a child's ru_maxrss, so a runner forked by the bench reported the bench's RSS
 * at fork when that was larger (measured: a child of a 642 MiB parent said 604 MiB, VmHWM 42).
 * Falls back to maxRSS where /proc is not there.
 */
export function peakRssBytes(status = '/proc/self/status'): number {
  try {
    const kib = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(status, 'utf8'))?.[1];
    if (kib !== undefined) return Number(kib) * 1024;
  } catch {
    // not Linux: below
  }
  return process.resourceUsage().maxRSS * 1024; // maxRSS is in KiB
}

const ownCpuMicros = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** CPU µs of a process between two readings (undefined when either failed). */
const since = (pid: number | undefined, at0: number | undefined): number | undefined => {
  const at1 = pid === undefined ? undefined : processCpuMicros(pid);
  return at1 === undefined || at0 === undefined ? undefined : at1 - at0;
};

/** CPU µs spent by the broker, the ClickHouse server and this process between `start` and `stop`. */
export class CpuWindow {
  private readonly broker0: number | undefined;
  private readonly clickhouse0: number | undefined;
  private readonly own0 = ownCpuMicros();

  constructor(private readonly brokerPid: number | undefined, private readonly clickhousePid?: number) {
    this.broker0 = brokerPid === undefined ? undefined : processCpuMicros(brokerPid);
    this.clickhouse0 = clickhousePid === undefined ? undefined : processCpuMicros(clickhousePid);
  }

  stop(): { brokerMicros: number | undefined; clickhouseMicros: number | undefined; benchMicros: number } {
    return { brokerMicros: since(this.brokerPid, this.broker0), clickhouseMicros: since(this.clickhousePid, this.clickhouse0), benchMicros: ownCpuMicros() - this.own0 };
  }
}
