/**
 * Token hygiene (OWASP NHI 2025: NHI1 improper offboarding, NHI5 overprivileged, NHI7 long-lived
 * secrets, NHI10 human use of NHI) as SQL over the stored inventory and token events.
 *
 * One SELECT yields every finding as a row of the same shape (`HYGIENE_COLUMNS`); a second gives
 * revocation latency per service. Both are the bodies of the `hygiene_findings` and
 * `revocation_latency` views (reference time `now()`) and of `tokenwatch inventory` (reference
 * time = the newest stored event, so replayed history is judged as of its own end).
 *
 * Written for ClickHouse 18.16 as well as current versions: no query parameters, JOIN … USING,
 * explicit casts so UNION ALL branches have identical types, times converted with toDateTime()
 * (DateTime64 on modern servers, DateTime on 18.x) and compared in whole seconds.
 */

/** Thresholds baked into the views; the report uses the same. */
export const HYGIENE_THRESHOLDS = {
  /** A long-term credential older than this is unrotated (CIS AWS 1.14, NHI7: rotate every 90 days). */
  rotate_days: 90,
  /** Above this age an unrotated credential is high severity. */
  stale_days: 365,
  /** A credential whose configured lifetime exceeds this is long-lived. */
  max_lifetime_days: 90,
  /** A gap between two uses at least this long is dormancy (AWS IAM Access Analyzer's unused-access default is 90; 30 catches it earlier). */
  dormant_days: 30,
  /** A live credential this old (from mint or first sighting) with no use is never used. */
  never_used_days: 7,
} as const;

/** Credentials that do not expire on their own: they must be rotated and owned. */
export const LONG_TERM_KINDS = ['aws_access_key', 'gcp_sa_key', 'api_key', 'app_secret', 'app_certificate', 'vault_token'] as const;
/** Kinds that always belong to a service identity (plus any credential bound to a workload). */
export const SERVICE_KINDS = [...LONG_TERM_KINDS, 'k8s_sa_token', 'gcp_access'] as const;
/** Subjects that name a service identity. */
export const SERVICE_SUBJECT_PATTERN = '(gserviceaccount\\.com$|^system:serviceaccount:|^serviceAccount:|(^|[-_./:])(svc|service|bot|robot|ci|deploy(er)?)([-_./@]|$))';
/** User agents of a person at a browser or an interactive API client. */
export const HUMAN_USER_AGENT_PATTERN = '(^Mozilla/|PostmanRuntime/|^insomnia/|^Paw/)';
/** Subjects of a person: first.last@domain (a service identity acting as a person shows this). */
export const PERSON_SUBJECT_PATTERN = '^[A-Za-z]+[._-][A-Za-z]+@[A-Za-z0-9.-]+\\.[A-Za-z]+$';

export const HYGIENE_FINDING_KINDS = [
  'unrotated_credential',
  'long_lived_credential',
  'dormant_then_active',
  'never_used',
  'unused_scopes',
  'no_owner',
  'human_use_of_service_identity',
  'use_after_revoke',
] as const;
export type HygieneFindingKind = (typeof HYGIENE_FINDING_KINDS)[number];

/** Columns of every finding row, in order. */
export const HYGIENE_COLUMNS = ['finding', 'severity', 'owasp_nhi', 'token_fp', 'token_kind', 'issuer', 'subject', 'service', 'age_days', 'seen_at', 'detail'] as const;

const lit = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const list = (xs: readonly string[]): string => `(${xs.map(lit).join(', ')})`;
/** Unix seconds of a (possibly Nullable) DateTime/DateTime64 column. */
const secs = (col: string): string => `toUInt32(toDateTime(${col}))`;

