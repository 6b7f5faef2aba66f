-- What validation measures, per score year, level and area: the headline score (kwetsbaarheid,
-- national percentile rank), every theme score (percentile-based) and every indicator
-- (percentile rank), all oriented so that higher = more vulnerable, with the area's inhabitants
-- (the weight of top-decile capture) and gemeente (the fixed halves). Spec $spec_hash only.
with pop as (
    select year, code, value as inwoners from core.fact_indicator where canonical = 'AantalInwoners'
),
region as (
    select year, code, level, coalesce(gemeente_code, code) as gemeente_code from core.dim_region
)
select s.year, s.code, r.level, r.gemeente_code, p.inwoners, 'score' as kind, 'kwetsbaarheid' as subject,
       s.score as value
from core.score as s join region as r using (year, code) left join pop as p using (year, code)
where s.spec_hash = $spec_hash and s.score is not null
union all
select t.year, t.code, r.level, r.gemeente_code, p.inwoners, 'theme', t.theme, t.score_percentile
from core.score_theme as t join region as r using (year, code) left join pop as p using (year, code)
where t.spec_hash = $spec_hash and t.complete and t.axis = 'kwetsbaarheid'
union all
select i.year, i.code, r.level, r.gemeente_code, p.inwoners, 'indicator', i.indicator, i.percentile_rank
from core.score_indicator as i join region as r using (year, code) left join pop as p using (year, code)
where i.spec_hash = $spec_hash and i.axis = 'kwetsbaarheid'
order by year, level, kind, subject, code
