-- Inventory by issuer
-- Per issuer: tokens known, tokens live at {{now}} (not revoked, not expired), every scope granted
-- to any of them, and token age in days (from mint, else first sighting) of the oldest and the
-- newest token. FINAL reads each token's latest inventory row.
SELECT
  issuer,
  toUInt32(count()) AS tokens,
  toUInt32(countIf(isNull(revoked_at) AND (isNull(expires_at) OR assumeNotNull(expires_at) > {{now}}))) AS live_tokens,
  arraySort(groupUniqArrayArray(scopes)) AS scopes,
  toUInt32(greatest(intDiv(toInt64(toUInt32({{now}})) - toUInt32(min(ifNull(minted_at, first_seen))), 86400), 0)) AS oldest_age_days,
  toUInt32(greatest(intDiv(toInt64(toUInt32({{now}})) - toUInt32(max(ifNull(minted_at, first_seen))), 86400), 0)) AS newest_age_days
FROM {{database}}.token_inventory FINAL
GROUP BY issuer
ORDER BY tokens DESC, issuer
LIMIT 500
