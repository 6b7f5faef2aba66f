-- Inhabitants per area of year $year (every level), for the crosswalk's population weights.
SELECT code, value
FROM core.fact_indicator
WHERE year = $year AND canonical = 'AantalInwoners' AND value IS NOT NULL
