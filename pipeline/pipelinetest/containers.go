//go:build containers

package pipelinetest

// With the build tag "containers" (go test -tags containers ./...), tests
// that find no ACCRUE_KAFKA_BROKERS or ACCRUE_CLICKHOUSE_ADDR start the
// servers with testcontainers-go instead, where a Docker engine exists. CI on
// machines without Docker uses deploy/local/stack.sh and only compiles this
// file (go vet -tags containers).

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/modules/kafka"
	"github.com/testcontainers/testcontainers-go/wait"
)

const (
	kafkaImage      = "apache/kafka:4.1.1"
	clickhouseImage = "clickhouse/clickhouse-server:24.8"
)

var (
	kafkaOnce sync.Once
	kafkaAddr []string
	kafkaErr  error
	chOnce    sync.Once
	chAddr    string
	chErr     error
)

func init() {
	startKafka = func(tb testing.TB) []string {
		kafkaOnce.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			c, err := kafka.Run(ctx, kafkaImage, kafka.WithClusterID("accrue-test"))
			if err != nil {
				kafkaErr = fmt.Errorf("start kafka container: %w", err)
				return
			}
			kafkaAddr, kafkaErr = c.Brokers(ctx)
		})
		if kafkaErr != nil {
			tb.Fatal(kafkaErr)
		}
		return kafkaAddr
	}
	startClickHouse = func(tb testing.TB) string {
		chOnce.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
				ContainerRequest: testcontainers.ContainerRequest{
					Image:        clickhouseImage,
					ExposedPorts: []string{"9000/tcp"},
					WaitingFor:   wait.ForListeningPort("9000/tcp"),
				},
				Started: true,
			})
			if err != nil {
				chErr = fmt.Errorf("start clickhouse container: %w", err)
				return
			}
			chAddr, chErr = c.PortEndpoint(ctx, "9000/tcp", "")
		})
		if chErr != nil {
			tb.Fatal(chErr)
		}
		return chAddr
	}
}