/** One finding branch with the shared column list and types. */
function branch(p: {
  finding: HygieneFindingKind;
  severity: string;
  nhi: string;
  token_fp?: string;
  token_kind?: string;
  issuer?: string;
  subject?: string;
  service?: string;
  age_days?: string;
  seen_at: string; // unix seconds expression
  detail: string;
  from: string;
}): string {
  return `SELECT
  ${lit(p.finding)} AS finding,
  toString(${p.severity}) AS severity,
  ${lit(p.nhi)} AS owasp_nhi,
  toString(${p.token_fp ?? "''"}) AS token_fp,
  toString(${p.token_kind ?? "''"}) AS token_kind,
  toString(${p.issuer ?? "''"}) AS issuer,
  toString(${p.subject ?? "''"}) AS subject,
  toString(${p.service ?? "''"}) AS service,
  toUInt32(${p.age_days ?? '0'}) AS age_days,
  toUInt32(${p.seen_at}) AS seen_at,
  toString(${p.detail}) AS detail
FROM ${p.from}`;
}

/**
 * Every hygiene finding as of `ref` (an expression of Unix seconds, e.g. `toUInt32(now())`).
 * `db` must already be a checked identifier.
 */
export function hygieneFindingsSelect(db: string, ref: string): string {
  const t = HYGIENE_THRESHOLDS;
  const day = 86400;
  const inv = `(SELECT
    token_fp, toString(kind) AS kind_s, toString(issuer) AS issuer_s, subject, minted_by, use_count,
    ${secs('ifNull(minted_at, first_seen)')} AS born, ${secs('last_seen')} AS last_seen_s,
    if(isNull(expires_at), 0, ${secs('assumeNotNull(expires_at)')}) AS expires_s,
    if(isNull(revoked_at), 0, ${secs('assumeNotNull(revoked_at)')}) AS revoked_s,
    ifNull(lifetime_ms, 0) AS lifetime_ms,
    services
  FROM ${db}.token_inventory FINAL)`;
  const live = `revoked_s = 0 AND (expires_s = 0 OR expires_s > ${ref})`;
  const age = `intDiv(greatest(toInt64(${ref}) - toInt64(born), 0), ${day})`;
  const longTerm = `kind_s IN ${list(LONG_TERM_KINDS)}`;

  const unrotated = branch({
    finding: 'unrotated_credential',
    severity: `if(${age} >= ${t.stale_days}, 'high', 'medium')`,
    nhi: 'NHI7',
    token_fp: 'token_fp', token_kind: 'kind_s', issuer: 'issuer_s', subject: 'subject',
    age_days: age,
    seen_at: 'last_seen_s',
    detail: `concat('long-term credential not rotated for ', toString(${age}), ' days (rotate within ${t.rotate_days})')`,
    from: `${inv} WHERE ${longTerm} AND ${live} AND ${age} >= ${t.rotate_days}`,
  });
  const lifetimeDays = `intDiv(lifetime_ms, ${day * 1000})`;
  const longLived = branch({
    finding: 'long_lived_credential',
    severity: `'medium'`,
    nhi: 'NHI7',
    token_fp: 'token_fp', token_kind: 'kind_s', issuer: 'issuer_s', subject: 'subject',
    age_days: age,
    seen_at: 'last_seen_s',
    detail: `concat('issued to live ', toString(${lifetimeDays}), ' days (more than ${t.max_lifetime_days})')`,
    from: `${inv} WHERE ${live} AND ${lifetimeDays} > ${t.max_lifetime_days}`,
  });
  const neverUsed = branch({
    finding: 'never_used',
    severity: `if(${longTerm}, 'medium', 'low')`,
    nhi: 'NHI1',
    token_fp: 'token_fp', token_kind: 'kind_s', issuer: 'issuer_s', subject: 'subject',
    age_days: age,
    seen_at: 'last_seen_s',
    detail: `concat('live for ', toString(${age}), ' days and never used: revoke it')`,
    from: `${inv} WHERE ${live} AND use_count = 0 AND ${age} >= ${t.never_used_days}`,
  });
  const noOwner = branch({
    finding: 'no_owner',
    severity: `'medium'`,
    nhi: 'NHI1',
    token_fp: 'token_fp', token_kind: 'kind_s', issuer: 'issuer_s',
    age_days: age,
    seen_at: 'last_seen_s',
    detail: `'long-term credential with no subject and no creator on record'`,
    from: `${inv} WHERE ${longTerm} AND ${live} AND subject = '' AND minted_by = ''`,
  });

  // Dormancy: the longest gap between consecutive uses (stored events, plus the inventory's first
  // use, which outlives the events' TTL), ending in a use that resumed activity.
  const dormant = branch({
    finding: 'dormant_then_active',
    severity: `if(revoked_s > 0, 'high', 'medium')`,
    nhi: 'NHI1',
    token_fp: 'token_fp', token_kind: 'kind_s', issuer: 'issuer_s', subject: 'subject',
    age_days: `intDiv(max_gap, ${day})`,
    seen_at: 'resumed_at',
    detail: `concat('unused for ', toString(intDiv(max_gap, ${day})), ' days, then used again')`,
    from: `(
  SELECT token_fp, kind_s, issuer_s, subject, revoked_s, max_gap, ts[indexOf(gaps, max_gap)] AS resumed_at
  FROM (
    SELECT token_fp, kind_s, issuer_s, subject, revoked_s, ts, arrayDifference(ts) AS gaps, arrayReduce('max', gaps) AS max_gap
    FROM (
      SELECT token_fp, kind_s, issuer_s, subject, revoked_s,
        arraySort(if(first_use_s > 0, arrayPushFront(use_times, first_use_s), use_times)) AS ts
      FROM (SELECT token_fp, groupArray(${secs('time')}) AS use_times FROM ${db}.token_events WHERE action = 'use' GROUP BY token_fp) AS uses
      INNER JOIN (
        SELECT token_fp, toString(kind) AS kind_s, toString(issuer) AS issuer_s, subject,
          if(isNull(first_use), 0, ${secs('assumeNotNull(first_use)')}) AS first_use_s,
          if(isNull(revoked_at), 0, ${secs('assumeNotNull(revoked_at)')}) AS revoked_s
        FROM ${db}.token_inventory FINAL
      ) AS inventory USING (token_fp)
    )
  )
  WHERE max_gap >= ${t.dormant_days * day}
)`,
  });

  // Granted but never used, per issuer (the role/app that holds the grant): only where some event
  // reported the scopes actually used, otherwise nothing is known about use.
  const unusedScopes = branch({
    finding: 'unused_scopes',
    severity: `if(length(unused) * 2 >= n_granted, 'medium', 'low')`,
    nhi: 'NHI5',
    issuer: 'issuer_s',
    seen_at: 'last_seen_s',
    detail: `concat(toString(length(unused)), ' of ', toString(n_granted), ' granted scopes never used: ', arrayStringConcat(arraySort(unused), ' '))`,
    from: `(
  -- one row per granted scope (18.16 lambdas cannot capture another column, so no arrayFilter over \`used\`)
  SELECT issuer_s, any(n_granted) AS n_granted, max(max_seen_s) AS last_seen_s, groupArray(scope) AS unused
  FROM (
    SELECT issuer_s, length(granted) AS n_granted, max_seen_s, used, arrayJoin(granted) AS scope
    FROM (
      SELECT toString(issuer) AS issuer_s, groupUniqArrayArray(scopes) AS granted, max(${secs('last_seen')}) AS max_seen_s
      FROM ${db}.token_inventory FINAL WHERE toString(issuer) != '' GROUP BY issuer_s
    ) AS granted_by_issuer
    INNER JOIN (
      SELECT toString(issuer) AS issuer_s, groupUniqArrayArray(scopes_used) AS used
      FROM ${db}.token_events WHERE action = 'use' AND notEmpty(scopes_used) AND toString(issuer) != '' GROUP BY issuer_s
    ) AS used_by_issuer USING (issuer_s)
  )
  WHERE NOT has(used, scope)
  GROUP BY issuer_s
)`,
  });

  const serviceIdentity = `(token_kind IN ${list(SERVICE_KINDS)} OR workload_kind != '' OR match(subject, ${lit(SERVICE_SUBJECT_PATTERN)}))`;
  const humanSignal = `(match(user_agent, ${lit(HUMAN_USER_AGENT_PATTERN)}) OR (token_kind IN ${list(SERVICE_KINDS)} AND match(subject, ${lit(PERSON_SUBJECT_PATTERN)})))`;
  const humanUse = branch({
    finding: 'human_use_of_service_identity',
    severity: `'high'`,
    nhi: 'NHI10',
    token_fp: 'token_fp', token_kind: 'kind_s', issuer: 'issuer_s', subject: 'subject_s', service: 'service_s',
    seen_at: 'last_s',
    detail: `concat(toString(uses), ' uses by a person (', agent, ') of a service identity')`,
    from: `(
  SELECT token_fp, any(toString(token_kind)) AS kind_s, any(toString(issuer)) AS issuer_s, any(subject) AS subject_s,
    any(toString(service)) AS service_s, any(user_agent) AS agent, uniqExact(event_id) AS uses, max(${secs('time')}) AS last_s
  FROM ${db}.token_events
  WHERE action = 'use' AND ${serviceIdentity} AND ${humanSignal}
  GROUP BY token_fp
)`,
  });

  const afterRevoke = branch({
    finding: 'use_after_revoke',
    severity: `if(accepted_uses > 0, 'critical', 'low')`,
    nhi: 'NHI1',
    service: 'service',
    age_days: `intDiv(max_delay_s, ${day})`,
    seen_at: 'last_s',
    detail: `concat(toString(accepted_uses), ' uses of ', toString(tokens), ' revoked tokens accepted up to ', toString(max_delay_s), ' s after revocation; ', toString(rejected_uses), ' rejected')`,
    from: `(${revocationLatencySelect(db)}) WHERE accepted_uses > 0`,
  });

  return [unrotated, longLived, dormant, neverUsed, unusedScopes, noOwner, humanUse, afterRevoke].join('\nUNION ALL\n');
}

