-- How many areas per level have a kwetsbaarheid score, a druk score, and no kwetsbaarheid score.
SELECT level, count(kwetsbaarheid) AS kwetsbaarheid, count(druk) AS druk,
       count(*) - count(kwetsbaarheid) AS unscored
FROM core.score
WHERE year = $year
GROUP BY level
ORDER BY level
