-- marts.area: what a dashboard or map needs, one row per gemeente, wijk and buurt and year:
-- names, parents, key indicators with the vintage they came from, the scores of both axes and why
-- they are NULL, rank intervals, explanations, and the polygon (EPSG:28992) with its kind. Every
-- year of $run in one statement.
with run as (
    select unnest($run, recursive := true)
),
ind as (
    -- Only the rows of the indicators shown (the year has a hundred more per area).
    select
        year, code,
        max(value) filter (where canonical = 'AantalInwoners')::bigint                 as inwoners,
        max(value) filter (where canonical = 'HuishoudensTotaal')::bigint              as huishoudens,
        max(value) filter (where canonical = 'Koopwoningen')                           as koopwoningen_pct,
        max(value) filter (where canonical = 'GemiddeldeWOZWaardeVanWoningen')         as woz_x1000_euro,
        max(value) filter (where canonical = 'GemiddeldInkomenPerInwoner')             as inkomen_per_inwoner_x1000_euro,
        max(value) filter (where canonical = 'InBezitWoningcorporatie')                as corporatie_pct,
        max(value) filter (where canonical = 'MateVanStedelijkheid')::integer          as stedelijkheid,
        100.0 * max(value) filter (where canonical = 'k_65JaarOfOuder')
            / nullif(max(value) filter (where canonical = 'AantalInwoners'), 0)        as pct_65plus,
        100.0 * max(value) filter (where canonical = 'Eenpersoonshuishoudens')
            / nullif(max(value) filter (where canonical = 'HuishoudensTotaal'), 0)     as pct_eenpersoons,
        1000.0 * max(value) filter (where canonical = 'Misdrijven')
            / nullif(max(value) filter (where canonical = 'AantalInwoners'), 0)        as misdrijven_per_1000
    from core.fact_indicator
    where year in (select year from run) and canonical in (
        'AantalInwoners', 'HuishoudensTotaal', 'Koopwoningen', 'GemiddeldeWOZWaardeVanWoningen',
        'GemiddeldInkomenPerInwoner', 'InBezitWoningcorporatie', 'MateVanStedelijkheid',
        'k_65JaarOfOuder', 'Eenpersoonshuishoudens', 'Misdrijven')
    group by year, code
),
vintages as (
    -- Distinct first, then one ordered list per area (a distinct ordered aggregate over every
    -- row was most of this model's time).
    select year, code, string_agg(vintage, ', ' order by vintage) as vintages_used
    from (select distinct year, code, vintage from core.fact_indicator where year in (select year from run))
    group by year, code
),
within as (
    -- The "relative" view: where the area stands among the scored areas of its own gemeente
    -- (0 = least, 1 = most vulnerable there); NULL for gemeenten. Ranked on these few columns
    -- only: over the whole row (geometry included) the window took a third of this model.
    select r.year, r.code,
        case when s.score is not null and r.level <> 'gemeente' then
            round(percent_rank() over (partition by r.year, r.level, r.gemeente_code, (s.score is null)
                                       order by s.score), 6) end as score_within_gemeente
    from core.dim_region as r
    left join core.score as s on s.year = r.year and s.code = r.code
    where r.year in (select year from run) and r.level in ('gemeente', 'wijk', 'buurt')
),
expl as (
    select year, code,
        arg_min(title, rank)                                    as top_indicator,
        -- A figure carried from an earlier vintage (method v3) says so: "... (p86, KWB 2021)".
        string_agg(title || ' ' || round(value, 1) || ' ' || unit || ' (p' || round(100 * percentile_rank)::integer
                   || case when vintage < year then ', KWB ' || vintage else '' end || ')',
                   '; ' order by rank)                          as explanation
    from core.score_explanation
    where year in (select year from run)
    group by year, code
)
select
    r.year,
    r.code,
    r.name,
    r.level,
    r.wijk_code,
    r.gemeente_code,
    r.gemeente_name,
    i.inwoners,
    i.huishoudens,
    i.koopwoningen_pct,
    i.woz_x1000_euro,
    i.inkomen_per_inwoner_x1000_euro,
    i.corporatie_pct,
    round(i.pct_65plus, 1)          as pct_65plus,
    round(i.pct_eenpersoons, 1)     as pct_eenpersoonshuishoudens,
    round(i.misdrijven_per_1000, 1) as misdrijven_per_1000_inwoners,
    i.stedelijkheid,
    round(s.score, 6)               as score,
    -- Quintile class of the score (a national percentile rank): 1 = least, 5 = most vulnerable
    -- fifth. From the rank, not ntile(): ntile splits ties arbitrarily, a class must not.
    -- (The case matters: DuckDB's least() skips NULLs, so least(NULL, 5) would be 5.)
    case when s.score is not null then
        least(floor(s.score * $quantiles + 1e-9)::integer + 1, $quantiles) end as score_class,
    s.score >= 1 - $top_share - 1e-9 as top10,
    w.score_within_gemeente,
    round(s.kwetsbaarheid_goalpost, 6) as kwetsbaarheid_goalpost,
    round(s.druk, 6)                as druk,
    round(s.druk_goalpost, 6)       as druk_goalpost,
    s.bivariate_class,
    ch.change_class,
    ch.base_year                    as change_since,
    ch.d_kwetsbaarheid,
    ch.d_druk,
    ch.change_basis,
    ch.change_null_reason,
    s.coverage,
    s.n_flags,
    vr.kwetsbare_bewoners,
    vr.kwetsbare_bewoners_p05,
    vr.kwetsbare_bewoners_p95,
    vr.kwetsbare_bewoners_min,
    vr.kwetsbare_bewoners_max,
    vr.kwetsbare_bewoners_pct,
    vr.estimate_kind,
    vr.estimate_vintage,
    vr.estimate_basis,
    vr.kwetsbare_bewoners_null_reason,
    u.rank_p05,
    u.rank_p50,
    u.rank_p95,
    u.p_top10,
    u.uncertain,
    s.n_indicators,
    e.top_indicator,
    e.explanation,
    s.score_null_reason,
    s.druk_null_reason,
    s.method_version,
    s.spec_hash,
    v.vintages_used,
    r.geometry_source,
    g.geom                          as geometry
from core.dim_region as r
left join ind as i on i.year = r.year and i.code = r.code
left join vintages as v on v.year = r.year and v.code = r.code
left join within as w on w.year = r.year and w.code = r.code
left join expl as e on e.year = r.year and e.code = r.code
left join core.score_change as ch on ch.year = r.year and ch.code = r.code and ch.is_latest
left join core.score as s on s.year = r.year and s.code = r.code
left join core.vulnerable_residents as vr on vr.year = r.year and vr.code = r.code
-- (Intervals exist for scored areas only; a condition on s here would force a nested-loop join.)
left join core.score_uncertainty as u on u.year = r.year and u.code = r.code
left join staging.geometry as g on g.year = r.year and g.code = r.code
where r.year in (select year from run) and r.level in ('gemeente', 'wijk', 'buurt')
