-- Coverage scoped to what a source records (README "Coverage"): a mapping's `coverage: perpetrators: [USA]`
-- says the source records only acts of those states (BIJ: US drone strikes), so it covers a series whose
-- origin is one of them ('USA->PAK') and no other series (IRN->PAK, a country's total, a clash).
-- NULL: the source records every perpetrator.
ALTER TABLE source_coverage_declared ADD COLUMN perpetrators VARCHAR[];
ALTER TABLE source_coverage ADD COLUMN perpetrators VARCHAR[];
