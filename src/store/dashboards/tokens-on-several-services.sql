-- Tokens seen on several services
-- Tokens the inventory saw at more than one service (cross-service reuse candidates), the widest
-- spread first. The inventory is a ReplacingMergeTree(version): FINAL reads each token's latest row.
SELECT
  token_fp,
  kind,
  issuer,
  toUInt32(length(services)) AS service_count,
  services,
  platforms,
  toUInt32(use_count) AS use_count,
  toDateTime(last_seen) AS last_seen
FROM {{database}}.token_inventory FINAL
WHERE length(services) > 1
ORDER BY service_count DESC, last_seen DESC, token_fp
LIMIT 200
