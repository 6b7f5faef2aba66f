-- core.score: the veerkracht scores of every gemeente, wijk and buurt of the year, one row per
-- area. score = kwetsbaarheid: the national percentile rank (0 = least, 1 = most vulnerable of its
-- level) of the kwetsbaarheid axis; druk likewise for the pressure axis. Every NULL has a reason:
-- no population figure, fewer than $min_population inhabitants, or the axis' own reason. A year
-- that covers part of the country is ranked against the base year's national areas (its coverage).
-- Every year of the pass ($run: year, goalpost_year, partial, coverage) in one statement.
with run as (
    select unnest($run, recursive := true)
),
pop as (
    select r.year, r.code, r.level, f.value as inwoners, f.null_reason
    from core.dim_region as r
    left join core.fact_indicator as f
        on f.year = r.year and f.code = r.code and f.canonical = 'AantalInwoners'
    where r.year in (select year from run) and r.level in ('gemeente', 'wijk', 'buurt')
),
axis_own as (
    select a.*, r.partial, r.goalpost_year
    from core.score_axis as a join run as r using (year)
    where a.spec_hash = $spec_hash
),
-- A partial year: the rank is where the area's goalpost value falls among the scored areas of the
-- same level in its goalpost base year (national): (areas below) / (N - 1).
base as (
    select r.year, b.level, b.axis, b.value_goalpost
    from run as r
    join core.score_axis as b on b.year = r.goalpost_year and b.year <> r.year
    where r.partial and b.spec_hash = $spec_hash and b.value_goalpost is not null
),
base_rank as (
    select a.year, a.code, a.axis,
           least(1.0, count(*) filter (where b.value_goalpost < a.value_goalpost)
                      / nullif(count(*) - 1, 0)) as rank
    from axis_own as a join base as b on b.year = a.year and b.level = a.level and b.axis = a.axis
    where a.value_goalpost is not null
    group by a.year, a.code, a.axis
),
axis as (
    select a.* exclude (partial, goalpost_year) replace (
               case when a.partial then b.rank else a.rank end as rank,
               case when a.partial and a.rank is not null and b.rank is null
                    then 'partial_coverage_without_goalposts (score the national year '
                         || a.goalpost_year || ' first)'
                    else a.null_reason end as null_reason)
    from axis_own as a left join base_rank as b on b.year = a.year and b.code = a.code and b.axis = a.axis
),
judged as (
    select
        p.year, p.code, p.level, k.rank as kwetsbaarheid, k.value as kwetsbaarheid_value,
        k.value_goalpost as kwetsbaarheid_goalpost, k.n_indicators, k.n_flags,
        d.rank as druk, d.value as druk_value, d.value_goalpost as druk_goalpost,
        case
            when p.inwoners is null then 'no_population_figure (' || coalesce(p.null_reason, 'missing') || ')'
            when p.inwoners < $min_population then 'fewer_than_' || $min_population || '_inhabitants'
        end as eligibility_reason,
        k.null_reason as k_reason,
        d.null_reason as d_reason
    from pop as p
    left join axis as k on k.year = p.year and k.code = p.code and k.axis = 'kwetsbaarheid'
    left join axis as d on d.year = p.year and d.code = p.code and d.axis = 'druk'
)
select
    j.year,
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
    -- 'national', or what part of the country the year's statistics cover (then the ranks are
    -- positions in the goalpost base year's national distribution, see score_axis.sql).
    r.coverage,
    $method_version                                             as method_version,
    $spec_hash                                                  as spec_hash
from judged as j join run as r using (year)
