package memory

import (
	"testing"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/store/storetest"
)

// TestConformance runs the store conformance suite every backend passes.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return New() })
}
