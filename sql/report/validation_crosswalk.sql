-- The crosswalks the validation matches criteria through: every stored one, and for years whose
-- wijken have no boundary of their own here (2019: buurten only) a wijk crosswalk from the buurt
-- pieces, grouped by the wijk part of both codes (BUggggwwbb -> WKggggww; CBS codes nest).
-- `unchanged` here: at least 90 % of the source's overlap lies in the later area with the same
-- code (core.crosswalk's own flag asks a 1:1 polygon, which most 2024 buurten, an approximate
-- reconstruction, fail by slivers while they are the same area).
with stored as (
    select from_year, to_year, level, source_code, target_code, overlap_m2
    from core.crosswalk
),
derived as (
    select from_year, to_year, 'wijk' as level, 'WK' || substr(source_code, 3, 6) as source_code,
           'WK' || substr(target_code, 3, 6) as target_code,
           -- Compensated and rounded: a plain sum adds in thread order, and the last bits
           -- decided near-ties of the matched criteria (rho differed by 6e-6 between runs).
           round(fsum(overlap_m2), 6) as overlap_m2
    from stored as s
    where level = 'buurt'
      and not exists (select 1 from stored as w
                      where w.level = 'wijk' and w.from_year = s.from_year and w.to_year = s.to_year)
    group by all
),
pieces as (
    select * from stored
    union all
    select * from derived
),
per_source as (
    select from_year, to_year, level, source_code,
           coalesce(sum(overlap_m2) filter (where source_code = target_code), 0)
               >= 0.9 * sum(overlap_m2) as unchanged
    from pieces group by all
)
select p.*, s.unchanged
from pieces as p join per_source as s using (from_year, to_year, level, source_code)
-- One row order: the criteria's overlap-weighted means are summed in this order.
order by from_year, to_year, level, source_code, target_code
