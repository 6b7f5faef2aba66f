-- Polygons of year $year that are invalid, empty, in another CRS or outside the Netherlands'
-- extent in RD New (x 0..300 km, y 300..625 km).
select code, level,
    case when ST_IsEmpty(geom) then 'empty'
         when not ST_IsValid(geom) then 'invalid'
         when typeof(geom) <> 'GEOMETRY(''EPSG:28992'')' then 'crs ' || typeof(geom)
         else 'outside the Netherlands' end as problem
from staging.geometry
where year = $year and (
    ST_IsEmpty(geom) or not ST_IsValid(geom) or typeof(geom) <> 'GEOMETRY(''EPSG:28992'')'
    or ST_XMin(geom) < 0 or ST_XMax(geom) > 300000 or ST_YMin(geom) < 300000 or ST_YMax(geom) > 625000)
