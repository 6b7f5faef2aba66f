-- core.vulnerable_residents rows that contradict each other or the inhabitants: a wijk above
-- its gemeente; the counted children of an area (buurten of a wijk, wijken of a gemeente) adding
-- up to more than the area beyond rounding (each count is rounded: $rounding per child; the
-- estimates benchmark children to their parent, so only rounding may remain) and, for published
-- children, beyond $published_slack of their counts (each level's published household share times
-- its own inhabitants: shares rounded to 0.1 and household sizes that differ make published wijken
-- add up to 1-2 % more or less than their published gemeente in KWB 2021); an interval that
-- does not hold its estimate; a count above the inhabitants.
with v as (
    select v.*, r.wijk_code, r.gemeente_code,
           case v.level when 'buurt' then r.wijk_code when 'wijk' then r.gemeente_code end as parent_code
    from core.vulnerable_residents as v
    join core.dim_region as r using (year, code)
    where v.year = $year
),
inw as (
    select code, value as inwoners from core.fact_indicator
    where year = $year and canonical = 'AantalInwoners'
)
select w.code, w.level, w.kwetsbare_bewoners, g.kwetsbare_bewoners as parent, 'wijk above its gemeente' as problem
from v as w join v as g on g.code = w.gemeente_code and g.level = 'gemeente'
where w.level = 'wijk' and w.kwetsbare_bewoners > g.kwetsbare_bewoners
union all
select p.code, p.level, sum(c.kwetsbare_bewoners), any_value(p.kwetsbare_bewoners),
       'children add up to more than the area'
from v as c join v as p on p.code = c.parent_code
group by p.code, p.level
having sum(c.kwetsbare_bewoners) > any_value(p.kwetsbare_bewoners) + $rounding * count(c.kwetsbare_bewoners) + 1
    + $published_slack * coalesce(sum(c.kwetsbare_bewoners) filter (where c.estimate_kind = 'published'), 0)
union all
select code, level, kwetsbare_bewoners, null, 'interval does not hold the estimate'
from v
where kwetsbare_bewoners < kwetsbare_bewoners_p05 or kwetsbare_bewoners > kwetsbare_bewoners_p95
   or kwetsbare_bewoners < kwetsbare_bewoners_min or kwetsbare_bewoners > kwetsbare_bewoners_max
union all
select v.code, v.level, v.kwetsbare_bewoners, i.inwoners, 'more than the inhabitants'
from v join inw as i using (code)
where v.kwetsbare_bewoners > i.inwoners
