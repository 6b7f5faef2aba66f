-- core.dim_indicator: one row per canonical indicator and year, described by the newest vintage's
-- DataProperties; source_keys lists which OData key fed it in each vintage (keys drift).
select
    $year::integer                                              as year,
    canonical,
    arg_max(title, vintage)                                     as title,
    arg_max(unit, vintage)                                      as unit,
    arg_max(decimals, vintage)                                  as decimals,
    arg_max(datatype, vintage)                                  as datatype,
    arg_max(topic_group, vintage) filter (where topic_group <> '') as topic_group,
    string_agg(vintage || '=' || source_key, '; ' order by vintage) as source_keys,
    count(distinct title) > 1 or count(distinct unit) > 1       as title_or_unit_changed
from staging.kwb_indicator
where year = $year
group by canonical
