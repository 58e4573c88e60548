-- Tokens used after revocation
-- Tokens whose inventory shows a use after their revocation (last_use > revoked_at), joined with
-- the token_replay alerts of kind use_after_revocation for the same fingerprint; a token found by
-- only one side still shows (inventory columns empty, or alerts = 0).
SELECT
  token_fp,
  if(inventory_issuer != '', inventory_issuer, alert_issuer) AS issuer,
  revoked_at,
  last_use,
  use_count,
  alerts,
  last_alert_id
FROM
(
  SELECT
    token_fp,
    toString(issuer) AS inventory_issuer,
    toDateTime(revoked_at) AS revoked_at,
    toDateTime(last_use) AS last_use,
    toUInt32(use_count) AS use_count
  FROM {{database}}.token_inventory FINAL
  WHERE isNotNull(revoked_at) AND isNotNull(last_use) AND assumeNotNull(last_use) > assumeNotNull(revoked_at)
) AS inventory
FULL OUTER JOIN
(
  SELECT
    token_fp,
    toUInt32(uniqExact(alert_id)) AS alerts,
    argMax(alert_id, last_seen) AS last_alert_id,
    toString(any(issuer)) AS alert_issuer
  FROM {{database}}.alerts
  WHERE kind = 'use_after_revocation' AND token_fp != ''
  GROUP BY token_fp
) AS alerted
USING (token_fp)
ORDER BY alerts DESC, token_fp
LIMIT 200
