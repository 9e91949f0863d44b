package opperreceiver // import "github.com/opperotel/bridge/receiver/opperreceiver"

import (
	"context"
	"errors"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/store/sqlite"
)

// openStore opens the configured trace store.
func openStore(ctx context.Context, cfg *Config) (store.Store, error) {
	if s := cfg.Storage.SQLite; s != nil {
		return sqlite.Open(ctx, sqlite.Config{Path: s.Path})
	}
	return nil, errors.New("no storage backend configured; set storage::sqlite::path")
}
