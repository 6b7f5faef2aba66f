-- Indicators whose share of areas with a value fell by more than $max_drop (absolute) since the
-- previous recorded materialisation of year $year: the signature of a broken download.
with hist as (
    select * from core.availability_history where year = $year
),
prev_run as (select max(recorded_at) as at from hist where recorded_at < (select max(recorded_at) from hist)),
prev as (select h.* from hist as h, prev_run where h.recorded_at = prev_run.at),
cur as (select * from core.indicator_availability where year = $year)
select cur.level, cur.canonical, prev.share_with_value as previous_share,
       cur.share_with_value as current_share
from cur join prev using (level, canonical)
where prev.share_with_value - cur.share_with_value > $max_drop
order by prev.share_with_value - cur.share_with_value desc
