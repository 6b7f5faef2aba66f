-- core.score_value: every indicator of the method spec for every gemeente, wijk and buurt of the
-- year. value = source / denominator * scale (KWB canonical indicators, core.fact_indicator);
-- value_shrunk pulls it toward the parent's value (buurt -> wijk, wijk -> gemeente) in
-- proportion to the area's size: (n * x + k * x_parent) / (n + k). NULL values keep a reason
-- (never 0). `eligible`: the area has at least $min_population inhabitants.
with spec as (
    select * from core.method_indicator where spec_hash = $spec_hash
),
region as (
    select code, level,
           case level when 'buurt' then wijk_code when 'wijk' then gemeente_code end as parent_code
    from core.dim_region
    where year = $year and level in ('gemeente', 'wijk', 'buurt')
),
fact as (
    -- Only the indicators the spec reads: keeps the three joins below small.
    select code, canonical, value, null_reason from core.fact_indicator
    where year = $year and canonical in (
        select source from spec union select denominator from spec union select size from spec
        union select 'AantalInwoners')
),
pop as (
    select code, value as inwoners from fact where canonical = 'AantalInwoners'
),
computed as (
    select
        r.code, r.level, r.parent_code,
        s.axis, s.theme, s.name as indicator, s.direction, s.transform, s.weight,
        z.value as size,
        case when s.denominator = '' then n.value * s.scale
             else n.value / nullif(d.value, 0) * s.scale end as x,
        case
            when n.canonical is null then 'not_in_source'
            when n.value is null then coalesce(n.null_reason, 'missing')
            when s.denominator <> '' and d.value is null
                then 'denominator_' || coalesce(d.null_reason, 'missing')
            when s.denominator <> '' and d.value = 0 then 'denominator_zero'
        end as reason
    from region as r
    cross join spec as s
    left join fact as n on n.code = r.code and n.canonical = s.source
    left join fact as d on d.code = r.code and d.canonical = s.denominator
    left join fact as z on z.code = r.code and z.canonical = s.size
),
weighted as (
    select
        c.*,
        p.x as x_parent,
        case when $shrinkage and c.x is not null and p.x is not null and c.size > 0
             then c.size / (c.size + $prior_size) end as shrink_weight
    from computed as c
    left join computed as p on p.code = c.parent_code and p.indicator = c.indicator
),
shrunk as (
    select *,
        case when shrink_weight is null then x
             else shrink_weight * x + (1 - shrink_weight) * x_parent end as xs,
        x is null or (transform = 'log' and x <= 0) as unusable
    from weighted
)
select
    $year::integer                                              as year,
    s.code,
    s.level,
    s.axis,
    s.theme,
    s.indicator,
    coalesce(pop.inwoners >= $min_population, false)           as eligible,
    s.x                                                         as value,
    s.xs                                                        as value_shrunk,
    s.shrink_weight,
    -- Oriented: higher = more vulnerable; the log is taken after shrinking, on the original scale.
    case when s.unusable then null
         when s.transform = 'log' then s.direction * ln(s.x) else s.direction * s.x end   as oriented_raw,
    case when s.unusable then null
         when s.transform = 'log' then s.direction * ln(s.xs) else s.direction * s.xs end as oriented,
    case when s.reason is not null then s.reason
         when s.unusable then 'not_positive_for_log' end        as null_reason,
    $spec_hash                                                  as spec_hash
from shrunk as s
left join pop on pop.code = s.code
