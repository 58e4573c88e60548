/**
 * CPU time of the processes the bench shares the machine with, so each phase can say where its
 * cores went: the runner (its worker reports its own), the Kafka broker (read from /proc, the pid
 * scripts/kafka/start.sh wrote) and the bench process itself (producer and alert watcher).
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on Linux). */
const TICKS_PER_SEC = 100;

/** The local broker's pid when scripts/kafka/start.sh runs it (undefined: another broker, or none). */
export function localBrokerPid(pidFile = '.local/kafka/kafka.pid'): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes('kafka.Kafka') ? pid : undefined;
  } catch {
    return undefined;
  }
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

const ownCpuMicros = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** CPU µs spent by the broker and by this process between `start` and `stop`. */
export class CpuWindow {
  private readonly broker0: number | undefined;
  private readonly own0 = ownCpuMicros();

  constructor(private readonly brokerPid: number | undefined) {
    this.broker0 = brokerPid === undefined ? undefined : processCpuMicros(brokerPid);
  }

  stop(): { brokerMicros: number | undefined; benchMicros: number } {
    const b1 = this.brokerPid === undefined ? undefined : processCpuMicros(this.brokerPid);
    return { brokerMicros: b1 === undefined || this.broker0 === undefined ? undefined : b1 - this.broker0, benchMicros: ownCpuMicros() - this.own0 };
  }
}
