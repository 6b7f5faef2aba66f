-- Every oriented indicator value with its goalpost-clipped counterpart, for correlations within
-- themes and skew/kurtosis before and after clipping. Parameters: $year, $spec_hash.
SELECT v.level, v.theme, v.indicator, v.code, v.oriented, i.goalpost
FROM core.score_value AS v
JOIN core.score_indicator AS i USING (year, code, indicator, spec_hash)
WHERE v.year = $year AND v.spec_hash = $spec_hash
