-- What a published warehouse holds: its years and the number of marts.area rows.
SELECT list(DISTINCT year ORDER BY year) AS years, count(*) AS rows FROM marts.area
