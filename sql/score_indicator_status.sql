-- core.score_indicator_status: per year, level and spec indicator, whether it is published (some
-- eligible area has a value) and how many eligible areas have it. Unpublished indicators are left
-- out of their theme for that year and level (reported here, never counted as 0).
select
    $year::integer                                              as year,
    level,
    axis,
    theme,
    indicator,
    count(*)                                                    as n_eligible,
    count(oriented)                                             as n_with_value,
    case when count(oriented) > 0 then 'published' else 'not_published' end as status,
    -- The most common reason the others have no value.
    mode(null_reason)                                           as main_null_reason,
    $spec_hash                                                  as spec_hash
from core.score_value
where year = $year and spec_hash = $spec_hash and eligible
group by level, axis, theme, indicator
