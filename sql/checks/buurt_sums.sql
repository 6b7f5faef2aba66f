-- Gemeenten of year $year where the inhabitants of their buurten differ from the gemeente's own
-- figure by more than $tolerance (CBS rounds buurt counts to 5 and counts some residents only
-- at gemeente level, so small differences are expected).
with gm as (
    select code, value from core.fact_indicator
    where year = $year and canonical = 'AantalInwoners' and code like 'GM%'
),
bu as (
    select r.gemeente_code as code, sum(f.value) as value, count(f.value) as n, count(*) as n_all
    from core.fact_indicator as f
    join core.dim_region as r on r.year = f.year and r.code = f.code
    where f.year = $year and f.canonical = 'AantalInwoners' and r.level = 'buurt'
    group by r.gemeente_code
)
select gm.code, gm.value as gemeente_inwoners, bu.value as buurten_inwoners,
       round(bu.value / gm.value - 1, 4) as rel_diff
from gm join bu using (code)
where bu.n = bu.n_all and gm.value > 0 and abs(bu.value / gm.value - 1) > $tolerance
order by abs(bu.value / gm.value - 1) desc
