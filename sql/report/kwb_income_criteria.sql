-- KWB $year's income and benefit figures per gemeente and wijk, as validation criteria (long form:
-- code, year, level, criterion, value, direction). Bijstand per 1,000 inhabitants from the counts.
-- Ordered: core.validation_criteria stores the criteria in the order they come (its `row`), and a
-- GROUP BY's rows come in whatever order the threads finish.
with f as (
    select f.code, r.level, f.canonical, f.value
    from core.fact_indicator as f join core.dim_region as r using (year, code)
    where f.year = $year and r.level in ('gemeente', 'wijk') and f.value is not null
),
wide as (
    select code, level,
           max(value) filter (where canonical = 'HuishoudensMetEenLaagInkomen')      as laag_inkomen,
           max(value) filter (where canonical = 'HuishOnderOfRondSociaalMinimum')    as sociaal_minimum,
           max(value) filter (where canonical = 'GemiddeldInkomenPerInwoner')        as inkomen,
           1000 * max(value) filter (where canonical = 'PersonenPerSoortUitkeringBijstand')
               / nullif(max(value) filter (where canonical = 'AantalInwoners'), 0)   as bijstand
    from f group by code, level
)
select code, $year::integer as year, level, criterion, value, direction from (
    select code, level, 'kwb_laag_inkomen_pct' as criterion, laag_inkomen as value, 1 as direction from wide
    union all select code, level, 'kwb_sociaal_minimum_pct', sociaal_minimum, 1 from wide
    union all select code, level, 'kwb_bijstand_per_1000', bijstand, 1 from wide
    union all select code, level, 'kwb_inkomen_per_inwoner', inkomen, -1 from wide
) where value is not null
order by level, code, criterion
