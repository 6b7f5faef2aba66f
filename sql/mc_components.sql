-- The inputs of the Monte Carlo (veerkracht/method/uncertainty.py): every kwetsbaarheid indicator
-- component of the areas that have an axis rank, in complete themes only (incomplete themes do
-- not enter the score, so they must not enter its perturbations either). Parameters: $year,
-- $spec_hash. Ordered so that the simulation sees areas and indicators in a fixed order.
SELECT i.level, i.code, i.theme, i.indicator, i.percentile_rank, i.percentile_rank_raw,
       i.goalpost, i.goalpost_raw,
       i.year - i.vintage AS age  -- years a carried figure (method v3) is older than the year
FROM core.score_indicator AS i
JOIN core.score_axis AS a ON a.year = i.year AND a.code = i.code AND a.axis = i.axis
                         AND a.spec_hash = i.spec_hash
JOIN core.score_theme AS t ON t.year = i.year AND t.code = i.code AND t.theme = i.theme
                          AND t.spec_hash = i.spec_hash
WHERE i.year = $year AND i.spec_hash = $spec_hash AND i.axis = 'kwetsbaarheid' AND a.rank IS NOT NULL
      AND t.complete
ORDER BY i.level, i.code, i.indicator
