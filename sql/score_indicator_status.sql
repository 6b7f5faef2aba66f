-- core.score_indicator_status: per year, level and spec indicator, whether it is published (some
-- eligible area has a value) and how many eligible areas have it. Unpublished indicators are left
-- out of their theme for that year and level (reported here, never counted as 0). Every year of
-- the pass ($run) in one statement.
with run as (
    select unnest($run, recursive := true)
),
eligible as (
    select v.* from core.score_value as v
    where v.year in (select year from run) and v.spec_hash = $spec_hash and v.eligible
),
reasons as (
    select year, level, axis, theme, indicator, null_reason, count(*) as n
    from eligible
    where null_reason is not null
    group by all
),
main_reason as (
    -- The most common reason; ties broken by the reason's name (mode() picks one at random).
    select year, level, axis, theme, indicator,
           first(null_reason order by n desc, null_reason) as main_null_reason
    from reasons
    group by all
)
select
    v.year,
    level,
    axis,
    theme,
    indicator,
    count(*)                                                    as n_eligible,
    count(oriented)                                             as n_with_value,
    case when count(oriented) > 0 then 'published' else 'not_published' end as status,
    -- The most common reason the others have no value.
    any_value(m.main_null_reason)                               as main_null_reason,
    $spec_hash                                                  as spec_hash
from eligible as v
left join main_reason as m using (year, level, axis, theme, indicator)
group by v.year, level, axis, theme, indicator
