-- core.dim_region: one row per region (land, gemeente, wijk, buurt) and year.
-- Code without CBS padding (codes may be alphanumeric, BU0363AA01), name from the newest vintage
-- that lists the area, parent wijk/gemeente codes, and the kind of geometry the area has.
with ranked as (
    select *, row_number() over (partition by code order by vintage desc) as rn
    from staging.kwb_region
    where year = $year
),
newest as (select * from ranked where rn = 1)
select
    $year::integer                                          as year,
    r.code,
    r.level,
    r.name,
    r.wijk_code,
    coalesce(r.gemeente_code, case when r.level = 'gemeente' then r.code end) as gemeente_code,
    coalesce(gm.name, case when r.level = 'gemeente' then r.name end)         as gemeente_name,
    g.geometry_source,
    r.vintage                                               as name_vintage
from newest as r
left join newest as gm
    on gm.code = r.gemeente_code and gm.level = 'gemeente'
left join staging.geometry as g
    on g.year = $year and g.code = r.code
