-- core.vulnerable_residents: an estimate of how many residents of each gemeente, wijk and buurt
-- are in a vulnerable position, from the groups KWB publishes for the area (each from its own
-- row: wijk and gemeente figures are never sums of their parts):
--   laag_inkomen     residents of low-income households  = % households with a low income x inhabitants
--   sociaal_minimum  residents of households at or near the social minimum = % x inhabitants
--   bijstand         persons on bijstand (count)
--   wmo              Wmo clients (count)
--   jeugdzorg        young people with youth care in kind (count)
-- (a household share applied to inhabitants assumes those households are of average size; the
-- groups overlap). Range: lower = the largest single group, upper = the sum of the groups capped
-- at the inhabitants. NULL with a reason where no group is published for the area.
with f as (
    select code, canonical, value from core.fact_indicator
    where year = $year and canonical in (
        'AantalInwoners', 'HuishoudensMetEenLaagInkomen', 'HuishOnderOfRondSociaalMinimum',
        'PersonenPerSoortUitkeringBijstand', 'WmoClienten', 'JongerenMetJeugdzorgInNatura')
),
wide as (
    select code,
        max(value) filter (where canonical = 'AantalInwoners') as inwoners,
        max(value) filter (where canonical = 'HuishoudensMetEenLaagInkomen') / 100
            * max(value) filter (where canonical = 'AantalInwoners') as laag_inkomen,
        max(value) filter (where canonical = 'HuishOnderOfRondSociaalMinimum') / 100
            * max(value) filter (where canonical = 'AantalInwoners') as sociaal_minimum,
        max(value) filter (where canonical = 'PersonenPerSoortUitkeringBijstand') as bijstand,
        max(value) filter (where canonical = 'WmoClienten') as wmo,
        max(value) filter (where canonical = 'JongerenMetJeugdzorgInNatura') as jeugdzorg
    from f group by code
),
groups as (
    select w.*,
        greatest(laag_inkomen, sociaal_minimum, bijstand, wmo, jeugdzorg) as largest,
        coalesce(laag_inkomen, 0) + coalesce(sociaal_minimum, 0) + coalesce(bijstand, 0)
            + coalesce(wmo, 0) + coalesce(jeugdzorg, 0) as total,
        concat_ws(', ',
            case when laag_inkomen is not null then 'laag_inkomen' end,
            case when sociaal_minimum is not null then 'sociaal_minimum' end,
            case when bijstand is not null then 'bijstand' end,
            case when wmo is not null then 'wmo' end,
            case when jeugdzorg is not null then 'jeugdzorg' end) as groups
    from wide as w
)
select
    $year::integer                                      as year,
    r.code,
    r.level,
    round(g.laag_inkomen)::bigint                       as n_laag_inkomen,
    round(g.sociaal_minimum)::bigint                    as n_sociaal_minimum,
    round(g.bijstand)::bigint                           as n_bijstand,
    round(g.wmo)::bigint                                as n_wmo,
    round(g.jeugdzorg)::bigint                          as n_jeugdzorg,
    round(g.largest)::bigint                            as kwetsbare_bewoners_min,
    case when g.largest is not null then round(least(g.total, g.inwoners))::bigint end as kwetsbare_bewoners_max,
    nullif(g.groups, '')                                as kwetsbare_bewoners_groepen,
    case
        when g.inwoners is null then 'no_population_figure'
        when g.largest is null then 'no_group_published (income, bijstand, Wmo and youth care are not published for this area in ' || $year || ')'
    end                                                 as kwetsbare_bewoners_null_reason
from core.dim_region as r
left join groups as g using (code)
where r.year = $year and r.level in ('gemeente', 'wijk', 'buurt')
