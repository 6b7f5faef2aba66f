-- core.score_indicator_status: per year, level and spec indicator, whether it is published (some
-- eligible area has a value) and how many eligible areas have it. Unpublished indicators are left
-- out of their theme for that year and level (reported here, never counted as 0). Every year of
-- the pass ($run) in one statement.
with run as (
    select unnest($run, recursive := true)
),
by_reason as (
    -- One scan of the eligible rows, counted per reason (NULL: has a value, or no reason); the
    -- indicator's row sums them. (Joining the most common reason onto every eligible row before
    -- counting held all of them at once: 30x, in the scoring transaction, 0.57 s against 0.15 s.)
    select year, level, axis, theme, indicator, null_reason, count(*) as n, count(oriented) as n_value
    from core.score_value
    where year in (select year from run) and spec_hash = $spec_hash and eligible
    group by all
)
select
    year,
    level,
    axis,
    theme,
    indicator,
    sum(n)::bigint                                              as n_eligible,
    sum(n_value)::bigint                                        as n_with_value,
    case when sum(n_value) > 0 then 'published' else 'not_published' end as status,
    -- The most common reason the others have no value; ties broken by the reason's name
    -- (mode() picks one at random).
    first(null_reason order by n desc, null_reason) filter (where null_reason is not null)
                                                                as main_null_reason,
    $spec_hash                                                  as spec_hash
from by_reason
group by year, level, axis, theme, indicator
