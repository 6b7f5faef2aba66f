-- Polygons of year $year whose code the year's KWB statistics do not list, per geometry source:
-- they reach no layer (only KWB areas do). For a boundary file this usually means codes of
-- another year or a typo; reported, never dropped silently.
SELECT g.geometry_source, g.level, count(*) AS areas, list(g.code ORDER BY g.code)[1:10] AS examples
FROM staging.geometry AS g
LEFT JOIN core.dim_region AS r ON r.year = g.year AND r.code = g.code
WHERE g.year = $year AND r.code IS NULL
GROUP BY ALL
ORDER BY g.geometry_source, g.level
