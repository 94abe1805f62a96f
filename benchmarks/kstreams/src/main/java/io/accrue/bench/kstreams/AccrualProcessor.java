package io.accrue.bench.kstreams;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import java.io.IOException;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The keyed accrual of one program, per (rep, period), over credits keyed by
 * rep: the period measure (amount x share in the program currency), the
 * marginal commission on it, and per credit that moves the measure an
 * accrual delta round(new) - round(old) (when it is not zero) and a snapshot
 * of the period. Sales are kept per (rep, source, txn_id) so that a return
 * reverses return.amount x the sale's share at the sale's rate, in the sale's
 * period, unless the clawback window has passed, and returns that would take
 * more than the sale are rejected.
 *
 * <p>State values are short text records (fields joined by '|', decimals
 * exact), the stand-in for accrue's binary changelog codec.
 */
final class AccrualProcessor implements Processor<String, String, String, String> {
    static final String PERIODS = "periods";
    static final String SALES = "sales";

    /** Counters over all tasks and threads, printed when the application stops. */
    static final AtomicLong PROCESSED = new AtomicLong();
    static final AtomicLong DELTAS = new AtomicLong();
    static final AtomicLong SNAPSHOTS = new AtomicLong();
    static final AtomicLong DUPLICATES = new AtomicLong();
    static final AtomicLong EXPIRED = new AtomicLong();
    static final AtomicLong INELIGIBLE = new AtomicLong();
    static final AtomicLong REJECTED = new AtomicLong();
    static final AtomicLong FIRST_NANOS = new AtomicLong();

    private static final ObjectReader READER = new ObjectMapper()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .readerFor(Credit.class);

    private final Plan plan;
    private ProcessorContext<String, String> ctx;
    private KeyValueStore<String, String> periods;
    private KeyValueStore<String, String> sales;

    AccrualProcessor(Plan plan) {
        this.plan = plan;
    }

    @Override
    public void init(ProcessorContext<String, String> context) {
        ctx = context;
        periods = context.getStateStore(PERIODS);
        sales = context.getStateStore(SALES);
    }

    @Override
    public void process(Record<String, String> r) {
        if (FIRST_NANOS.get() == 0) {
            Instant now = Instant.now();
            if (FIRST_NANOS.compareAndSet(0, now.getEpochSecond() * 1_000_000_000L + now.getNano())) {
                System.out.println("first_record_unix_nanos=" + FIRST_NANOS.get());
                System.out.flush();
            }
        }
        PROCESSED.incrementAndGet();
        Credit c;
        try {
            c = READER.readValue(r.value());
        } catch (IOException e) {
            reject("invalid_input");
            return;
        }
        Credit.Event e = c.event;
        if (e == null || c.repId == null || c.share == null || e.amount == null || e.amount.value == null || e.type == null) {
            reject("invalid_input");
            return;
        }
        String role = plan.roles.get(c.repId);
        if (role == null) {
            reject("unknown_rep");
            return;
        }
        long at = Instant.parse(e.eventTime).getEpochSecond();
        switch (e.type) {
            case "sale", "adjustment" -> credit(r, c, role, at);
            case "return", "cancel" -> reverse(r, c, role, at);
            default -> reject("invalid_input");
        }
    }

    private void credit(Record<String, String> r, Credit c, String role, long at) {
        Credit.Event e = c.event;
        if (Math.floorDiv(at, 86_400L) < plan.effectiveFromEpochDay) {
            INELIGIBLE.incrementAndGet();
            return;
        }
        BigDecimal rate = plan.fx.get(e.amount.currency);
        if (rate == null) {
            reject("fx_rate_missing");
            return;
        }
        String period = monthLabel(at);
        BigDecimal contribution = e.amount.value.multiply(c.share).multiply(rate);
        if (e.type.equals("sale")) {
            String key = saleKey(c.repId, e.source, e.txnId);
            if (sales.get(key) != null) {
                DUPLICATES.incrementAndGet();
                return;
            }
            sales.put(key, new Sale(period, e.amount.currency, c.share, rate, e.amount.value,
                    BigDecimal.ZERO, BigDecimal.ZERO, at, false).encode());
        }
        apply(r, c, role, period, contribution);
    }

    private void reverse(Record<String, String> r, Credit c, String role, long at) {
        Credit.Event e = c.event;
        String key = saleKey(c.repId, e.source, e.refTxnId);
        String v = sales.get(key);
        if (v == null) {
            reject("unknown_original");
            return;
        }
        Sale s = Sale.decode(v);
        if (s.cancelled) {
            reject("already_cancelled");
            return;
        }
        boolean isReturn = e.type.equals("return");
        if (isReturn) {
            if (!e.amount.currency.equals(s.currency)) {
                reject("return_currency");
                return;
            }
            BigDecimal returned = s.returned.add(e.amount.value);
            if (returned.compareTo(s.amount) > 0) {
                reject("return_exceeds_original");
                return;
            }
            s.returned = returned;
        } else {
            s.cancelled = true;
        }
        if (plan.clawbackSeconds >= 0 && at - s.at > plan.clawbackSeconds) {
            EXPIRED.incrementAndGet();
            sales.put(key, s.encode());
            return;
        }
        BigDecimal d = isReturn
                ? e.amount.value.multiply(s.share).multiply(s.rate)
                : s.amount.multiply(s.share).multiply(s.rate).subtract(s.reversed);
        s.reversed = s.reversed.add(d);
        sales.put(key, s.encode());
        apply(r, c, role, s.period, d.negate());
    }

