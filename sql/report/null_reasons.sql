-- Areas without a score per level and main reason (the reason's leading keyword).
SELECT level || ': ' || regexp_extract(score_null_reason, '^[a-z_0-9]+') AS reason, count(*) AS areas
FROM core.score
WHERE year = $year AND score IS NULL
GROUP BY 1
ORDER BY 2 DESC
