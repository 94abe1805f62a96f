-- Override accruals that sum several reports' contributions. The accrual
-- stage writes one override record per manager, program version, period
-- and level for each batch, and one accrual line for it, so one manager's
-- line can trace many sales. trace.event_id names each part's source
-- event; for rows written before this column existed it is empty, and for
-- a part of the line's own event it repeats the line's event_id.
ALTER TABLE accruals ADD COLUMN trace.event_id Array(String);

-- rep_statement again, with each part's source event (trace_event_id).
DROP TABLE IF EXISTS rep_statement;

CREATE VIEW IF NOT EXISTS rep_statement AS
SELECT
    program_id, program_version, period, rep_id, currency, accrual_id, delta, earned, capped,
    event_id, input_id, event_time, source, txn_id, type, sale_amount, sale_currency,
    trace_kind, trace_band_from, trace_rate, trace_spiff_id, trace_level, trace_from_rep_id, trace_amount,
    trace_event_id
FROM
(
    SELECT program_id, program_version, period, rep_id, currency, accrual_id, delta, earned, capped,
        event_id, input_id,
        trace.kind AS trace_kind, trace.band_from AS trace_band_from, trace.rate AS trace_rate,
        trace.spiff_id AS trace_spiff_id, trace.level AS trace_level,
        trace.from_rep_id AS trace_from_rep_id, trace.amount AS trace_amount,
        trace.event_id AS trace_event_id
    FROM accruals FINAL
)
ANY LEFT JOIN
(
    SELECT event_id, event_time, source, txn_id, type, amount AS sale_amount, currency AS sale_currency
    FROM sales FINAL
) USING event_id;
