-- The crosswalks the validation matches criteria through: every stored one, and for years whose
-- wijken have no boundary of their own here (2019: buurten only) a wijk crosswalk from the buurt
-- pieces, grouped by the wijk part of both codes (BUggggwwbb -> WKggggww; CBS codes nest). A
-- derived wijk is unchanged when every piece of its buurten is an unchanged buurt in a wijk with
-- the same code.
with stored as (
    select from_year, to_year, level, source_code, target_code, overlap_m2, unchanged
    from core.crosswalk
),
pieces as (
    select from_year, to_year, 'WK' || substr(source_code, 3, 6) as source_code,
           'WK' || substr(target_code, 3, 6) as target_code, overlap_m2, unchanged
    from stored as s
    where level = 'buurt'
      and not exists (select 1 from stored as w
                      where w.level = 'wijk' and w.from_year = s.from_year and w.to_year = s.to_year)
),
per_source as (
    select from_year, to_year, source_code, bool_and(unchanged and source_code = target_code) as unchanged
    from pieces group by all
)
select * from stored
union all
select p.from_year, p.to_year, 'wijk' as level, p.source_code, p.target_code,
       sum(p.overlap_m2) as overlap_m2, any_value(s.unchanged) as unchanged
from pieces as p join per_source as s using (from_year, to_year, source_code)
group by p.from_year, p.to_year, p.source_code, p.target_code
