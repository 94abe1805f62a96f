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
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

const (
	// The broker advertises the host port it is published on, so that port
	// is fixed rather than picked by Docker.
	kafkaHostPort   = "39092"
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
			_, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
				ContainerRequest: testcontainers.ContainerRequest{
					Image:        kafkaImage,
					ExposedPorts: []string{"9092/tcp"},
					Env: map[string]string{
						// The image's single-node KRaft defaults, with the
						// advertised listener on the published port.
						"KAFKA_NODE_ID":                                  "1",
						"KAFKA_PROCESS_ROLES":                            "broker,controller",
						"KAFKA_LISTENERS":                                "PLAINTEXT://:9092,CONTROLLER://:9093",
						"KAFKA_ADVERTISED_LISTENERS":                     "PLAINTEXT://127.0.0.1:" + kafkaHostPort,
						"KAFKA_CONTROLLER_LISTENER_NAMES":                "CONTROLLER",
						"KAFKA_CONTROLLER_QUORUM_VOTERS":                 "1@localhost:9093",
						"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":         "1",
						"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
						"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            "1",
						"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS":         "0",
					},
					HostConfigModifier: func(hc *container.HostConfig) {
						hc.PortBindings = network.PortMap{
							network.MustParsePort("9092/tcp"): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: kafkaHostPort}},
						}
					},
					WaitingFor: wait.ForLog("Kafka Server started"),
				},
				Started: true,
			})
			if err != nil {
				kafkaErr = fmt.Errorf("start kafka container: %w", err)
				return
			}
			kafkaAddr = []string{"127.0.0.1:" + kafkaHostPort}
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
