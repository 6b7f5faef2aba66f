-- core.score: the veerkracht scores of every gemeente, wijk and buurt of the year, one row per
-- area. score = kwetsbaarheid: the national percentile rank (0 = least, 1 = most vulnerable of its
-- level) of the kwetsbaarheid axis; druk likewise for the pressure axis. Every NULL has a reason:
-- no population figure, fewer than $min_population inhabitants, or the axis' own reason.
with pop as (
    select r.code, r.level, f.value as inwoners, f.null_reason
    from core.dim_region as r
    left join core.fact_indicator as f
        on f.year = r.year and f.code = r.code and f.canonical = 'AantalInwoners'
    where r.year = $year and r.level in ('gemeente', 'wijk', 'buurt')
),
axis as (
    select * from core.score_axis where year = $year and spec_hash = $spec_hash
),
judged as (
    select
        p.code, p.level, k.rank as kwetsbaarheid, k.value as kwetsbaarheid_value,
        k.value_goalpost as kwetsbaarheid_goalpost, k.n_indicators, k.n_flags,
        d.rank as druk, d.value as druk_value, d.value_goalpost as druk_goalpost,
        case
            when p.inwoners is null then 'no_population_figure (' || coalesce(p.null_reason, 'missing') || ')'
            when p.inwoners < $min_population then 'fewer_than_' || $min_population || '_inhabitants'
        end as eligibility_reason,
        k.null_reason as k_reason,
        d.null_reason as d_reason
    from pop as p
    left join axis as k on k.code = p.code and k.axis = 'kwetsbaarheid'
    left join axis as d on d.code = p.code and d.axis = 'druk'
)
select
    $year::integer                                              as year,
    code,
    level,
    kwetsbaarheid                                               as score,
    kwetsbaarheid,
    kwetsbaarheid_value,
    kwetsbaarheid_goalpost,
    druk,
    druk_value,
    druk_goalpost,
    coalesce(n_indicators, 0)                                   as n_indicators,
    n_flags,
    -- Bivariate class for a 3 x 3 map: K = tercile of kwetsbaarheid, D = tercile of druk (1..3).
    case when kwetsbaarheid is not null and druk is not null then
        -- (+1e-9: a rank of exactly 1/3 is 0.333..., which times 3 must land in class 2.)
        'K' || least(floor(kwetsbaarheid * $bivariate + 1e-9)::integer + 1, $bivariate)
        || 'D' || least(floor(druk * $bivariate + 1e-9)::integer + 1, $bivariate) end as bivariate_class,
    coalesce(eligibility_reason, k_reason)                      as score_null_reason,
    coalesce(eligibility_reason, d_reason)                      as druk_null_reason,
    $method_version                                             as method_version,
    $spec_hash                                                  as spec_hash
from judged
