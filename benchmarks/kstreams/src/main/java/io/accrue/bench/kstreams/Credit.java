package io.accrue.bench.kstreams;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.math.BigDecimal;

/**
 * A credit of sales.credited as accrue's linking stage writes it (link.Credit
 * JSON): one recipient's share of a canonical sale event. Only the fields the
 * calculation reads are bound; the rest of the record is parsed and skipped.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
final class Credit {
    @JsonProperty("credit_id")
    String creditId;

    @JsonProperty("rep_id")
    String repId;

    @JsonProperty("share")
    BigDecimal share;

    @JsonProperty("event")
    Event event;

    @JsonIgnoreProperties(ignoreUnknown = true)
    static final class Event {
        @JsonProperty("event_id")
        String eventId;

        @JsonProperty("source")
        String source;

        @JsonProperty("txn_id")
        String txnId;

        @JsonProperty("type")
        String type;

        @JsonProperty("ref_txn_id")
        String refTxnId;

        @JsonProperty("event_time")
        String eventTime;

        @JsonProperty("amount")
        Money amount;
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    static final class Money {
        @JsonProperty("value")
        BigDecimal value;

        @JsonProperty("currency")
        String currency;
    }
}
