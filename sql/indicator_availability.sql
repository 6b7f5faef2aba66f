-- core.indicator_availability: per year, level and indicator, how many areas have a value and why
-- the others do not, so maps and scores can tell "not published yet" from "suppressed".
select
    $year::integer                                              as year,
    r.level,
    f.canonical,
    count(*)                                                    as n_areas,
    count(f.value)                                              as n_with_value,
    round(count(f.value) / count(*), 4)                         as share_with_value,
    count(*) filter (where f.null_reason = 'not_published')     as n_not_published,
    count(*) filter (where f.null_reason = 'suppressed')        as n_suppressed,
    count(*) filter (where f.null_reason = 'empty')             as n_empty,
    count(*) filter (where f.null_reason = 'missing_or_zero_in_copy') as n_missing_or_zero,
    count(*) filter (where f.null_reason like 'sentinel_%')     as n_sentinel,
    case when count(f.value) = 0 then 'not_published'
         when count(f.value) < count(*) then 'partial'
         else 'complete' end                                    as status
from core.fact_indicator as f
join core.dim_region as r on r.year = f.year and r.code = f.code
where f.year = $year
group by r.level, f.canonical
