/**
 * `policy suggest` and `policy check` over logs: the embedded runner's own decode → normalize →
 * enrich → engine path (same formats, envelopes, dead letters), with only the detectors each
 * needs — none for suggest (its events are collected through the runner's store hook), only
 * policy_violation for check.
 */
import { Writable } from 'node:stream';
import type { Policy } from '../../schemas/policy.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import type { TokenwatchConfig } from '../config/config-schema.js';
import type { Fingerprinter } from '../core/fingerprint.js';
import type { DeadLetter } from '../sinks/dead-letter-file.js';
import { runReplay, type ReplayInput, type ReplayStore, type ReplaySummary } from '../runners/embedded-runner.js';
import { PolicySuggester, type SuggestOptions, type SuggestSummary } from './suggest-policy.js';

export interface PolicyReplayOptions {
  config: TokenwatchConfig;
  inputs: readonly ReplayInput[];
  fingerprint: Fingerprinter;
  deadLetters: { write(dl: DeadLetter): Promise<void> };
}

/** Feeds every normalized (and enriched) event to a callback; stores nothing. */
function collectingStore(onEvents: (events: readonly TokenEvent[]) => void): ReplayStore {
  return {
    writeAlerts: async () => {},
    writeInventory: async () => {},
    writeEvents: async (events) => onEvents(events),
    flush: async () => {},
  };
}

const discard = (): Writable => new Writable({ write: (_chunk, _enc, cb) => cb() });

export async function suggestPolicy(opts: PolicyReplayOptions & { suggest: SuggestOptions }): Promise<{ policy: Policy; stats: SuggestSummary; replay: ReplaySummary }> {
  const suggester = new PolicySuggester(opts.suggest);
  const config: TokenwatchConfig = { ...opts.config, store: { ...opts.config.store, write_events: true } };
  const replay = await runReplay({
    config,
    inputs: opts.inputs,
    fingerprint: opts.fingerprint,
    alertsOut: discard(),
    deadLetters: opts.deadLetters,
    store: collectingStore((events) => {
      for (const e of events) suggester.observe(e);
    }),
    onlyDetectors: [],
  });
  return { policy: suggester.policy(), stats: suggester.stats(), replay };
}

/** Replays the logs with only policy_violation, judging against `policy`; alerts go to `alertsOut`. */
export async function checkPolicy(opts: PolicyReplayOptions & { policy: Policy; alertsOut: Writable }): Promise<ReplaySummary> {
  const detectors = { ...opts.config.detectors, policy_violation: { ...(opts.config.detectors.policy_violation ?? {}), policy: opts.policy } };
  return runReplay({
    config: { ...opts.config, detectors },
    inputs: opts.inputs,
    fingerprint: opts.fingerprint,
    alertsOut: opts.alertsOut,
    deadLetters: opts.deadLetters,
    onlyDetectors: ['policy_violation'],
  });
}
