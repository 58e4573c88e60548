-- Top issuers by minting rate vs baseline
-- Issuers that minted tokens in the hour before {{now}}, against their baseline: the median of
-- their mints in the same hour of each of the 7 previous days (days without mints count as 0).
-- From issuer_mints_per_minute_state: each minute's mints are a set of event ids (uniqExactState),
-- so a re-inserted mint counts once, merged or not.
SELECT
  issuer,
  last_hour_mints,
  baseline_mints,
  round(last_hour_mints / greatest(baseline_mints, 1), 2) AS ratio
FROM
(
  SELECT
    issuer,
    toUInt32(sumIf(mints, minute >= {{now}} - INTERVAL 1 HOUR AND minute < {{now}})) AS last_hour_mints,
    toUInt32(arraySort([
      sumIf(mints, minute >= {{now}} - INTERVAL 1 DAY - INTERVAL 1 HOUR AND minute < {{now}} - INTERVAL 1 DAY),
      sumIf(mints, minute >= {{now}} - INTERVAL 2 DAY - INTERVAL 1 HOUR AND minute < {{now}} - INTERVAL 2 DAY),
      sumIf(mints, minute >= {{now}} - INTERVAL 3 DAY - INTERVAL 1 HOUR AND minute < {{now}} - INTERVAL 3 DAY),
      sumIf(mints, minute >= {{now}} - INTERVAL 4 DAY - INTERVAL 1 HOUR AND minute < {{now}} - INTERVAL 4 DAY),
      sumIf(mints, minute >= {{now}} - INTERVAL 5 DAY - INTERVAL 1 HOUR AND minute < {{now}} - INTERVAL 5 DAY),
      sumIf(mints, minute >= {{now}} - INTERVAL 6 DAY - INTERVAL 1 HOUR AND minute < {{now}} - INTERVAL 6 DAY),
      sumIf(mints, minute >= {{now}} - INTERVAL 7 DAY - INTERVAL 1 HOUR AND minute < {{now}} - INTERVAL 7 DAY)
    ])[4]) AS baseline_mints
  FROM
  (
    SELECT issuer, minute, uniqExactMerge(mints_state) AS mints
    FROM {{database}}.issuer_mints_per_minute_state
    WHERE minute >= {{now}} - INTERVAL 7 DAY - INTERVAL 1 HOUR AND minute < {{now}}
    GROUP BY issuer, minute
  )
  GROUP BY issuer
)
WHERE last_hour_mints > 0
ORDER BY ratio DESC, last_hour_mints DESC, issuer
LIMIT 20
