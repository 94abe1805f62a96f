package clickhouse

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Options say how to reach ClickHouse over its native protocol.
type Options struct {
	// Addr are host:port of the native protocol (9000, or 9440 with TLS).
	Addr []string
	// Database is the database the tables live in; default "accrue".
	Database string
	// User and Password authenticate; User defaults to "default".
	User     string
	Password string
	// TLS, when set, encrypts the connection.
	TLS *tls.Config
	// DialTimeout bounds connecting; default 10s.
	DialTimeout time.Duration
	// Compress sends blocks LZ4-compressed (less network, more CPU).
	Compress bool
}

// DefaultDatabase is the database of Options without one.
const DefaultDatabase = "accrue"

func (o Options) database() string {
	if o.Database == "" {
		return DefaultDatabase
	}
	return o.Database
}

// Open connects to Options.Database (which must exist: see Migrate) and
// checks that the server answers.
func (o Options) Open(ctx context.Context) (driver.Conn, error) {
	return o.open(ctx, o.database())
}

// open connects with db as the session's database ("" for the server's
// default).
func (o Options) open(ctx context.Context, db string) (driver.Conn, error) {
	if len(o.Addr) == 0 {
		return nil, fmt.Errorf("clickhouse: no address")
	}
	opts := &chgo.Options{
		Addr: o.Addr,
		Auth: chgo.Auth{Database: db, Username: o.User, Password: o.Password},
		TLS:  o.TLS,
		// A sink holds one insert at a time; migrations run one statement
		// at a time.
		MaxOpenConns: 4,
		MaxIdleConns: 2,
		DialTimeout:  o.DialTimeout,
	}
	if opts.Auth.Username == "" {
		opts.Auth.Username = "default"
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 10 * time.Second
	}
	if o.Compress {
		opts.Compression = &chgo.Compression{Method: chgo.CompressionLZ4}
	}
	conn, err := chgo.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse %v: %w", o.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse %v: %w", o.Addr, err)
	}
	return conn, nil
}
