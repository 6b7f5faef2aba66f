-- What the resident-count estimates of year $year start from, one row per area (land, gemeente,
-- wijk, buurt): its parent (buurt -> wijk -> gemeente -> land), inhabitants, the covariates
-- every area of the year can have (as published for the area itself, never summed), the
-- headline rate if the year publishes it for the area, and the rate of the newest earlier
-- vintage $source_year moved onto this year's area:
--   crosswalk  through core.crosswalk ($source_year -> $year, the level), population weights:
--              the mean of the source rates weighted by the source's households in each piece
--              (weight_pop x households), over pieces with a published rate; only where those
--              pieces hold >= 90 % of the area's carried households (else NULL: mostly unknown)
--   same_code  no crosswalk for the level: the area with the same code in $source_year, unless
--              its boundary is known to have changed (geometry_source 'no_boundary:changed…')
-- Rates are % of households; the headline is HuishoudensMetEenLaagInkomen (CBS's low-income
-- threshold); the two social-minimum shares give the range of nested definitions.
with f as (
    select code, canonical, value from core.fact_indicator
    where year = $year and value is not null
),
wide as (
    select code,
        max(value) filter (where canonical = 'AantalInwoners')                      as inwoners,
        max(value) filter (where canonical = 'HuishoudensTotaal')                   as huishoudens,
        max(value) filter (where canonical = 'Koopwoningen')                        as koop,
        max(value) filter (where canonical = 'InBezitWoningcorporatie')             as corporatie,
        max(value) filter (where canonical = 'GemiddeldeWOZWaardeVanWoningen')      as woz,
        max(value) filter (where canonical = 'GemiddeldeHuishoudensgrootte')        as hh_grootte,
        max(value) filter (where canonical = 'PercentageEengezinswoning')           as eengezins,
        max(value) filter (where canonical = 'k_0Tot15Jaar')                        as n_0_15,
        max(value) filter (where canonical = 'k_65JaarOfOuder')                     as n_65plus,
        max(value) filter (where canonical = 'Bevolkingsdichtheid')                 as dichtheid,
        max(value) filter (where canonical = 'Omgevingsadressendichtheid')          as adressen,
        max(value) filter (where canonical = 'GemiddeldInkomenPerInwoner')          as inkomen,
        max(value) filter (where canonical = 'HuishoudensMetEenLaagInkomen')        as laag_inkomen,
        max(value) filter (where canonical = 'HuishOnderOfRondSociaalMinimum')      as sociaal_minimum,
        max(value) filter (where canonical = 'HuishoudensTot120VanSociaalMinimum')  as tot_120_sm,
        max(value) filter (where canonical = 'PersonenPerSoortUitkeringBijstand')   as bijstand,
        max(value) filter (where canonical = 'WmoClienten')                         as wmo,
        max(value) filter (where canonical = 'JongerenMetJeugdzorgInNatura')        as jeugdzorg
    from f group by code
),
src as (
    select r.code, r.level, r.geometry_source,
        max(f.value) filter (where f.canonical = 'HuishoudensTotaal')                  as huishoudens,
        max(f.value) filter (where f.canonical = 'HuishoudensMetEenLaagInkomen')       as laag_inkomen,
        max(f.value) filter (where f.canonical = 'HuishOnderOfRondSociaalMinimum')     as sociaal_minimum,
        max(f.value) filter (where f.canonical = 'HuishoudensTot120VanSociaalMinimum') as tot_120_sm
    from core.dim_region as r
    join core.fact_indicator as f on f.year = r.year and f.code = r.code and f.value is not null
    where r.year = $source_year
    group by all
),
cw as (
    select * from core.crosswalk where from_year = $source_year and to_year = $year
),
by_crosswalk as (
    -- Rounded to 9 decimals: DuckDB adds doubles in whatever order its threads meet them, and the
    -- last bits of a sum would otherwise decide how a count of x.5 rounds (runs must agree).
    select cw.level, cw.target_code as code,
        round(fsum(cw.weight_pop * s.huishoudens * s.laag_inkomen)
            / nullif(fsum(cw.weight_pop * s.huishoudens) filter (where s.laag_inkomen is not null), 0), 9)
            as laag_inkomen,
        round(fsum(cw.weight_pop * s.huishoudens * s.sociaal_minimum)
            / nullif(fsum(cw.weight_pop * s.huishoudens) filter (where s.sociaal_minimum is not null), 0), 9)
            as sociaal_minimum,
        round(fsum(cw.weight_pop * s.huishoudens * s.tot_120_sm)
            / nullif(fsum(cw.weight_pop * s.huishoudens) filter (where s.tot_120_sm is not null), 0), 9)
            as tot_120_sm,
        round(fsum(cw.weight_pop * s.huishoudens) filter (where s.laag_inkomen is not null)
            / nullif(fsum(cw.weight_pop * s.huishoudens), 0), 9) as covered
    from cw
    join src as s on s.code = cw.source_code and s.level = cw.level
    group by all
),
carried as (
    select level, code, laag_inkomen, sociaal_minimum, tot_120_sm, 'crosswalk' as basis
    from by_crosswalk where covered >= 0.9
    union all
    select s.level, s.code, s.laag_inkomen, s.sociaal_minimum, s.tot_120_sm, 'same_code'
    from src as s
    where $year <> $source_year
      and not exists (select 1 from cw where cw.level = s.level)
      and coalesce(s.geometry_source, '') not like 'no_boundary:changed%'
)
select
    r.code,
    r.level,
    case r.level
        when 'buurt' then r.wijk_code
        when 'wijk' then r.gemeente_code
        when 'gemeente' then (select min(code) from core.dim_region where year = $year and level = 'land')
    end                                     as parent_code,
    r.gemeente_code,
    w.* exclude (code),
    c.laag_inkomen                          as carried_laag_inkomen,
    c.sociaal_minimum                       as carried_sociaal_minimum,
    c.tot_120_sm                            as carried_tot_120_sm,
    c.basis                                 as carried_basis
from core.dim_region as r
left join wide as w using (code)
left join carried as c on c.code = r.code and c.level = r.level
where r.year = $year
-- One order, so that the fit, the folds and the sums of the benchmarking are the same every run.
order by r.level, r.code
