-- Indicators without a single value at a level in year $year: not (yet) published by CBS. A
-- warning, not an error: KWB fills income, benefits and care months after population.
select level, canonical
from core.indicator_availability
where year = $year and status = 'not_published'
order by level, canonical
