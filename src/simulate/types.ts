import type { SourceFormat } from '../../schemas/token-event.js';

/** One raw vendor record and the event time its normalizer will read from it. */
export interface SimEvent {
  format: SourceFormat;
  time: number;
  record: Record<string, unknown>;
  /**
   * When it really happened, if the record's own clock is off (a gateway node with a skewed
   * clock writes `time` = at + skew). Actors and the merge order by `at ?? time`.
   */
  at?: number;
  /** Delivery lag: the record reaches the stream this long after `at ?? time` (a late source). */
  delay?: number;
  /** Set on records an attacker produced (ground truth: everything else is benign). */
  attack?: string;
}

/** An actor: lazily produces its events in non-decreasing time order, none before `start`. */
export interface ActorSpec {
  start: number;
  make: () => Iterator<SimEvent>;
}

/** Extra work an attack injects into a background replica (a credential it will steal). */
export interface Injection {
  time: number;
  /** Pre-chosen credential id, known up front so the attack list can name it. */
  credentialId: string;
  /** For STS chains: inject into the chained session instead of the instance session. */
  target: 'instance' | 'chain' | 'oauth';
  /** OAuth only: rotate to a fresh token at this time (before an admin revokes the injected one). */
  rotateAt?: number;
}
