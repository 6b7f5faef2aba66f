-- marts.shortlist: where the need is highest, per year and level. The areas in the national top
-- $top_share of kwetsbaarheid, and the areas just below whose Monte Carlo rank interval reaches
-- the cut, each marked: a list is read as "these and not those", so an area that is on it only
-- under some variants of the method says so (status) instead of being silently in or out.
-- themes_top: the area's kwetsbaarheid themes in the national top decile of their own
-- (stacked disadvantage: 2 or more). Every year of $run in one statement.
with run as (
    select unnest($run, recursive := true)
),
cut as (select 1 - $top_share - 1e-9 as c),
themes as (
    select year, code, count(*) filter (where score_percentile >= 0.9) as themes_top,
           string_agg(theme, ', ' order by theme) filter (where score_percentile >= 0.9) as themes_top_names
    from core.score_theme
    where year in (select year from run) and spec_hash = $spec_hash and complete and axis = 'kwetsbaarheid'
    group by year, code
),
m as (
    select a.*, coalesce(t.themes_top, 0) as themes_top, t.themes_top_names,
           a.score >= (select c from cut) as in_top,
           a.rank_p05 < (select c from cut) and a.rank_p95 >= (select c from cut) as crosses
    from marts.area as a left join themes as t using (year, code)
    where a.year in (select year from run) and a.score is not null
)
select
    year, level,
    row_number() over (partition by year, level order by score desc, code) as position,
    code, name, gemeente_name, inwoners,
    round(score, 4) as score, round(rank_p05, 4) as rank_p05, round(rank_p95, 4) as rank_p95,
    p_top10, themes_top, themes_top_names,
    kwetsbare_bewoners, kwetsbare_bewoners_p05, kwetsbare_bewoners_p95, estimate_kind, estimate_vintage,
    -- "the top-decile areas of this gemeente hold ~N vulnerable residents"
    sum(kwetsbare_bewoners) filter (where in_top) over (partition by year, level, gemeente_name)
                                                       as gemeente_kwetsbare_bewoners_top,
    top_indicator, explanation,
    case
        when in_top and crosses then 'top_decile_uncertain (rank interval crosses the cut)'
        when in_top then 'top_decile'
        else 'below_cut_interval_reaches_it'
    end as status,
    coverage, method_version, spec_hash
from m
where in_top or (crosses and not in_top)
