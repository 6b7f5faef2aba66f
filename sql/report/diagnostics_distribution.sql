-- Skewness and excess kurtosis (both with the sample-size correction, as pandas computes them)
-- of every indicator per level, before (oriented values) and after clipping at the goalposts.
-- COINr and the JRC handbook call an indicator outlier-prone when |skew| > 2 and kurtosis > 3.5.
-- A constant indicator has neither (DuckDB's NaN made NULL: it sorts above every number).
-- Parameters: $year, $spec_hash.
WITH v AS (
    SELECT v.level, v.indicator, v.oriented, i.goalpost
    FROM core.score_value AS v
    JOIN core.score_indicator AS i USING (year, code, indicator, spec_hash)
    WHERE v.year = $year AND v.spec_hash = $spec_hash
),
moments AS (
    SELECT level, indicator, count(*) AS n,
           nullif(skewness(oriented), 'NaN') AS skew, nullif(kurtosis(oriented), 'NaN') AS kurt,
           nullif(skewness(goalpost), 'NaN') AS skew_clipped,
           nullif(kurtosis(goalpost), 'NaN') AS kurt_clipped
    FROM v
    GROUP BY ALL
)
SELECT level, indicator, n, round(skew, 2) AS skew, round(kurt, 2) AS kurtosis,
       coalesce(abs(skew) > 2 AND kurt > 3.5, false) AS outlier_prone,
       round(skew_clipped, 2) AS skew_clipped, round(kurt_clipped, 2) AS kurtosis_clipped
FROM moments
ORDER BY level, indicator
