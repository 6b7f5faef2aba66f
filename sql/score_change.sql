-- core.score_change: how each area's kwetsbaarheid and druk moved since each earlier year scored
-- with the same spec, on the indicators both years publish and the spec calls comparable across
-- years (`comparable = false`: nominal euros, definition breaks). Only goalpost values count
-- (fixed bounds of one base year, $goalpost_year), never percentile ranks, which are relative to
-- each year's own areas.
--   theme change = weighted mean of (goalpost now - goalpost then) over the theme's compared
--                  indicators (indicator weights); axis change = theme-weighted mean of those.
-- Earlier values reach this year's areas through a crosswalk (core.crosswalk, earlier year ->
-- this year) when one is stored for the level, else by code, leaving out areas whose earlier
-- boundary is known to differ (geometry_source 'no_boundary:changed…'). `change_basis` says which.
-- One row per area and earlier year it could be compared with; `is_latest` marks the latest such
-- year (what the layers show). Areas without any comparison get one row with the reason.
-- Class K<s>D<s>, s = '+' up, '-' down, '=' stable (|change| <= $change_threshold), '?' no
-- comparable indicator of that axis in both years.
with spec as (
    select name as indicator, weight from core.method_indicator
    where spec_hash = $spec_hash and comparable
),
theme_w as (
    select name as theme, weight as theme_weight from core.method_theme where spec_hash = $spec_hash
),
ind as (
    -- Indicators of areas whose axis is scored that year (an area too incomplete to score has
    -- no change either).
    select i.year, i.code, i.level, i.axis, i.theme, i.indicator, i.goalpost, s.weight
    from core.score_indicator as i
    join spec as s on s.indicator = i.indicator
    join core.score_axis as a
        on a.year = i.year and a.code = i.code and a.axis = i.axis and a.spec_hash = i.spec_hash
    where i.spec_hash = $spec_hash and i.year <= $year and i.goalpost is not null
      and i.goalpost_year = $goalpost_year and a.value is not null
      -- A figure carried from an earlier vintage (method v3) is no new measurement of the year.
      and i.vintage = i.year
),
cw as (
    select c.from_year, c.level, c.source_code, c.target_code,
           c.overlap_m2 / sum(c.overlap_m2) over (partition by c.from_year, c.level, c.target_code) as w
    from core.crosswalk as c
    where c.to_year = $year and c.from_year < $year
),
changed_boundary as (
    select year, code from core.dim_region
    where year < $year and geometry_source like 'no_boundary:changed%'
),
earlier as (
    select cw.from_year as base_year, cw.level, cw.target_code as code, e.axis, e.theme, e.indicator,
           any_value(e.weight) as weight,
           sum(cw.w * e.goalpost) / sum(cw.w) as goalpost, 'crosswalk' as basis
    from cw
    join ind as e on e.year = cw.from_year and e.code = cw.source_code and e.level = cw.level
    group by all
    union all
    select e.year, e.level, e.code, e.axis, e.theme, e.indicator, e.weight, e.goalpost, 'same_code'
    from ind as e
    where e.year < $year
      and not exists (select 1 from cw where cw.from_year = e.year and cw.level = e.level)
      and not exists (select 1 from changed_boundary as b where b.year = e.year and b.code = e.code)
),
pairs as (
    select t.base_year, n.code, n.level, n.axis, n.theme, n.indicator, t.basis, n.weight,
           n.goalpost - t.goalpost as delta
    from ind as n
    join earlier as t on t.code = n.code and t.level = n.level and t.indicator = n.indicator
    where n.year = $year
),
per_theme as (
    select base_year, code, level, axis, theme, any_value(basis) as basis,
           sum(weight * delta) / sum(weight) as delta, count(*) as n
    from pairs group by all
),
per_axis as (
    select p.base_year, p.code, p.level, p.axis, any_value(p.basis) as basis,
           sum(w.theme_weight * p.delta) / sum(w.theme_weight) as delta, sum(p.n) as n,
           string_agg(p.theme, '+' order by p.theme) as themes
    from per_theme as p join theme_w as w using (theme)
    group by all
),
compared as (
    select base_year, code, level, any_value(basis) as basis,
           max(delta) filter (where axis = 'kwetsbaarheid') as dk,
           max(delta) filter (where axis = 'druk') as dd,
           coalesce(max(n) filter (where axis = 'kwetsbaarheid'), 0) as n_k,
           coalesce(max(n) filter (where axis = 'druk'), 0) as n_d,
           max(themes) filter (where axis = 'kwetsbaarheid') as themes_k
    from per_axis group by all
),
area as (
    select code, level from core.score where year = $year and spec_hash = $spec_hash
),
earlier_years as (
    select level, max(year) as latest from core.score_indicator
    where spec_hash = $spec_hash and year < $year group by level
),
other_goalposts as (
    select distinct level from core.score_indicator
    where spec_hash = $spec_hash and year < $year and goalpost_year <> $goalpost_year
),
matched as (
    select c.*, c.base_year = max(c.base_year) over (partition by c.code, c.level) as is_latest
    from compared as c
),
unmatched as (
    select a.code, a.level, y.latest as base_year,
           case
               when y.latest is null then 'no_earlier_year_scored'
               when exists (select 1 from other_goalposts as o where o.level = a.level)
                   then 'earlier_year_on_other_goalposts (rescore it after ' || $goalpost_year || ')'
               when a.code not in (select code from core.score where year = $year and kwetsbaarheid_goalpost is not null)
                   then 'not_scored_in_' || $year
               else 'no_earlier_area_with_comparable_indicators (latest earlier year ' || y.latest || ')'
           end as reason
    from area as a
    left join earlier_years as y using (level)
    where not exists (select 1 from matched as m where m.code = a.code and m.level = a.level)
)
select
    $year::integer                                              as year,
    code,
    level,
    base_year,
    is_latest,
    basis || ': ' || n_k || ' kwetsbaarheid indicators (' || coalesce(themes_k, 'none') || '), '
        || n_d || ' druk'                                       as change_basis,
    round(dk, 6)                                                as d_kwetsbaarheid,
    round(dd, 6)                                                as d_druk,
    case when dk is not null then
        'K' || case when dk > $change_threshold then '+' when dk < -$change_threshold then '-' else '=' end
        || 'D' || case when dd is null then '?' when dd > $change_threshold then '+'
                       when dd < -$change_threshold then '-' else '=' end
    end                                                         as change_class,
    case when dk is null then 'no_comparable_kwetsbaarheid_indicators_in_' || base_year end as change_null_reason,
    $spec_hash                                                  as spec_hash
from matched
union all
select $year::integer, code, level, null, true, null, null, null, null, reason, $spec_hash
from unmatched
