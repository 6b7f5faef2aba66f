-- core.score_explanation: per scored area, the indicators that contribute most to its
-- kwetsbaarheid, with their values and national percentiles (for popups and dashboards).
-- contribution = theme weight share x indicator weight share x normalised value: the indicator's
-- part of the arithmetic aggregate (the geometric mean across themes has no additive split, so
-- this is the usual first-order attribution). Top $top_n per area, rank 1 = largest. Every year of
-- the pass ($run) in one statement.
with run as (
    select unnest($run, recursive := true)
),
scored as (
    select year, code from core.score_axis
    where year in (select year from run) and spec_hash = $spec_hash and axis = 'kwetsbaarheid'
      and rank is not null
),
theme as (
    select t.year, t.code, t.theme,
           m.weight / sum(m.weight) over (partition by t.year, t.code) as theme_share
    from core.score_theme as t
    join core.method_theme as m on m.name = t.theme and m.spec_hash = t.spec_hash
    where t.year in (select year from run) and t.spec_hash = $spec_hash and t.axis = 'kwetsbaarheid' and t.complete
),
parts as (
    select
        i.year, i.code, i.indicator, m.title, m.unit, i.value, i.vintage, i.percentile_rank,
        t.theme_share * m.weight / sum(m.weight) over (partition by i.year, i.code, i.theme)
            * case when $normalisation = 'goalpost' then i.goalpost else i.percentile_rank end as contribution
    from core.score_indicator as i
    join scored using (year, code)
    join theme as t on t.year = i.year and t.code = i.code and t.theme = i.theme
    join core.method_indicator as m on m.name = i.indicator and m.spec_hash = i.spec_hash
    where i.spec_hash = $spec_hash
),
ranked as (
    select *,
        contribution / nullif(sum(contribution) over (partition by year, code), 0) as contribution_share,
        row_number() over (partition by year, code order by contribution desc, indicator) as rank
    from parts
)
select
    year,
    code,
    rank,
    indicator,
    title,
    round(value, 3)                                             as value,
    unit,
    vintage,
    round(percentile_rank, 4)                                   as percentile_rank,
    round(contribution_share, 4)                                as contribution_share,
    $spec_hash                                                  as spec_hash
from ranked
where rank <= $top_n
