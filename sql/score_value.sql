-- core.score_value: every indicator of the method spec for every gemeente, wijk and buurt of the
-- year. value = source / denominator * scale (KWB canonical indicators, core.fact_indicator);
-- value_shrunk pulls it toward the parent's value (buurt -> wijk, wijk -> gemeente) in
-- proportion to the area's size: (n * x + k * x_parent) / (n + k). NULL values keep a reason
-- (never 0). `eligible`: the area has at least $min_population inhabitants. `vintage`: the KWB
-- year of the figure (method v3: the newest earlier one where the year publishes none).
--
-- The joins go on integers (area number, indicator number) rather than on codes and names: at
-- 30x the national size (5.7 million area-indicator rows) this model took 11-14 s with them,
-- under 8 s without; the real 2024 0.6 s and 0.4 s. Every year of the pass ($run) in one statement:
-- the area numbers run over all its years.
with run as (
    select unnest($run, recursive := true)
),
spec as (
    select *, row_number() over (order by name) as sid
    from core.method_indicator where spec_hash = $spec_hash
),
canon as (
    -- The canonical indicators the spec reads, numbered (keeps the three joins below small).
    select canonical, row_number() over (order by canonical) as cid
    from (select source as canonical from spec union select denominator from spec
          union select size from spec union select 'AantalInwoners')
),
spec_k as (
    select s.*, cs.cid as source_cid, cd.cid as denominator_cid, cz.cid as size_cid
    from spec as s
    left join canon as cs on cs.canonical = s.source
    left join canon as cd on cd.canonical = s.denominator and s.denominator <> ''
    left join canon as cz on cz.canonical = s.size
),
area as (
    select year, code, level,
           case level when 'buurt' then wijk_code when 'wijk' then gemeente_code end as parent_code,
           row_number() over () as rid
    from core.dim_region
    where year in (select year from run) and level in ('gemeente', 'wijk', 'buurt')
),
region as (
    select a.*, p.rid as parent_rid
    from area as a left join area as p on p.year = a.year and p.code = a.parent_code
),
own as (
    select r.rid, c.cid, f.value, f.null_reason, f.year
    from core.fact_indicator as f
    join canon as c on c.canonical = f.canonical
    join region as r on r.year = f.year and r.code = f.code
),
carried as (
    -- Method v3 ($carry_max_age > 0): the newest earlier figure where the year has none
    -- (core.fact_carried); v1/v2 carry nothing.
    select r.rid, c.cid, k.value, k.vintage
    from core.fact_carried as k
    join canon as c on c.canonical = k.canonical
    join region as r on r.year = k.year and r.code = k.code
    where k.year - k.vintage <= $carry_max_age
),
fact as (
    select rid, cid, value, null_reason, year as vintage from own where value is not null
    union all
    select rid, cid, value, null, vintage from carried
    union all
    select o.rid, o.cid, o.value, o.null_reason, o.year from own as o
    where o.value is null and not exists (select 1 from carried as k where k.rid = o.rid and k.cid = o.cid)
),
pop as (
    select f.rid, f.value as inwoners
    from fact as f join canon as c on c.cid = f.cid and c.canonical = 'AantalInwoners'
),
computed as (
    select
        r.year, r.rid, r.parent_rid, r.code, r.level, s.sid,
        s.axis, s.theme, s.name as indicator, s.direction, s.transform, s.weight,
        z.value as size,
        n.vintage,
        case when s.denominator = '' then n.value * s.scale
             else n.value / nullif(d.value, 0) * s.scale end as x,
        case
            when n.rid is null then 'not_in_source'
            when n.value is null then coalesce(n.null_reason, 'missing')
            when s.denominator <> '' and d.value is null
                then 'denominator_' || coalesce(d.null_reason, 'missing')
            when s.denominator <> '' and d.value = 0 then 'denominator_zero'
        end as reason
    from region as r
    cross join spec_k as s
    left join fact as n on n.rid = r.rid and n.cid = s.source_cid
    left join fact as d on d.rid = r.rid and d.cid = s.denominator_cid
    left join fact as z on z.rid = r.rid and z.cid = s.size_cid
),
weighted as (
    select
        c.*,
        p.x as x_parent,
        case when $shrinkage and c.x is not null and p.x is not null and c.size > 0
             then c.size / (c.size + $prior_size) end as shrink_weight
    from computed as c
    left join computed as p on p.rid = c.parent_rid and p.sid = c.sid
),
shrunk as (
    select *,
        case when shrink_weight is null then x
             else shrink_weight * x + (1 - shrink_weight) * x_parent end as xs,
        x is null or (transform = 'log' and x <= 0) as unusable
    from weighted
)
select
    s.year,
    s.code,
    s.level,
    s.axis,
    s.theme,
    s.indicator,
    coalesce(pop.inwoners >= $min_population, false)           as eligible,
    s.x                                                         as value,
    s.xs                                                        as value_shrunk,
    s.shrink_weight,
    -- The KWB year of the figure (method v3 carries earlier ones where the year has none).
    s.vintage,
    -- Oriented: higher = more vulnerable; the log is taken after shrinking, on the original scale.
    case when s.unusable then null
         when s.transform = 'log' then s.direction * ln(s.x) else s.direction * s.x end   as oriented_raw,
    case when s.unusable then null
         when s.transform = 'log' then s.direction * ln(s.xs) else s.direction * s.xs end as oriented,
    case when s.reason is not null then s.reason
         when s.unusable then 'not_positive_for_log' end        as null_reason,
    $spec_hash                                                  as spec_hash
from shrunk as s
left join pop on pop.rid = s.rid
