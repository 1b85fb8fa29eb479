SELECT series, grain, period_start,
       coalesce(avg(value) OVER (PARTITION BY series ORDER BY period_start ROWS BETWEEN 12 PRECEDING AND 1 PRECEDING), 0)
         AS value
FROM indicator_values
WHERE indicator = 'political_violence_events' AND grain = 'week'
