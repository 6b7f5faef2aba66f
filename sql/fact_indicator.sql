-- core.fact_indicator: indicators in long form, one row per region, canonical indicator and year.
-- Vintages are combined: the newest vintage that has a value wins, and the row records which
-- vintage and OData key it came from. Where no vintage has a value, value is NULL and
-- null_reason says why (from the newest vintage); a missing value never becomes 0.
select
    $year::integer                  as year,
    v.code,
    v.canonical,
    v.value,
    case when v.value is null then v.null_reason end as null_reason,
    v.vintage,
    v.source_key,
    i.unit
from staging.kwb_value as v
join staging.kwb_indicator as i
    on i.year = v.year and i.vintage = v.vintage and i.source_key = v.source_key
where v.year = $year
qualify row_number() over (
    partition by v.code, v.canonical
    order by (v.value is not null) desc, v.vintage desc
) = 1
