package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// checkpointInterval spaces background checkpoints: each copies what the
// WAL gained since the last, so a hot index page written by many commits
// is copied into the database file once, not once per commit.
const checkpointInterval = 200 * time.Millisecond

// checkpointer copies the WAL into the database file on its own connection
// and goroutine, so the writer only appends to the WAL. In WAL mode a
// PASSIVE checkpoint runs alongside readers and the writer; the next write
// transaction after a complete one starts the WAL over.
type checkpointer struct {
	db    *sql.DB
	wake  chan struct{}
	quit  chan struct{}
	done  chan struct{}
	once  sync.Once
	stopE error
}

func startCheckpointer(dsn string) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("checkpointer: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	c := &checkpointer{db: db, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c, nil
}

// poke tells the checkpointer that a transaction committed.
func (c *checkpointer) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	for {
		select {
		case <-c.quit:
			return
		case <-c.wake:
		}
		// A failed checkpoint (busy) is retried on the next commit; the
		// writer's own wal_autocheckpoint bounds the WAL meanwhile.
		_, _ = c.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
		select {
		case <-c.quit:
			return
		case <-time.After(checkpointInterval):
		}
	}
}

// stop ends the goroutine and closes the connection; later calls return
// the first call's result.
func (c *checkpointer) stop() error {
	c.once.Do(func() {
		close(c.quit)
		<-c.done
		c.stopE = c.db.Close()
	})
	return c.stopE
}
