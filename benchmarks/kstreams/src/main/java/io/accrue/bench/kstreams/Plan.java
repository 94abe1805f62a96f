package io.accrue.bench.kstreams;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.LocalDate;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * The one program the peer computes, and the reference data it needs, read
 * from the JSON file the benchmark writes from accrue's own program and
 * tables: an amount measure in the program currency, marginal bands on
 * attainment of a quota by role, a clawback window and an effective date.
 *
 * <p>Band bounds are multiplied by each role's quota once, here, as accrue
 * does per quota it names, so the per-credit work is the sum over bands.
 */
final class Plan {
    final String programId;
    final int currencyScale;
    final long effectiveFromEpochDay;
    /** Clawback window in seconds; negative when every return reverses. */
    final long clawbackSeconds;
    /** Rate from a currency to the program currency (the program currency maps to 1). */
    final Map<String, BigDecimal> fx = new HashMap<>();
    /** Role of each known rep; a rep missing here is rejected (unknown_rep). */
    final Map<String, String> roles = new HashMap<>();
    private final BigDecimal[] rates;
    private final BigDecimal[] froms;
    private final Map<String, BigDecimal[]> lowersByRole = new HashMap<>();
    private final BigDecimal[] defaultLowers;

    private Plan(JsonNode n) {
        programId = n.get("program_id").asText();
        currencyScale = n.get("currency_scale").asInt();
        effectiveFromEpochDay = LocalDate.parse(n.get("effective_from").asText()).toEpochDay();
        JsonNode cb = n.get("clawback_days");
        clawbackSeconds = cb == null || cb.isNull() ? -1 : cb.asLong() * 86_400L;
        for (Iterator<Map.Entry<String, JsonNode>> it = n.get("fx").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            fx.put(e.getKey(), new BigDecimal(e.getValue().asText()));
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = n.get("roles").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            roles.put(e.getKey(), e.getValue().asText());
        }
        JsonNode bands = n.get("bands");
        rates = new BigDecimal[bands.size()];
        froms = new BigDecimal[bands.size()];
        for (int i = 0; i < bands.size(); i++) {
            froms[i] = new BigDecimal(bands.get(i).get("from").asText());
            rates[i] = new BigDecimal(bands.get(i).get("rate").asText());
        }
        defaultLowers = lowers(new BigDecimal(n.get("quota_default").asText()));
        for (Iterator<Map.Entry<String, JsonNode>> it = n.get("quota_by_role").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            lowersByRole.put(e.getKey(), lowers(new BigDecimal(e.getValue().asText())));
        }
    }

    static Plan read(String path) throws IOException {
        return new Plan(new ObjectMapper().readTree(new File(path)));
    }

    private BigDecimal[] lowers(BigDecimal quota) {
        BigDecimal[] l = new BigDecimal[froms.length];
        for (int i = 0; i < froms.length; i++) {
            l[i] = froms[i].multiply(quota);
        }
        return l;
    }

    /**
     * Marginal commission on measure m for a rep of role: the sum over bands
     * of max(0, min(m, upper) - lower) * rate, exact; a negative measure
     * earns 0.
     */
    BigDecimal commission(String role, BigDecimal m) {
        BigDecimal[] l = lowersByRole.getOrDefault(role, defaultLowers);
        BigDecimal sum = BigDecimal.ZERO;
        if (m.signum() <= 0) {
            return sum;
        }
        for (int i = 0; i < l.length; i++) {
            if (m.compareTo(l[i]) <= 0) {
                break;
            }
            BigDecimal top = i + 1 < l.length && m.compareTo(l[i + 1]) > 0 ? l[i + 1] : m;
            sum = sum.add(top.subtract(l[i]).multiply(rates[i]));
        }
        return sum;
    }

    /** Rounds a reported figure half-even to the currency's minor unit. */
    BigDecimal round(BigDecimal v) {
        return v.setScale(currencyScale, RoundingMode.HALF_EVEN);
    }
}
