-- Reports on the accrual stage's outputs. Every figure of money is read
-- through FINAL: each accrual once, each rep's latest statement once.
--
-- ClickHouse 18.16 has no window functions, and crashes on groupArray of
-- 128-bit decimals grouped by several keys: ranks are computed on the
-- float images of the figures (ordering only) and joined back to the exact
-- rows.

-- Leaderboard per program and period: rank 1 is the highest attainment
-- (reps without a quota after those with one), then the highest earned,
-- then rep_id; attainment and earned as reported.
CREATE VIEW IF NOT EXISTS leaderboard AS
SELECT
    program_id, period, rank, rep_id, currency, attainment, earned,
    measure, quota, commission, spiff, override, capped, program_version, version
FROM
(
    SELECT program_id, period, rep_id, currency, attainment, earned,
        measure, quota, commission, spiff, override, capped, program_version, version
    FROM attainment FINAL
)
ANY INNER JOIN
(
    SELECT program_id, period, tupleElement(entry, 1) AS rep_id, rank
    FROM
    (
        SELECT program_id, period,
            arraySort(x -> (tupleElement(x, 2), -tupleElement(x, 3), -tupleElement(x, 4), tupleElement(x, 1)),
                groupArray((rep_id, isNull(attainment), ifNull(toFloat64(attainment), 0.), toFloat64(earned)))) AS board
        FROM attainment FINAL
        GROUP BY program_id, period
    )
    ARRAY JOIN board AS entry, arrayEnumerate(board) AS rank
) USING (program_id, period, rep_id);

-- Rep statement: every accrual line of a rep, with the sale event it came
-- from (time, source, transaction, type, amount) and the trace of what
-- moved it: for each part its kind (commission, spiff, override), band,
-- rate, spiff, override level and report, and exact amount. One row per
-- accrual line, the trace as arrays (ARRAY JOIN them for one row per part);
-- sum(delta) over a rep's lines of a period is the period's earned.
CREATE VIEW IF NOT EXISTS rep_statement AS
SELECT
    program_id, program_version, period, rep_id, currency, accrual_id, delta, earned, capped,
    event_id, input_id, event_time, source, txn_id, type, sale_amount, sale_currency,
    trace_kind, trace_band_from, trace_rate, trace_spiff_id, trace_level, trace_from_rep_id, trace_amount
FROM
(
    SELECT program_id, program_version, period, rep_id, currency, accrual_id, delta, earned, capped,
        event_id, input_id,
        trace.kind AS trace_kind, trace.band_from AS trace_band_from, trace.rate AS trace_rate,
        trace.spiff_id AS trace_spiff_id, trace.level AS trace_level,
        trace.from_rep_id AS trace_from_rep_id, trace.amount AS trace_amount
    FROM accruals FINAL
)
ANY LEFT JOIN
(
    SELECT event_id, event_time, source, txn_id, type, amount AS sale_amount, currency AS sale_currency
    FROM sales FINAL
) USING event_id;

-- Team roll-up: each manager's direct reports per program and period,
-- from their latest statements. The manager is the one in the rep's
-- latest reference row (the org chart as it is now); reps with no known
-- manager roll up under ''. team_attainment is the team's measure over
-- its quota, counting reps that have a quota.
CREATE VIEW IF NOT EXISTS team_rollup AS
SELECT
    program_id, period, manager_id, currency,
    count() AS reps,
    countIf(isNotNull(attainment) AND assumeNotNull(attainment) >= 1) AS reps_at_quota,
    round(sumIf(toFloat64(measure), isNotNull(quota)) / sum(toFloat64(quota)), 4) AS team_attainment,
    sum(commission) AS commission,
    sum(spiff) AS spiff,
    sum(override) AS override,
    sum(earned) AS earned
FROM
(
    SELECT program_id, period, rep_id, currency, measure, quota, attainment, commission, spiff, override, earned
    FROM attainment FINAL
)
ANY LEFT JOIN
(
    SELECT rep_id, argMax(manager_id, valid_from) AS manager_id
    FROM reps FINAL
    WHERE deleted = 0
    GROUP BY rep_id
) USING rep_id
GROUP BY program_id, period, manager_id, currency;
