-- Offending regions of year $year: duplicate codes, codes not in the CBS format of their level,
-- and buurten/wijken whose parent wijk or gemeente does not exist in the same year.
with r as (select * from core.dim_region where year = $year)
select code, 'duplicate code' as problem from r group by code having count(*) > 1
union all
select code, 'bad format for ' || level from r
where not regexp_full_match(code, case level
    when 'land' then 'NL[0-9]{2}' when 'gemeente' then 'GM[0-9]{4}'
    when 'wijk' then 'WK[0-9]{4}[0-9A-Z]{2}' when 'buurt' then 'BU[0-9]{4}[0-9A-Z]{4}' else '' end)
union all
select b.code, 'parent wijk ' || b.wijk_code || ' missing' from r as b
where b.level = 'buurt' and b.wijk_code not in (select code from r where level = 'wijk')
union all
select c.code, 'parent gemeente ' || c.gemeente_code || ' missing' from r as c
where c.level in ('wijk', 'buurt') and c.gemeente_code not in (select code from r where level = 'gemeente')
