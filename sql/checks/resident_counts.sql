-- Wijken whose estimated vulnerable residents exceed their gemeente's estimate (lower bound
-- against lower bound, upper against upper), and gemeenten whose wijken's lower bounds add up to
-- more than the gemeente's upper bound: each level's estimate comes from its own figures, so
-- these would show an inconsistent group or a unit error.
with v as (
    select v.*, r.gemeente_code from core.vulnerable_residents as v
    join core.dim_region as r using (year, code)
    where v.year = $year
),
gm as (select * from v where level = 'gemeente')
select w.code, w.level, w.kwetsbare_bewoners_min, gm.kwetsbare_bewoners_min as gemeente_min,
       'wijk above its gemeente' as problem
from v as w join gm on gm.code = w.gemeente_code
where w.level = 'wijk' and (w.kwetsbare_bewoners_min > gm.kwetsbare_bewoners_min
                            or w.kwetsbare_bewoners_max > gm.kwetsbare_bewoners_max)
union all
select gm.code, 'gemeente', sum(w.kwetsbare_bewoners_min), any_value(gm.kwetsbare_bewoners_max),
       'wijken add up to more than the gemeente'
from v as w join gm on gm.code = w.gemeente_code
where w.level = 'wijk'
group by gm.code
having sum(w.kwetsbare_bewoners_min) > any_value(gm.kwetsbare_bewoners_max) * 1.05
