-- Per level: scores outside [0, 1] (either axis, its value and its goalpost variant), areas with
-- neither a score nor a reason or with both, and how many areas have no score for each reason.
select level,
    count(*) filter (where greatest(score, kwetsbaarheid_value, kwetsbaarheid_goalpost,
                                    druk, druk_value, druk_goalpost) > 1
                        or least(score, kwetsbaarheid_value, kwetsbaarheid_goalpost,
                                 druk, druk_value, druk_goalpost) < 0) as out_of_range,
    count(*) filter (where (score is null) = (score_null_reason is null)
                        or (druk is null) = (druk_null_reason is null)) as score_reason_mismatch,
    count(*)                                            as areas,
    count(score)                                        as scored,
    regexp_extract(score_null_reason, '^[a-z_0-9]+')    as reason,
    count(*) filter (where score is null)               as n_null
from core.score
where year = $year
group by level, reason
order by level, reason
