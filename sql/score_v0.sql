-- core.score: the v0 veerkracht score per area and year: the mean of the available percentile
-- ranks in core.score_component (0 = least, 1 = most vulnerable of its level). NULL with a reason
-- when the area has no population figure, fewer than $min_population inhabitants, or fewer than
-- $min_indicators of the five indicators.
with pop as (
    select r.code, r.level, f.value as inwoners, f.null_reason
    from core.dim_region as r
    left join core.fact_indicator as f
        on f.year = r.year and f.code = r.code and f.canonical = 'AantalInwoners'
    where r.year = $year and r.level in ('gemeente', 'wijk', 'buurt')
),
agg as (
    select code, avg(percentile_rank) as mean_rank, count(*) as n_indicators,
           arg_max(indicator, percentile_rank) as top_indicator
    from core.score_component
    where year = $year
    group by code
)
select
    $year::integer                                          as year,
    p.code,
    p.level,
    case when coalesce(a.n_indicators, 0) >= $min_indicators then round(a.mean_rank, 6) end as score,
    coalesce(a.n_indicators, 0)                             as n_indicators,
    case when coalesce(a.n_indicators, 0) >= $min_indicators then a.top_indicator end as top_indicator,
    case
        when p.inwoners is null then 'no_population_figure (' || coalesce(p.null_reason, 'missing') || ')'
        when p.inwoners < $min_population then 'fewer_than_' || $min_population || '_inhabitants'
        when coalesce(a.n_indicators, 0) < $min_indicators
            then 'too_few_indicators (' || coalesce(a.n_indicators, 0) || ' of 5, need ' || $min_indicators || ')'
    end                                                     as score_null_reason,
    $method_version                                         as method_version
from pop as p
left join agg as a on a.code = p.code
