-- Pearson correlation of every pair of indicators within a theme, per level (oriented values of
-- the areas with both that the indicator is scored for: core.score_indicator). A pair above
-- |r| > $max_abs_r double-counts one phenomenon and is flagged (flagged pairs first). Pairs with
-- fewer than three areas have no row; a constant indicator has no r (DuckDB's NaN is made NULL:
-- NaN sorts above every number, so it would be flagged). Parameters: $year, $spec_hash,
-- $max_abs_r.
WITH v AS (
    SELECT v.level, v.theme, v.indicator, v.code, v.oriented
    FROM core.score_value AS v
    JOIN core.score_indicator AS i USING (year, code, indicator, spec_hash)
    WHERE v.year = $year AND v.spec_hash = $spec_hash AND v.oriented IS NOT NULL
),
pairs AS (
    SELECT a.level, a.theme, a.indicator || ' ~ ' || b.indicator AS pair,
           count(*) AS n, nullif(corr(a.oriented, b.oriented), 'NaN') AS r
    FROM v AS a
    JOIN v AS b ON a.level = b.level AND a.theme = b.theme AND a.code = b.code
               AND a.indicator < b.indicator
    GROUP BY ALL
    HAVING count(*) > 2
)
SELECT level, theme, pair, n, round(r, 3) AS r, coalesce(abs(r) > $max_abs_r, false) AS flag
FROM pairs
ORDER BY flag DESC, level, pair
