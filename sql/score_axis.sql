-- core.score_axis: per eligible area and axis of the spec: the axis value, the weighted mean of
-- its complete themes ($across_themes: geometric with floor $floor, or arithmetic), from
-- percentile ranks and from goalposts; and its national percentile rank among the scored areas
-- of the level (the headline, re-ranked like SVI). An axis needs $min_theme_share of its published
-- themes complete (rounded up); otherwise NULL with a reason. SVI-style: n_flags counts the
-- area's indicators at or above the $flag_percentile national percentile. Every year of the pass
-- ($run: year, goalpost_year, partial, coverage) in one statement.
with run as (
    select unnest($run, recursive := true)
),
theme as (
    select t.*, m.weight
    from core.score_theme as t
    join core.method_theme as m on m.name = t.theme and m.spec_hash = t.spec_hash
    where t.year in (select year from run) and t.spec_hash = $spec_hash
),
per_axis as (
    select
        year, code, level, axis,
        count(*)                                                as n_themes_published,
        count(*) filter (where complete)                        as n_themes_complete,
        case when $across_themes = 'geometric'
             then exp(sum(weight * ln(greatest(score_percentile, $floor))) filter (where complete)
                      / sum(weight) filter (where complete))
             else sum(weight * score_percentile) filter (where complete)
                  / sum(weight) filter (where complete) end     as value_percentile,
        case when $across_themes = 'geometric'
             then exp(sum(weight * ln(greatest(score_goalpost, $floor)))
                          filter (where complete and score_goalpost is not null)
                      / sum(weight) filter (where complete and score_goalpost is not null))
             else sum(weight * score_goalpost) filter (where complete and score_goalpost is not null)
                  / sum(weight) filter (where complete and score_goalpost is not null) end as value_goalpost,
        string_agg(theme || ' ' || n_present || ' of ' || n_published, ', ' order by theme)
            filter (where not complete)                         as incomplete_themes
    from theme
    group by year, code, level, axis
),
flags as (
    select year, code, axis, count(*) filter (where percentile_rank >= $flag_percentile) as n_flags,
           count(*) as n_indicators
    from core.score_indicator
    where year in (select year from run) and spec_hash = $spec_hash
    group by year, code, axis
),
area as (
    select distinct v.year, v.code, v.level, m.axis
    from core.score_value as v
    cross join (select distinct axis from core.method_theme where spec_hash = $spec_hash) as m
    where v.year in (select year from run) and v.spec_hash = $spec_hash and v.eligible
),
judged as (
    select a.year, a.code, a.level, a.axis, p.n_themes_published, p.n_themes_complete, p.incomplete_themes,
           p.value_percentile, p.value_goalpost,
           coalesce(p.n_themes_published, 0) > 0
               and p.n_themes_complete >= ceil($min_theme_share * p.n_themes_published - 1e-9) as scored
    from area as a
    left join per_axis as p on p.year = a.year and p.code = a.code and p.axis = a.axis
),
valued as (
    -- A year whose statistics cover part of the country (partial) is valued on goalposts only:
    -- percentile ranks among its own few areas would pretend to be national ones (its headline
    -- rank is placed in the base year's national distribution by score.sql).
    select j.*, case when $normalisation = 'goalpost' or r.partial then j.value_goalpost
                     else j.value_percentile end as value
    from judged as j join run as r using (year)
)
select
    v.year,
    v.code,
    v.level,
    v.axis,
    case when v.scored then percent_rank() over (partition by v.year, v.level, v.axis, v.scored
                                                 order by v.value) end as rank,
    case when v.scored then round(v.value, 9) end               as value,
    case when v.scored then round(v.value_percentile, 9) end    as value_percentile,
    case when v.scored then round(v.value_goalpost, 9) end      as value_goalpost,
    coalesce(v.n_themes_published, 0)                           as n_themes_published,
    coalesce(v.n_themes_complete, 0)                            as n_themes_complete,
    coalesce(f.n_indicators, 0)                                 as n_indicators,
    case when v.scored then coalesce(f.n_flags, 0) end          as n_flags,
    case
        when coalesce(v.n_themes_published, 0) = 0
            then 'not_published (no indicator of this axis for the ' || v.level || 's of ' || v.year || ')'
        when not v.scored
            then 'too_few_complete_themes (' || v.n_themes_complete || ' of ' || v.n_themes_published
                 || ', need ' || ceil($min_theme_share * v.n_themes_published - 1e-9)::integer
                 || '; incomplete: ' || v.incomplete_themes || ')'
    end                                                         as null_reason,
    $spec_hash                                                  as spec_hash
from valued as v
left join flags as f on f.year = v.year and f.code = v.code and f.axis = v.axis
