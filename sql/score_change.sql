-- core.score_change: how each area's kwetsbaarheid and druk moved since each earlier year scored
-- with the same spec, on the indicators both years publish and the spec calls comparable across
-- years (`comparable = false`: nominal euros, definition breaks). Only goalpost values count
-- (fixed bounds of one base year, the year's goalpost_year), never percentile ranks, which are
-- relative to each year's own areas. Every year of the pass ($run) in one statement: `run_year` is
-- the year compared, each earlier year's indicators are read once for every later year of the pass.
--   theme change = weighted mean of (goalpost now - goalpost then) over the theme's compared
--                  indicators (indicator weights); axis change = theme-weighted mean of those.
-- Earlier values reach this year's areas through a crosswalk (core.crosswalk, earlier year ->
-- this year) when one is stored for the level, else by code, leaving out areas whose earlier
-- boundary is known to differ (geometry_source 'no_boundary:changed…'). `change_basis` says which.
-- One row per area and earlier year it could be compared with; `is_latest` marks the latest such
-- year (what the layers show). Areas without any comparison get one row with the reason.
-- Class K<s>D<s>, s = '+' up, '-' down, '=' stable (|change| <= $change_threshold), '?' no
-- comparable indicator of that axis in both years.
with run as (
    select unnest($run, recursive := true)
),
spec as (
    select name as indicator, weight from core.method_indicator
    where spec_hash = $spec_hash and comparable
),
theme_w as (
    select name as theme, weight as theme_weight from core.method_theme where spec_hash = $spec_hash
),
reach as (
    -- The scored years each year of the pass compares with (itself included; an equality join
    -- below, not a range).
    select r.year as run_year, r.goalpost_year, e.year
    from run as r
    join (select distinct year from core.score_indicator where spec_hash = $spec_hash) as e
        on e.year <= r.year
),
ind as (
    -- Indicators of areas whose axis is scored that year (an area too incomplete to score has
    -- no change either).
    select r.run_year, i.year, i.code, i.level, i.axis, i.theme, i.indicator, i.goalpost, s.weight
    from core.score_indicator as i
    join reach as r on r.year = i.year and r.goalpost_year = i.goalpost_year
    join spec as s on s.indicator = i.indicator
    join core.score_axis as a
        on a.year = i.year and a.code = i.code and a.axis = i.axis and a.spec_hash = i.spec_hash
    where i.spec_hash = $spec_hash and i.goalpost is not null and a.value is not null
      -- A figure carried from an earlier vintage (method v3) is no new measurement of the year.
      and i.vintage = i.year
),
cw as (
    select c.to_year as run_year, c.from_year, c.level, c.source_code, c.target_code,
           c.overlap_m2 / sum(c.overlap_m2) over (partition by c.to_year, c.from_year, c.level, c.target_code)
               as w
    from core.crosswalk as c
    where c.to_year in (select year from run) and c.from_year < c.to_year
),
changed_boundary as (
    select year, code from core.dim_region
    where geometry_source like 'no_boundary:changed%'
),
earlier as (
    select cw.run_year, cw.from_year as base_year, cw.level, cw.target_code as code, e.axis, e.theme,
           e.indicator, any_value(e.weight) as weight,
           sum(cw.w * e.goalpost) / sum(cw.w) as goalpost, 'crosswalk' as basis
    from cw
    join ind as e
        on e.run_year = cw.run_year and e.year = cw.from_year and e.code = cw.source_code and e.level = cw.level
    group by all
    union all
    select e.run_year, e.year, e.level, e.code, e.axis, e.theme, e.indicator, e.weight, e.goalpost, 'same_code'
    from ind as e
    where e.year < e.run_year
      and not exists (
          select 1 from cw where cw.run_year = e.run_year and cw.from_year = e.year and cw.level = e.level)
      and not exists (select 1 from changed_boundary as b where b.year = e.year and b.code = e.code)
),
pairs as (
    select n.run_year, t.base_year, n.code, n.level, n.axis, n.theme, n.indicator, t.basis, n.weight,
           n.goalpost - t.goalpost as delta
    from ind as n
    join earlier as t
        on t.run_year = n.run_year and t.code = n.code and t.level = n.level and t.indicator = n.indicator
    where n.year = n.run_year
),
per_theme as (
    select run_year, base_year, code, level, axis, theme, any_value(basis) as basis,
           sum(weight * delta) / sum(weight) as delta, count(*) as n
    from pairs group by all
),
per_axis as (
    select p.run_year, p.base_year, p.code, p.level, p.axis, any_value(p.basis) as basis,
           sum(w.theme_weight * p.delta) / sum(w.theme_weight) as delta, sum(p.n) as n,
           string_agg(p.theme, '+' order by p.theme) as themes
    from per_theme as p join theme_w as w using (theme)
    group by all
),
compared as (
    select run_year, base_year, code, level, any_value(basis) as basis,
           max(delta) filter (where axis = 'kwetsbaarheid') as dk,
           max(delta) filter (where axis = 'druk') as dd,
           coalesce(max(n) filter (where axis = 'kwetsbaarheid'), 0) as n_k,
           coalesce(max(n) filter (where axis = 'druk'), 0) as n_d,
           max(themes) filter (where axis = 'kwetsbaarheid') as themes_k
    from per_axis group by all
),
area as (
    select s.year as run_year, r.goalpost_year, s.code, s.level
    from core.score as s join run as r using (year)
    where s.spec_hash = $spec_hash
),
earlier_years as (
    select r.year as run_year, i.level, max(i.year) as latest
    from run as r join core.score_indicator as i on i.year < r.year
    where i.spec_hash = $spec_hash
    group by all
),
other_goalposts as (
    select distinct r.year as run_year, i.level
    from run as r join core.score_indicator as i on i.year < r.year and i.goalpost_year <> r.goalpost_year
    where i.spec_hash = $spec_hash
),
matched as (
    select c.*, c.base_year = max(c.base_year) over (partition by c.run_year, c.code, c.level) as is_latest
    from compared as c
),
unmatched as (
    select a.run_year, a.code, a.level, y.latest as base_year,
           case
               when y.latest is null then 'no_earlier_year_scored'
               when exists (
                   select 1 from other_goalposts as o where o.run_year = a.run_year and o.level = a.level)
                   then 'earlier_year_on_other_goalposts (rescore it after ' || a.goalpost_year || ')'
               when not exists (
                   select 1 from core.score as s
                   where s.year = a.run_year and s.code = a.code and s.kwetsbaarheid_goalpost is not null)
                   then 'not_scored_in_' || a.run_year
               else 'no_earlier_area_with_comparable_indicators (latest earlier year ' || y.latest || ')'
           end as reason
    from area as a
    left join earlier_years as y on y.run_year = a.run_year and y.level = a.level
    where not exists (
        select 1 from matched as m where m.run_year = a.run_year and m.code = a.code and m.level = a.level)
)
select
    run_year::integer                                           as year,
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
select run_year::integer, code, level, null, true, null, null, null, null, reason, $spec_hash
from unmatched
