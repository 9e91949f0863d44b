package postgres

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opperotel/bridge/internal/pgtest"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// openStore opens a store on a new, empty database of the test server.
func openStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.Context(), Config{DSN: pgtest.NewDSN(t)})
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openStore(t) })
}

func TestReplicas(t *testing.T) {
	const lease = 2 * time.Second
	storetest.RunShared(t, storetest.Replicas{Lease: lease, Open: func(t *testing.T) (store.Store, store.Store) {
		dsn := pgtest.NewDSN(t)
		a, err := Open(t.Context(), Config{DSN: dsn, OutboxLease: lease})
		require.NoError(t, err)
		b, err := Open(t.Context(), Config{DSN: dsn, OutboxLease: lease})
		require.NoError(t, err)
		return a, b
	}})
}
