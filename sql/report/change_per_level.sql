-- Change classes of year $year per level and earlier year: areas with a row, and with a class.
select level, coalesce(base_year::varchar, 'none') as base_year, count(*) as areas,
       count(change_class) as classed
from core.score_change
where year = $year
group by all
order by level, base_year
