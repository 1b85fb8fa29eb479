-- No baseline where the week itself has no data (covered false); a covered week averages the covered
-- weeks among its 12 predecessors (avg skips NULLs), 0 when there are none.
SELECT series, grain, period_start, covered,
       CASE WHEN covered THEN coalesce(avg(value) OVER (PARTITION BY series ORDER BY period_start
            ROWS BETWEEN 12 PRECEDING AND 1 PRECEDING), 0) END AS value
FROM indicator_values
WHERE indicator = 'political_violence_events' AND grain = 'week'
