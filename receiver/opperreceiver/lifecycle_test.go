package opperreceiver

import "os"

// lifecycleDir holds the database of the generated lifecycle test
// (tests.config in metadata.yaml): outside the repository, because that
// test runs in the package directory. It starts empty on every run, so a
// file left by an earlier run, maybe of an older schema, cannot interfere.
const lifecycleDir = "/tmp/opperreceiver-lifecycle-test"

func init() {
	_ = os.RemoveAll(lifecycleDir)
}
