package opperreceiver // import "github.com/opperotel/bridge/receiver/opperreceiver"

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/component"

	"github.com/opperotel/bridge/extension/opperstorageextension"
	"github.com/opperotel/bridge/store"
)

// openStore returns the configured trace store and whether the receiver
// owns it: a store of an opper_storage extension belongs to the extension
// (shared, closed by it); the deprecated inline one is the receiver's own.
func openStore(ctx context.Context, host component.Host, id component.ID, cfg *Config) (store.Store, bool, error) {
	if ext := cfg.Storage.Extension; ext != nil {
		st, err := opperstorageextension.GetStore(host, *ext, id)
		return st, false, err
	}
	if s := cfg.Storage.SQLite; s != nil {
		st, err := opperstorageextension.Open(ctx, &opperstorageextension.Config{
			SQLite: &opperstorageextension.SQLiteConfig{Path: s.Path},
		})
		return st, true, err
	}
	return nil, false, errors.New("no storage configured; set `storage: opper_storage` and configure the opper_storage extension")
}
