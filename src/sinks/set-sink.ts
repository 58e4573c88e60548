/**
 * Security Event Token sink: critical replay/context alerts → RFC 8417 SETs with OpenID SSF/CAEP
 * event types, pushed to a receiver per RFC 8935 (one SET per POST, `Content-Type:
 * application/secevent+jwt`, 202 Accepted; a 400 with `{"err": …}` is a permanent rejection).
 *
 * Subject: SSF names the principal whose sessions/credentials are affected, as an RFC 9493
 * subject identifier in the top-level `sub_id` claim: `email` when the alert's subject is an email
 * address, else `iss_sub` from the alert's issuer and subject. Never the token or its fingerprint
 * (a receiver cannot act on a fingerprint, and a token must never leave tokenwatch). An alert
 * with no subject yields no SET (counted in `stats.skipped_no_subject`).
 *
 * Signing: `alg: none` (an unsecured SET, RFC 8417 §2.2, for receivers on a trusted channel),
 * HS256 with a shared secret, RS256 or ES256 with a PEM private key — secrets and keys come from
 * environment variables named in the config. `jti` is derived from the alert id and event type,
 * so a redelivered SET keeps its jti and the receiver drops the duplicate (RFC 8935 §2.3).
 */
import { createHash, createHmac, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import type { Alert, Severity } from '../../schemas/alert.js';
import { SEVERITIES } from '../../schemas/alert.js';
import { TokenwatchError } from '../core/errors.js';
import { HttpBatcher, HttpDeliveryError, postOnce, type HttpDeliveryConfig } from './http-batcher.js';

export const CAEP_SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
export const CAEP_CREDENTIAL_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/credential-change';
export type SetEventName = 'session-revoked' | 'credential-change';
const EVENT_URIS: Record<SetEventName, string> = { 'session-revoked': CAEP_SESSION_REVOKED, 'credential-change': CAEP_CREDENTIAL_CHANGE };

export type SetAlg = 'none' | 'HS256' | 'RS256' | 'ES256';

export interface SetSinkConfig {
  /** Receiver's push endpoint (RFC 8935). */
  url: string;
  /** `iss` of the SETs: this transmitter. */
  issuer: string;
  /** `aud`: the receiver. */
  audience: string | string[];
  alg: SetAlg;
  /** Env var holding the HS256 secret or the RS256/ES256 PEM private key. */
  key_env?: string;
  kid?: string;
  /** Env var holding the receiver's bearer token (Authorization: Bearer …). */
  bearer_env?: string;
  /** Lowest severity turned into a SET. */
  min_severity: Severity;
  /** CAEP event per detector; alerts of other detectors yield no SET. */
  events: Record<string, SetEventName>;
  /** credential-change `credential_type`: CAEP has no API-key type; `password` is its shared-secret type. */
  credential_type: string;
  delivery?: Partial<HttpDeliveryConfig>;
}

export const DEFAULT_SET_EVENTS: Readonly<Record<string, SetEventName>> = {
  token_replay: 'session-revoked',
  credential_context: 'credential-change',
};

export interface SetSinkOptions {
  config: SetSinkConfig;
  env?: Record<string, string | undefined>;
  /** Issue time source (ms); defaults to Date.now — iat is when the SET is issued, not the event time. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface SetSinkStats {
  sets: number;
  skipped_no_subject: number;
  /** SETs the receiver rejected with 400 (RFC 8935 error codes). */
  rejected: number;
}

interface SignedSet {
  jti: string;
  jwt: string;
}

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

export class SetSink {
  readonly setStats: SetSinkStats = { sets: 0, skipped_no_subject: 0, rejected: 0 };
  private readonly cfg: SetSinkConfig;
  private readonly batcher: HttpBatcher<SignedSet>;
  private readonly key: KeyObject | Buffer | undefined;
  private readonly bearer: string | undefined;
  private readonly now: () => number;
  private readonly minRank: number;

  constructor(opts: SetSinkOptions) {
    const env = opts.env ?? process.env;
    this.cfg = opts.config;
    this.now = opts.now ?? Date.now;
    this.minRank = SEVERITIES.indexOf(opts.config.min_severity);
    if (opts.config.alg !== 'none') {
      const material = opts.config.key_env ? env[opts.config.key_env] : undefined;
      if (!material) throw new TokenwatchError('config_invalid', `sinks.set: alg ${opts.config.alg} needs key_env naming a set environment variable`);
      try {
        this.key = opts.config.alg === 'HS256' ? Buffer.from(material, 'utf8') : createPrivateKey(material);
      } catch (cause) {
        throw new TokenwatchError('config_invalid', `sinks.set: ${opts.config.key_env} is not a PEM private key`, undefined, { cause });
      }
    }
    if (opts.config.bearer_env) {
      this.bearer = env[opts.config.bearer_env];
      if (!this.bearer) throw new TokenwatchError('config_invalid', `sinks.set: environment variable ${opts.config.bearer_env} (bearer_env) is not set`);
    }
    this.batcher = new HttpBatcher<SignedSet>({
      name: 'set',
      send: (batch) => this.push(batch),
      config: opts.config.delivery,
      ...(opts.sleep && { sleep: opts.sleep }),
      ...(opts.random && { random: opts.random }),
    });
  }

  get stats() {
    return this.batcher.stats;
  }

  get queueDepth(): number {
    return this.batcher.queueDepth;
  }

  /** The SETs for these alerts (those that qualify), signed. */
  toSets(alerts: readonly Alert[]): SignedSet[] {
    const out: SignedSet[] = [];
    for (const a of alerts) {
      const event = this.cfg.events[a.detector];
      if (!event || SEVERITIES.indexOf(a.severity) < this.minRank) continue;
      const claims = this.claims(a, event);
      if (!claims) {
        this.setStats.skipped_no_subject++;
        continue;
      }
      out.push({ jti: claims.jti as string, jwt: this.sign(claims) });
    }
    this.setStats.sets += out.length;
    return out;
  }

  /** Resolves once the SETs for `alerts` were accepted by the receiver. */
  write(alerts: readonly Alert[]): Promise<void> {
    return this.batcher.write(this.toSets(alerts));
  }

  /** Resolves once queued (backpressure when the receiver falls behind). */
  offer(alerts: readonly Alert[]): Promise<void> {
    return this.batcher.offer(this.toSets(alerts));
  }

  flush(): Promise<void> {
    return this.batcher.flush();
  }

  close(): Promise<void> {
    return this.batcher.close();
  }

  /** RFC 8417 claims for one alert, or undefined when the alert names no principal. */
  claims(a: Alert, event: SetEventName): Record<string, unknown> | undefined {
    const subject = a.subject;
    if (!subject) return undefined;
    const sub_id = EMAIL.test(subject) ? { format: 'email', email: subject } : a.issuer ? { format: 'iss_sub', iss: a.issuer, sub: subject } : { format: 'opaque', id: subject };
    const reason = { en: `tokenwatch ${a.detector}/${a.kind} (${a.severity}): ${a.title}` };
    const event_timestamp = Math.floor(Date.parse(a.first_seen) / 1000);
    const body: Record<string, unknown> =
      event === 'session-revoked'
        ? { event_timestamp, initiating_entity: 'policy', reason_admin: reason }
        : { event_timestamp, initiating_entity: 'policy', reason_admin: reason, credential_type: this.cfg.credential_type, change_type: 'revoke' };
    return {
      iss: this.cfg.issuer,
      aud: this.cfg.audience,
      iat: Math.floor(this.now() / 1000),
      jti: createHash('sha256').update(`${a.alert_id}\u0000${event}`).digest('hex').slice(0, 32),
      // RFC 8417 §2.2 txn: the alert id, to correlate with the alert topic and the store
      txn: a.alert_id,
      sub_id,
      events: { [EVENT_URIS[event]]: body },
    };
  }

  private sign(claims: Record<string, unknown>): string {
    const header: Record<string, string> = { alg: this.cfg.alg, typ: 'secevent+jwt' };
    if (this.cfg.kid) header.kid = this.cfg.kid;
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    switch (this.cfg.alg) {
      case 'none':
        return `${input}.`;
      case 'HS256':
        return `${input}.${createHmac('sha256', this.key as Buffer).update(input).digest('base64url')}`;
      case 'RS256':
        return `${input}.${sign('sha256', Buffer.from(input), this.key as KeyObject).toString('base64url')}`;
      case 'ES256':
        return `${input}.${sign('sha256', Buffer.from(input), { key: this.key as KeyObject, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    }
  }

  /** One POST per SET (RFC 8935); accepted SETs leave the batch so a retry resends only the rest. */
  private async push(batch: SignedSet[]): Promise<void> {
    const headers: Record<string, string> = { 'content-type': 'application/secevent+jwt', accept: 'application/json' };
    if (this.bearer) headers.authorization = `Bearer ${this.bearer}`;
    while (batch.length > 0) {
      const set = batch[0]!;
      try {
        await postOnce(this.cfg.url, set.jwt, headers, this.batcherTimeout(), (s) => s === 202 || s === 200);
      } catch (err) {
        // 400: the receiver refused this SET for good (invalid_request, invalid_key, …): drop it, go on
        if (err instanceof HttpDeliveryError && err.status === 400) {
          this.setStats.rejected++;
          batch.shift();
          continue;
        }
        throw err;
      }
      batch.shift();
    }
  }

  private batcherTimeout(): number {
    return this.batcher.config.timeout_ms;
  }
}

function b64url(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64url');
}
