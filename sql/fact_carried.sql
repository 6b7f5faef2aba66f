-- core.fact_carried: for the gemeenten and wijken of a year, the newest earlier figure (at most
-- $carry_max_age years older) of every indicator the year does not publish for the area, moved
-- onto the year's area (method v3: "the newest published figure of every indicator"):
--   crosswalk  through core.crosswalk (earlier year -> the year, the level) with population weights:
--              shares and means weighted by the source's inhabitants in each piece
--              (weight_pop x inhabitants); counts as a rate per inhabitant the same way, times
--              the year's own inhabitants (a count of 2021 over 2024's inhabitants would mix two
--              populations); only where pieces with a value hold >= 90 % of the carried people
--   same_code  no crosswalk for the level: the area with the same code, unless its boundary is
--              known to have changed (geometry_source 'no_boundary:changed…'), counts again as a
--              rate times the year's inhabitants.
-- Buurten get nothing carried (no earlier buurt figures here). `vintage` is the KWB year. Every
-- year of the pass ($run) in one statement: an earlier figure is read once for each year it reaches.
with run as (
    select unnest($run, recursive := true)
),
reach as (
    -- Which earlier years each year of the pass carries from (an equality join below, not a range).
    select r.year as run_year, e.year
    from run as r join (select distinct year from core.dim_region) as e
        on e.year < r.year and e.year >= r.year - $carry_max_age
),
own as (
    -- What the years that carry publish themselves, of the areas that can get a carried figure
    -- (buurten are most of a year's rows).
    select f.year, f.code, f.canonical from core.fact_indicator as f
    semi join core.dim_region as g
        on g.year = f.year and g.code = f.code and g.level in ('gemeente', 'wijk')
    where f.year in (select run_year from reach) and f.value is not null
),
inw as (
    select year, code, value as inwoners from core.fact_indicator
    where year in (select year from run) and canonical = 'AantalInwoners' and value is not null
),
src as (
    select r.run_year, f.year, f.code, g.level, g.geometry_source, f.canonical, f.value, f.unit,
           i.value as inw
    from core.fact_indicator as f
    join reach as r on r.year = f.year
    join core.dim_region as g on g.year = f.year and g.code = f.code
    left join core.fact_indicator as i
        on i.year = f.year and i.code = f.code and i.canonical = 'AantalInwoners'
    where f.value is not null and g.level in ('gemeente', 'wijk') and f.canonical <> 'AantalInwoners'
),
cw as (
    select c.* from core.crosswalk as c
    join run as r on c.to_year = r.year and c.from_year >= r.year - $carry_max_age
),
people as (
    -- Everyone the crosswalk carries onto a target, whatever they have published.
    select cw.to_year, cw.from_year, cw.level, cw.target_code,
           round(fsum(cw.weight_pop * i.value), 6) as people
    from cw join core.fact_indicator as i
        on i.year = cw.from_year and i.code = cw.source_code and i.canonical = 'AantalInwoners'
    group by all
),
via_crosswalk as (
    select cw.to_year as run_year, s.year as vintage, cw.level, cw.target_code as code, s.canonical,
           any_value(s.unit) as unit,
           -- Compensated sums, rounded: the same figure whatever order DuckDB's threads add in.
           round(fsum(cw.weight_pop * s.inw * case when s.unit = 'aantal' then s.value / nullif(s.inw, 0)
                                                   else s.value end)
                 / nullif(fsum(cw.weight_pop * s.inw), 0), 9) as v,
           round(fsum(cw.weight_pop * s.inw), 6) as carried_people
    from cw join src as s
        on s.run_year = cw.to_year and s.year = cw.from_year and s.code = cw.source_code and s.level = cw.level
    where s.inw > 0
    group by all
),
by_code as (
    select s.run_year, s.year as vintage, s.level, s.code, s.canonical, s.unit,
           case when s.unit = 'aantal' then s.value / nullif(s.inw, 0) else s.value end as v
    from src as s
    anti join (select distinct to_year as run_year, from_year as year, level from cw) as c
        using (run_year, year, level)
    where coalesce(s.geometry_source, '') not like 'no_boundary:changed%'
),
candidates as (
    select c.run_year, c.vintage, c.level, c.code, c.canonical, c.unit, c.v, 'crosswalk' as basis
    from via_crosswalk as c
    join people as p
        on p.to_year = c.run_year and p.from_year = c.vintage and p.level = c.level and p.target_code = c.code
    where c.carried_people >= 0.9 * p.people
    union all
    select run_year, vintage, level, code, canonical, unit, v, 'same_code' from by_code
),
newest as (
    select c.*,
           row_number() over (partition by c.run_year, c.code, c.canonical order by c.vintage desc) as rn
    from candidates as c
    join core.dim_region as r on r.year = c.run_year and r.code = c.code and r.level = c.level
    -- Anti joins, not NOT EXISTS: DuckDB decorrelates those into joins on IS NOT DISTINCT FROM
    -- (2024: 0.59 -> 0.53 s, 2022: 0.30 -> 0.26 s; codes and indicators are never NULL here).
    anti join own as o on o.year = c.run_year and o.code = c.code and o.canonical = c.canonical
    where c.v is not null
)
select
    n.run_year::integer                                         as year,
    n.code,
    n.canonical,
    case when n.unit = 'aantal' then n.v * i.inwoners else n.v end as value,
    n.unit,
    n.vintage::integer                                          as vintage,
    n.basis
from newest as n
left join inw as i on i.year = n.run_year and i.code = n.code
where n.rn = 1 and (n.unit <> 'aantal' or i.inwoners is not null)
