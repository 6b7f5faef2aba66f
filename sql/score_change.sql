-- core.score_change: how each area's kwetsbaarheid and druk moved since the latest earlier year
-- scored with the same spec, on comparable scales (the goalpost values, fixed bounds) and on this
-- year's boundaries. With a crosswalk (core.crosswalk, earlier year -> this year) the earlier
-- values are carried onto this year's areas, weighted by each source's share of the target's
-- overlap; without one, areas are matched by code (`change_basis` says which). The change class
-- is K<+|=|->D<+|=|->: up, stable (|delta| <= $change_threshold) or down on each axis.
with base as (
    select max(year) as base_year from core.score where year < $year and spec_hash = $spec_hash
),
now as (
    select code, level, kwetsbaarheid_goalpost as k, druk_goalpost as d
    from core.score where year = $year and spec_hash = $spec_hash
),
earlier as (
    select s.code, s.level, s.kwetsbaarheid_goalpost as k, s.druk_goalpost as d
    from core.score as s join base on s.year = base.base_year
    where s.spec_hash = $spec_hash
),
cw as (
    select c.level, c.source_code, c.target_code,
           c.overlap_m2 / sum(c.overlap_m2) over (partition by c.level, c.target_code) as w
    from core.crosswalk as c join base on c.from_year = base.base_year
    where c.to_year = $year
),
carried as (
    select cw.target_code as code,
           sum(cw.w * e.k) filter (where e.k is not null) / nullif(sum(cw.w) filter (where e.k is not null), 0) as k0,
           sum(cw.w * e.d) filter (where e.d is not null) / nullif(sum(cw.w) filter (where e.d is not null), 0) as d0,
           'crosswalk' as basis
    from cw join earlier as e on e.code = cw.source_code and e.level = cw.level
    group by cw.target_code
    union all
    select code, k, d, 'same_code' from earlier where not exists (select 1 from cw)
),
delta as (
    select n.code, n.level, c.basis, n.k - c.k0 as dk, n.d - c.d0 as dd, n.k, n.d, c.code is not null as matched
    from now as n left join carried as c on c.code = n.code
)
select
    $year::integer                                              as year,
    d.code,
    d.level,
    (select base_year from base)                                as base_year,
    d.basis                                                     as change_basis,
    round(d.dk, 6)                                              as d_kwetsbaarheid,
    round(d.dd, 6)                                              as d_druk,
    case when d.dk is not null and d.dd is not null then
        'K' || case when d.dk > $change_threshold then '+' when d.dk < -$change_threshold then '-' else '=' end
        || 'D' || case when d.dd > $change_threshold then '+' when d.dd < -$change_threshold then '-' else '=' end
    end                                                         as change_class,
    case
        when (select base_year from base) is null then 'no_earlier_year_scored'
        when not d.matched then 'no_earlier_area (' || (select base_year from base) || ')'
        when d.k is null or d.d is null then 'not_scored_in_' || $year
        when d.dk is null or d.dd is null then 'not_scored_in_' || (select base_year from base)
    end                                                         as change_null_reason,
    $spec_hash                                                  as spec_hash
from delta as d
