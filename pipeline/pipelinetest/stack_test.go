package pipelinetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kadm"
)

// TestLocalStackKafka checks that the broker the tests use is a real Kafka
// 4.x that supports the transactional APIs the runtime needs.
func TestLocalStackKafka(t *testing.T) {
	brokers := RealBrokers(t)
	adm := Admin(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := adm.ApiVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var guess string
	v.Each(func(b kadm.BrokerApiVersions) { guess = b.VersionGuess() })
	t.Logf("broker version: %s", guess)
	if !strings.Contains(guess, "v4") {
		t.Errorf("broker reports %q, want Kafka 4.x", guess)
	}
}

// TestLocalStackClickHouse checks that ClickHouse answers on the native
// protocol and that a batch insert of decimals (PrepareBatch with a column
// list, the form that works down to ClickHouse 18.16) reads back exactly.
func TestLocalStackClickHouse(t *testing.T) {
	addr := ClickHouseAddr(t)
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sv, err := conn.ServerVersion()
	if err != nil {
		t.Fatalf("clickhouse at %s: %v", addr, err)
	}
	t.Logf("clickhouse %s", sv)

	table := fmt.Sprintf("stack_check_%d", time.Now().UnixNano())
	if err := conn.Exec(ctx, "CREATE TABLE "+table+" (id UInt64, amount Decimal(18, 4)) ENGINE = MergeTree ORDER BY id"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Exec(context.Background(), "DROP TABLE "+table) }()
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+" (id, amount)")
	if err != nil {
		t.Fatal(err)
	}
	want := decimal.Zero
	for i := 0; i < 10_000; i++ {
		a := decimal.New(int64(i*37+1), -2) // i*0.37 + 0.01
		want = want.Add(a)
		if err := batch.Append(uint64(i), a); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	var n uint64
	var got decimal.Decimal
	if err := conn.QueryRow(ctx, "SELECT count(), sum(amount) FROM "+table).Scan(&n, &got); err != nil {
		t.Fatal(err)
	}
	if n != 10_000 || !got.Equal(want) {
		t.Fatalf("read back %d rows summing %s, want 10000 summing %s", n, got, want)
	}
}
