/**
 * The local broker's requests by API while a bench phase runs (`bench:kafka --request-mix`): the
 * broker's request logger is switched to DEBUG with its own tool (`kafka-configs --entity-type
 * broker-loggers`, no restart) and back to WARN after, and the lines it wrote meanwhile are
 * counted by API and by who sent them. The logging costs the broker CPU, so the phase's broker
 * figures are not comparable with a run without it. Local broker only (scripts/kafka/start.sh).
 */
import { execFile } from 'node:child_process';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);
const KDIR = '.local/kafka';
const LOG = `${KDIR}/server.log`;

async function setRequestLogger(bootstrap: string, level: 'DEBUG' | 'WARN'): Promise<void> {
  await run('java', [
    '-Xmx256m', '-XX:TieredStopAtLevel=1', `-Dlog4j.configuration=file:${KDIR}/tools-log4j.properties`, '-cp', `${KDIR}/libs/*`,
    'kafka.admin.ConfigCommand', '--bootstrap-server', bootstrap, '--entity-type', 'broker-loggers', '--entity-name', '1', '--alter', '--add-config', `kafka.request.logger=${level}`,
  ]);
}

/** Who sent a request, from its client id: the runner, the broker itself (transaction markers, partition verification) or the bench. */
function senderOf(clientId: string, runnerClientId: string): 'runner' | 'broker' | 'bench' {
  if (clientId === runnerClientId) return 'runner';
  if (clientId.startsWith('tw-bench')) return 'bench';
  return 'broker';
}

export interface RequestMix {
  seconds: number;
  /** Requests per API and sender over the window. */
  counts: Map<string, { runner: number; broker: number; bench: number }>;
}

export class BrokerRequestMix {
  private constructor(
    private readonly bootstrap: string,
    private readonly from: number,
    private readonly t0: number,
  ) {}

  static async start(bootstrap: string): Promise<BrokerRequestMix> {
    const from = statSync(LOG).size;
    await setRequestLogger(bootstrap, 'DEBUG');
    return new BrokerRequestMix(bootstrap, from, performance.now());
  }

  async stop(runnerClientId: string): Promise<RequestMix> {
    await setRequestLogger(this.bootstrap, 'WARN');
    const seconds = (performance.now() - this.t0) / 1000;
    const size = statSync(LOG).size;
    const buf = Buffer.alloc(size - this.from);
    const fd = openSync(LOG, 'r');
    try {
      readSync(fd, buf, 0, buf.length, this.from);
    } finally {
      closeSync(fd);
    }
    const counts = new Map<string, { runner: number; broker: number; bench: number }>();
    for (const line of buf.toString('utf8').split('\n')) {
      const api = /"requestApiKeyName":"(\w+)"/.exec(line)?.[1];
      const client = /"clientId":"([^"]*)"/.exec(line)?.[1];
      if (api === undefined || client === undefined) continue;
      let c = counts.get(api);
      if (!c) counts.set(api, (c = { runner: 0, broker: 0, bench: 0 }));
      c[senderOf(client, runnerClientId)]++;
    }
    return { seconds, counts };
  }
}

/** One line per API, busiest first: requests a second from the runner / the broker itself / the bench. */
export function formatRequestMix(mix: RequestMix): string[] {
  const rate = (n: number): string => (n / mix.seconds).toFixed(0);
  return [...mix.counts]
    .filter(([, c]) => (c.runner + c.broker + c.bench) / mix.seconds >= 0.5) // the bench's own config calls and heartbeats
    .sort((a, b) => b[1].runner + b[1].broker + b[1].bench - (a[1].runner + a[1].broker + a[1].bench))
    .map(([api, c]) => `${api} ${rate(c.runner)} / ${rate(c.broker)} / ${rate(c.bench)}`);
}
