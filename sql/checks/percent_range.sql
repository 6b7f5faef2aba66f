-- Values of year $year whose unit is % but that lie outside 0..100: the kind of error that
-- publishes counts as percentages.
select f.code, f.canonical, f.value, f.vintage, f.source_key
from core.fact_indicator as f
where f.year = $year and f.unit = '%' and (f.value < 0 or f.value > 100)
