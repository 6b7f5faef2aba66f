-- Per level and spec indicator: published or not, and the share of eligible areas with a value.
-- Parameters: $year, $spec_hash.
SELECT level, indicator, status, n_eligible, n_with_value,
       round(n_with_value / n_eligible, 3) AS share, main_null_reason
FROM core.score_indicator_status
WHERE year = $year AND spec_hash = $spec_hash
ORDER BY level, indicator
