-- core.score_component: the five indicators of the v0 score per area, oriented so that higher
-- means more vulnerable, with their national percentile rank (rank-1)/(N-1) among the scorable
-- areas of the same level and year (ties share the lowest rank). See docs/methodology.md.
with wide as (
    select
        r.code,
        r.level,
        max(f.value) filter (where f.canonical = 'AantalInwoners')                     as inwoners,
        max(f.value) filter (where f.canonical = 'Koopwoningen')                       as koopwoningen_pct,
        max(f.value) filter (where f.canonical = 'GemiddeldeWOZWaardeVanWoningen')     as woz_x1000,
        max(f.value) filter (where f.canonical = 'GemiddeldInkomenPerInwoner')         as inkomen_x1000,
        max(f.value) filter (where f.canonical = 'k_65JaarOfOuder')                    as n_65plus,
        max(f.value) filter (where f.canonical = 'Eenpersoonshuishoudens')             as n_eenpersoons,
        max(f.value) filter (where f.canonical = 'HuishoudensTotaal')                  as n_huishoudens
    from core.dim_region as r
    join core.fact_indicator as f on f.year = r.year and f.code = r.code
    where r.year = $year and r.level in ('gemeente', 'wijk', 'buurt')
    group by r.code, r.level
),
oriented as (
    select
        code,
        level,
        100 - koopwoningen_pct                                  as huurwoningen_pct,
        woz_x1000,
        inkomen_x1000,
        100.0 * n_65plus / nullif(inwoners, 0)                  as pct_65plus,
        100.0 * n_eenpersoons / nullif(n_huishoudens, 0)        as pct_eenpersoons
    from wide
    where inwoners >= $min_population
),
components as (
    select code, level, 'huurwoningen_pct' as indicator, huurwoningen_pct as value, huurwoningen_pct as oriented from oriented
    union all select code, level, 'woz_x1000', woz_x1000, -woz_x1000 from oriented
    union all select code, level, 'inkomen_x1000', inkomen_x1000, -inkomen_x1000 from oriented
    union all select code, level, 'pct_65plus', pct_65plus, pct_65plus from oriented
    union all select code, level, 'pct_eenpersoons', pct_eenpersoons, pct_eenpersoons from oriented
)
select
    $year::integer  as year,
    code,
    level,
    indicator,
    value,
    oriented,
    percent_rank() over (partition by level, indicator order by oriented) as percentile_rank
from components
where value is not null
