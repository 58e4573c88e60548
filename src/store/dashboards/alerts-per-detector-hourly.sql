-- Alerts per detector per hour
-- Alerts per detector in each hour (by first_seen) of the 7 days before {{now}}. Each alert counts
-- once: alert ids are deterministic and re-inserted copies collapse in the inner GROUP BY alert_id,
-- whether or not ReplacingMergeTree has merged them yet.
SELECT
  toStartOfHour(alert_first_seen) AS hour,
  alert_detector AS detector,
  toUInt32(count()) AS alerts,
  toUInt32(countIf(alert_severity IN ('high', 'critical'))) AS high_or_critical
FROM
(
  SELECT
    alert_id,
    toString(any(detector)) AS alert_detector,
    toString(argMax(severity, last_seen)) AS alert_severity,
    toDateTime(min(first_seen)) AS alert_first_seen
  FROM {{database}}.alerts
  WHERE first_seen >= {{now}} - INTERVAL 7 DAY AND first_seen < {{now}}
  GROUP BY alert_id
)
GROUP BY hour, alert_detector
ORDER BY hour, detector
