-- One date-precision scale for every source (README "Date precision"): 1 exact day, 2 within 2-6 days,
-- 3 the week, 4 the month, 5 the year or coarser (UCDP GED's date_prec codes; GTD maps to 4/5).
-- ACLED's time_precision 1/2/3 (day/week/month) was stored as it came; bring it onto the scale. The
-- ACLED mapping recodes it from now on; these are the built-in sources that read ACLED's format.
UPDATE incident_current SET date_precision = CASE date_precision WHEN 2 THEN 3 WHEN 3 THEN 4 END
WHERE source IN ('acled', 'curated') AND date_precision IN (2, 3);
UPDATE incident_history SET date_precision = CASE date_precision WHEN 2 THEN 3 WHEN 3 THEN 4 END
WHERE source IN ('acled', 'curated') AND date_precision IN (2, 3);
