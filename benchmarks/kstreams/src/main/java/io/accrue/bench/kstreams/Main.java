package io.accrue.bench.kstreams;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.state.Stores;

/**
 * Runs the accrual peer until it is stopped (SIGTERM), then prints its
 * counters. Standard output carries two lines the benchmark reads:
 * {@code first_record_unix_nanos=N} when the first credit is processed, and
 * {@code counts ...} after the streams client has closed.
 *
 * <pre>
 * java -cp 'target/accrue-kstreams.jar:target/lib/*' io.accrue.bench.kstreams.Main \
 *   --bootstrap 127.0.0.1:19092 --application-id ID --input sales.credited \
 *   --deltas OUT --snapshots OUT --plan plan.json --state-dir DIR [--threads 2] \
 *   [--set commit.interval.ms=1000,...]
 * </pre>
 */
public final class Main {
    public static void main(String[] args) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --name value, got " + args[i]);
            }
            a.put(args[i].substring(2), args[i + 1]);
        }
        Plan plan = Plan.read(need(a, "plan"));

        Topology t = new Topology();
        t.addSource("credits", new StringDeserializer(), new StringDeserializer(), need(a, "input"));
        t.addProcessor("accrue", () -> new AccrualProcessor(plan), "credits");
        // Persistent (RocksDB) stores with their changelog topics; caching
        // writes a key's changelog record once per commit, as accrue writes
        // a period entry once per batch.
        t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(AccrualProcessor.PERIODS),
                Serdes.String(), Serdes.String()).withCachingEnabled(), "accrue");
        t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(AccrualProcessor.SALES),
                Serdes.String(), Serdes.String()).withCachingEnabled(), "accrue");
        t.addSink("deltas", need(a, "deltas"), new StringSerializer(), new StringSerializer(), "accrue");
        t.addSink("snapshots", need(a, "snapshots"), new StringSerializer(), new StringSerializer(), "accrue");

        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, need(a, "application-id"));
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, need(a, "bootstrap"));
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, a.getOrDefault("threads", "2"));
        p.put(StreamsConfig.STATE_DIR_CONFIG, need(a, "state-dir"));
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        // commit.interval.ms is left at its exactly-once default (100 ms),
        // max.poll.records at 1000 and the record cache at 10 MiB, unless
        // --set overrides them (name=value,name=value: Streams, consumer. or
        // producer. properties), for runs that try other settings.
        String set = a.get("set");
        if (set != null && !set.isEmpty()) {
            for (String kv : set.split(",")) {
                int eq = kv.indexOf('=');
                if (eq <= 0) {
                    throw new IllegalArgumentException("--set: expected name=value, got " + kv);
                }
                p.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
        }

        KafkaStreams streams = new KafkaStreams(t, p);
        CountDownLatch stopped = new CountDownLatch(1);
        boolean[] failed = {false};
        streams.setUncaughtExceptionHandler(e -> {
            e.printStackTrace();
            failed[0] = true;
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.setStateListener((now, before) -> {
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) {
                stopped.countDown();
            }
        });
        // Streams does not leave its group on close (dynamic members stay
        // until their session times out); the benchmark deletes the group
        // once they have.
        Thread closer = new Thread(() -> {
            streams.close(Duration.ofSeconds(60));
            printCounts();
        });
        Runtime.getRuntime().addShutdownHook(closer);
        streams.start();
        stopped.await();
        if (failed[0]) {
            Runtime.getRuntime().removeShutdownHook(closer);
            streams.close(Duration.ofSeconds(10));
            printCounts();
            System.exit(1);
        }
    }

    private static void printCounts() {
        System.out.println("counts processed=" + AccrualProcessor.PROCESSED.get()
                + " deltas=" + AccrualProcessor.DELTAS.get()
                + " snapshots=" + AccrualProcessor.SNAPSHOTS.get()
                + " duplicates=" + AccrualProcessor.DUPLICATES.get()
                + " expired=" + AccrualProcessor.EXPIRED.get()
                + " ineligible=" + AccrualProcessor.INELIGIBLE.get()
                + " rejected=" + AccrualProcessor.REJECTED.get());
        System.out.flush();
    }

    private static String need(Map<String, String> a, String name) {
        String v = a.get(name);
        if (v == null) {
            throw new IllegalArgumentException("--" + name + " is required");
        }
        return v;
    }
}
