-- core.fact_carried: for the gemeenten and wijken of $year, the newest earlier figure (at most
-- $carry_max_age years older) of every indicator the year does not publish for the area, moved
-- onto the year's area (method v3: "the newest published figure of every indicator"):
--   crosswalk  through core.crosswalk (earlier year -> $year, the level) with population weights:
--              shares and means weighted by the source's inhabitants in each piece
--              (weight_pop x inhabitants); counts as a rate per inhabitant the same way, times
--              the year's own inhabitants (a count of 2021 over 2024's inhabitants would mix two
--              populations); only where pieces with a value hold >= 90 % of the carried people
--   same_code  no crosswalk for the level: the area with the same code, unless its boundary is
--              known to have changed (geometry_source 'no_boundary:changed…'), counts again as a
--              rate times the year's inhabitants.
-- Buurten get nothing carried (no earlier buurt figures here). `vintage` is the KWB year.
with own as (
    select code, canonical from core.fact_indicator where year = $year and value is not null
),
inw as (
    select code, value as inwoners from core.fact_indicator
    where year = $year and canonical = 'AantalInwoners' and value is not null
),
src as (
    select f.year, f.code, r.level, r.geometry_source, f.canonical, f.value, f.unit, i.value as inw
    from core.fact_indicator as f
    join core.dim_region as r using (year, code)
    left join core.fact_indicator as i
        on i.year = f.year and i.code = f.code and i.canonical = 'AantalInwoners'
    where f.year < $year and f.year >= $year - $carry_max_age and f.value is not null
      and r.level in ('gemeente', 'wijk') and f.canonical <> 'AantalInwoners'
),
cw as (
    select c.* from core.crosswalk as c where c.to_year = $year and c.from_year >= $year - $carry_max_age
),
people as (
    -- Everyone the crosswalk carries onto a target, whatever they have published.
    select cw.from_year, cw.level, cw.target_code, round(fsum(cw.weight_pop * i.value), 6) as people
    from cw join core.fact_indicator as i
        on i.year = cw.from_year and i.code = cw.source_code and i.canonical = 'AantalInwoners'
    group by all
),
via_crosswalk as (
    select s.year as vintage, cw.level, cw.target_code as code, s.canonical, any_value(s.unit) as unit,
           -- Compensated sums, rounded: the same figure whatever order DuckDB's threads add in.
           round(fsum(cw.weight_pop * s.inw * case when s.unit = 'aantal' then s.value / nullif(s.inw, 0)
                                                   else s.value end)
                 / nullif(fsum(cw.weight_pop * s.inw), 0), 9) as v,
           round(fsum(cw.weight_pop * s.inw), 6) as carried_people
    from cw join src as s on s.year = cw.from_year and s.code = cw.source_code and s.level = cw.level
    where s.inw > 0
    group by all
),
by_code as (
    select s.year as vintage, s.level, s.code, s.canonical, s.unit,
           case when s.unit = 'aantal' then s.value / nullif(s.inw, 0) else s.value end as v
    from src as s
    anti join (select distinct from_year as year, level from cw) as c using (year, level)
    where coalesce(s.geometry_source, '') not like 'no_boundary:changed%'
),
candidates as (
    select c.vintage, c.level, c.code, c.canonical, c.unit, c.v, 'crosswalk' as basis
    from via_crosswalk as c
    join people as p on p.from_year = c.vintage and p.level = c.level and p.target_code = c.code
    where c.carried_people >= 0.9 * p.people
    union all
    select vintage, level, code, canonical, unit, v, 'same_code' from by_code
),
newest as (
    select c.*, row_number() over (partition by c.code, c.canonical order by c.vintage desc) as rn
    from candidates as c
    join core.dim_region as r on r.year = $year and r.code = c.code and r.level = c.level
    -- Anti joins, not NOT EXISTS: DuckDB decorrelates those into joins on IS NOT DISTINCT FROM
    -- (2024: 0.59 -> 0.53 s, 2022: 0.30 -> 0.26 s; codes and indicators are never NULL here).
    anti join own as o on o.code = c.code and o.canonical = c.canonical
    where c.v is not null
)
select
    $year::integer                                              as year,
    n.code,
    n.canonical,
    case when n.unit = 'aantal' then n.v * i.inwoners else n.v end as value,
    n.unit,
    n.vintage::integer                                          as vintage,
    n.basis
from newest as n
left join inw as i using (code)
where n.rn = 1 and (n.unit <> 'aantal' or i.inwoners is not null)
