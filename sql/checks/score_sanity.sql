-- Per level: scores outside [0, 1], and how many areas have no score for each reason.
select level,
    count(*) filter (where score < 0 or score > 1)      as out_of_range,
    count(*)                                            as areas,
    count(score)                                        as scored,
    regexp_extract(score_null_reason, '^[a-z_0-9]+')    as reason,
    count(*) filter (where score is null)               as n_null
from core.score
where year = $year
group by level, reason
order by level, reason
