-- core.score_theme: per eligible area and theme with published indicators: how many of those the
-- area has, whether that is enough ($min_indicator_share of them, rounded up), and the theme score:
-- the weighted mean of its normalised indicators ($within_theme: arithmetic or geometric with
-- floor $floor), once from percentile ranks and once from goalposts. Every year of the pass ($run)
-- in one statement.
with run as (
    select unnest($run, recursive := true)
),
spec as (
    select * from core.method_indicator where spec_hash = $spec_hash
),
published as (
    select s.year, s.level, s.axis, s.theme, count(*) as n_published
    from core.score_indicator_status as s
    where s.year in (select year from run) and s.spec_hash = $spec_hash and s.status = 'published'
    group by s.year, s.level, s.axis, s.theme
),
area as (
    select distinct year, code, level from core.score_value
    where year in (select year from run) and spec_hash = $spec_hash and eligible
),
agg as (
    select
        i.year, i.code, i.theme,
        count(*)                                                as n_present,
        case when $within_theme = 'geometric'
             then exp(sum(m.weight * ln(greatest(i.percentile_rank, $floor))) / sum(m.weight))
             else sum(m.weight * i.percentile_rank) / sum(m.weight) end as score_percentile,
        -- Goalposts can be NULL (no bounds): average over those that exist. (filter, not
        -- greatest(NULL, floor), which DuckDB evaluates to the floor.)
        case when $within_theme = 'geometric'
             then exp(sum(m.weight * ln(greatest(i.goalpost, $floor))) filter (where i.goalpost is not null)
                      / sum(m.weight) filter (where i.goalpost is not null))
             else sum(m.weight * i.goalpost) filter (where i.goalpost is not null)
                  / sum(m.weight) filter (where i.goalpost is not null) end as score_goalpost
    from core.score_indicator as i
    join spec as m on m.name = i.indicator
    where i.year in (select year from run) and i.spec_hash = $spec_hash
    group by i.year, i.code, i.theme
)
select
    a.year,
    a.code,
    a.level,
    p.axis,
    p.theme,
    p.n_published,
    coalesce(g.n_present, 0)                                    as n_present,
    coalesce(g.n_present, 0) >= ceil($min_indicator_share * p.n_published - 1e-9) as complete,
    round(g.score_percentile, 9)                                as score_percentile,
    round(g.score_goalpost, 9)                                  as score_goalpost,
    $spec_hash                                                  as spec_hash
from area as a
join published as p on p.year = a.year and p.level = a.level
left join agg as g on g.year = a.year and g.code = a.code and g.theme = p.theme
