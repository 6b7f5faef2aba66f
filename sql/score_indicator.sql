-- core.score_indicator: the normalised indicators of every eligible area with a value, per year
-- and level, for every year of the pass ($run: year, goalpost_year, partial, coverage). percentile_rank = (rank - 1) / (N - 1) among the eligible areas of the level with a
-- value (ties share the lowest rank, like SVI); goalpost = (x - lo) / (hi - lo) clipped to [0, 1],
-- with lo/hi the $lo_q/$hi_q quantiles of the year's goalpost_year (fixed bounds: comparable across
-- years; the clipping is the outlier rule). *_raw: the same without shrinkage.
with run as (
    select unnest($run, recursive := true)
),
v as (
    select v.*, r.goalpost_year from core.score_value as v join run as r using (year)
    where v.spec_hash = $spec_hash and v.eligible and v.oriented is not null
),
bounds as (
    select year as goalpost_year, level, indicator,
           quantile_cont(oriented, $lo_q) as lo, quantile_cont(oriented, $hi_q) as hi,
           quantile_cont(oriented_raw, $lo_q) as lo_raw, quantile_cont(oriented_raw, $hi_q) as hi_raw
    from core.score_value
    -- The base year's own figures only: carried ones (method v3) depend on which earlier years
    -- are loaded, and goalposts must not.
    where year in (select goalpost_year from run) and spec_hash = $spec_hash and eligible
      and oriented is not null and vintage = year
    group by year, level, indicator
)
select
    v.year,
    v.code,
    v.level,
    v.axis,
    v.theme,
    v.indicator,
    v.value,
    v.value_shrunk,
    v.vintage,
    percent_rank() over (partition by v.year, v.level, v.indicator order by v.oriented)     as percentile_rank,
    percent_rank() over (partition by v.year, v.level, v.indicator order by v.oriented_raw) as percentile_rank_raw,
    -- NULL without bounds (no base-year values at this level) or with hi = lo (a constant):
    -- the case is needed because DuckDB's least()/greatest() skip NULLs.
    case when b.hi > b.lo then greatest(0, least(1, (v.oriented - b.lo) / (b.hi - b.lo))) end as goalpost,
    case when b.hi_raw > b.lo_raw then
        greatest(0, least(1, (v.oriented_raw - b.lo_raw) / (b.hi_raw - b.lo_raw))) end  as goalpost_raw,
    v.goalpost_year,
    $spec_hash                                                  as spec_hash
from v
left join bounds as b
    on b.goalpost_year = v.goalpost_year and b.level = v.level and b.indicator = v.indicator