/**
 * Revocation honoured, per service: uses of revoked tokens after their revocation, accepted
 * (outcome success or unknown) or rejected, and how long after the revoke they were still
 * accepted (the revocation latency: max and median delay in seconds).
 */
export function revocationLatencySelect(db: string): string {
  return `SELECT
  service,
  toUInt32(uniqExact(token_fp)) AS tokens,
  toUInt32(countIf(outcome != 'failure')) AS accepted_uses,
  toUInt32(countIf(outcome = 'failure')) AS rejected_uses,
  toUInt32(maxIf(delay_s, outcome != 'failure')) AS max_delay_s,
  toUInt32(if(countIf(outcome != 'failure') = 0, 0, quantileExactIf(0.5)(delay_s, outcome != 'failure'))) AS median_delay_s,
  toUInt32(max(time_s)) AS last_s
FROM (
  SELECT service_s AS service, token_fp, outcome_s AS outcome, time_s, time_s - revoked_s AS delay_s
  FROM (SELECT token_fp, toString(any(service)) AS service_s, toString(any(outcome)) AS outcome_s, ${secs('any(time)')} AS time_s FROM ${db}.token_events WHERE action = 'use' GROUP BY event_id, token_fp) AS uses
  INNER JOIN (
    SELECT token_fp, ${secs('assumeNotNull(revoked_at)')} AS revoked_s FROM ${db}.token_inventory FINAL WHERE isNotNull(revoked_at)
  ) AS revoked USING (token_fp)
  WHERE time_s > revoked_s
)
GROUP BY service
ORDER BY accepted_uses DESC, service`;
}

/** The view DDL, appended to MIGRATIONS after the OCSF view. */
export function hygieneViewStatements(db: string): string[] {
  return [
    `CREATE VIEW IF NOT EXISTS ${db}.revocation_latency AS\n${revocationLatencySelect(db)}`,
    `CREATE VIEW IF NOT EXISTS ${db}.hygiene_findings AS\n${hygieneFindingsSelect(db, 'toUInt32(now())')}`,
  ];
}
