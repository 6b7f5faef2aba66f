-- Regions of the year per level.
SELECT level, count(*) AS regions FROM core.dim_region WHERE year = $year GROUP BY level ORDER BY level
