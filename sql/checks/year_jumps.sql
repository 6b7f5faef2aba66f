-- Gemeenten (and Nederland) whose count indicators jump by more than $threshold between year
-- $year and the previous year in the warehouse (same code on both sides).
with cur as (
    select f.code, f.canonical, f.value from core.fact_indicator as f
    join core.dim_indicator as i on i.year = f.year and i.canonical = f.canonical
    where f.year = $year and i.datatype = 'Long' and i.unit = 'aantal'
      and (f.code like 'GM%' or f.code like 'NL%')
),
prev as (
    select code, canonical, value from core.fact_indicator
    where year = (select max(year) from core.fact_indicator where year < $year)
)
select cur.code, cur.canonical, prev.value as previous, cur.value as current,
       round(cur.value / prev.value - 1, 4) as rel_change
from cur join prev using (code, canonical)
where prev.value >= 100 and abs(cur.value / prev.value - 1) > $threshold
order by abs(cur.value / prev.value - 1) desc
