-- Gemeenten of year $year whose buurt polygons do not add up to the gemeente polygon: the ratio of
-- summed buurt area to gemeente area, listed where it is off by more than $tolerance.
with g as (
    select s.code, ST_Area(s.geom) as area
    from staging.geometry as s
    join core.dim_region as r on r.year = s.year and r.code = s.code  -- KWB gemeenten only
    where s.year = $year and s.level = 'gemeente'
),
b as (
    select r.gemeente_code as code, sum(ST_Area(s.geom)) as area, count(*) as n_buurten
    from staging.geometry as s
    join core.dim_region as r on r.year = s.year and r.code = s.code
    where s.year = $year and s.level = 'buurt'
    group by r.gemeente_code
)
select g.code, b.n_buurten, round(coalesce(b.area, 0) / g.area, 4) as area_ratio
from g left join b using (code)
where abs(coalesce(b.area, 0) / g.area - 1) > $tolerance
  -- A year without buurt polygons at all (KWB 2021/2022: gemeenten and wijken only) has nothing to check.
  and exists (select 1 from staging.geometry where year = $year and level = 'buurt')
order by area_ratio