    /** Adds d to the (rep, period) measure and emits the delta and the snapshot. */
    private void apply(Record<String, String> r, Credit c, String role, String period, BigDecimal d) {
        String key = c.repId + "/" + period;
        String v = periods.get(key);
        BigDecimal measure = BigDecimal.ZERO;
        BigDecimal earned = BigDecimal.ZERO;
        long version = 0;
        if (v != null) {
            int a = v.indexOf('|'), b = v.indexOf('|', a + 1);
            measure = new BigDecimal(v.substring(0, a));
            earned = new BigDecimal(v.substring(a + 1, b));
            version = Long.parseLong(v.substring(b + 1));
        }
        measure = measure.add(d);
        BigDecimal commission = plan.commission(role, measure);
        BigDecimal newEarned = plan.round(commission);
        BigDecimal delta = newEarned.subtract(earned);
        version++;
        periods.put(key, measure.toPlainString() + "|" + newEarned.toPlainString() + "|" + version);
        if (delta.signum() != 0) {
            StringBuilder sb = new StringBuilder(192);
            sb.append("{\"program_id\":\"").append(plan.programId)
                    .append("\",\"period\":\"").append(period)
                    .append("\",\"rep_id\":\"").append(c.repId)
                    .append("\",\"delta\":\"").append(delta.toPlainString())
                    .append("\",\"earned\":\"").append(newEarned.toPlainString())
                    .append("\",\"credit_id\":\"").append(c.creditId)
                    .append("\"}");
            ctx.forward(r.withKey(c.repId).withValue(sb.toString()), "deltas");
            DELTAS.incrementAndGet();
        }
        StringBuilder sb = new StringBuilder(256);
        sb.append("{\"program_id\":\"").append(plan.programId)
                .append("\",\"period\":\"").append(period)
                .append("\",\"rep_id\":\"").append(c.repId)
                .append("\",\"measure\":\"").append(measure.toPlainString())
                .append("\",\"commission\":\"").append(plan.round(commission).toPlainString())
                .append("\",\"earned\":\"").append(newEarned.toPlainString())
                .append("\",\"version\":").append(version)
                .append(",\"credit_id\":\"").append(c.creditId)
                .append("\"}");
        ctx.forward(r.withKey(c.repId).withValue(sb.toString()), "snapshots");
        SNAPSHOTS.incrementAndGet();
    }

    private static void reject(String reason) {
        REJECTED.incrementAndGet();
        System.err.println("rejected: " + reason);
    }

    private static String saleKey(String rep, String source, String txn) {
        return rep + "/" + source + ":" + txn;
    }

    /** The UTC month of an instant, as accrue labels it: 2026-11. */
    static String monthLabel(long epochSecond) {
        LocalDate d = LocalDate.ofEpochDay(Math.floorDiv(epochSecond, 86_400L));
        int m = d.getMonthValue();
        return d.getYear() + (m < 10 ? "-0" : "-") + m;
    }

    /** What a rep got from one sale, for its returns and cancel. */
    static final class Sale {
        final String period;
        final String currency;
        final BigDecimal share;
        final BigDecimal rate;
        final BigDecimal amount;
        BigDecimal returned;
        BigDecimal reversed;
        final long at;
        boolean cancelled;

        Sale(String period, String currency, BigDecimal share, BigDecimal rate, BigDecimal amount,
                BigDecimal returned, BigDecimal reversed, long at, boolean cancelled) {
            this.period = period;
            this.currency = currency;
            this.share = share;
            this.rate = rate;
            this.amount = amount;
            this.returned = returned;
            this.reversed = reversed;
            this.at = at;
            this.cancelled = cancelled;
        }

        String encode() {
            return period + "|" + currency + "|" + share.toPlainString() + "|" + rate.toPlainString() + "|"
                    + amount.toPlainString() + "|" + returned.toPlainString() + "|" + reversed.toPlainString()
                    + "|" + at + "|" + (cancelled ? "1" : "0");
        }

        static Sale decode(String v) {
            String[] f = v.split("\\|", -1);
            return new Sale(f[0], f[1], new BigDecimal(f[2]), new BigDecimal(f[3]), new BigDecimal(f[4]),
                    new BigDecimal(f[5]), new BigDecimal(f[6]), Long.parseLong(f[7]), f[8].equals("1"));
        }
    }
}
