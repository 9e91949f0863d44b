package opperexporter

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/opperotel/bridge/exporter/opperexporter/internal/metadata"
	"github.com/opperotel/bridge/internal/opperfake"
)

// Environment of the helper process.
const (
	envHelper   = "OPPER_EXPORTER_HELPER"
	envEndpoint = "OPPER_EXPORTER_ENDPOINT"
	envQueueDir = "OPPER_EXPORTER_QUEUE_DIR"
	envSend     = "OPPER_EXPORTER_SEND"
)

var storageID = component.MustNewIDWithName("file_storage", "opper")

// persistentConfig is the helper process's exporter config: a persistent
// queue on file_storage, retries forever.
func persistentConfig(endpoint string) *Config {
	cfg := testConfig(endpoint)
	q := exporterhelper.NewDefaultQueueConfig()
	q.NumConsumers = 4
	q.StorageID = &storageID
	cfg.QueueConfig = configoptional.Some(q)
	cfg.RetryConfig.MaxElapsedTime = 0
	cfg.RetryConfig.InitialInterval = 50 * time.Millisecond
	cfg.RetryConfig.MaxInterval = 200 * time.Millisecond
	cfg.ParentWait = 10 * time.Second
	return cfg
}

// TestHelperProcess is the collector half of TestPersistentQueueSurvivesKill,
// run in a child process: file_storage plus the exporter; with envSend set it
// exports every fixture (deepest spans first, one batch per depth), then
// says QUEUED and runs until killed.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(envHelper) != "1" {
		t.Skip("helper process for TestPersistentQueueSurvivesKill")
	}
	ctx := context.Background()
	fsFactory := filestorage.NewFactory()
	fsCfg := fsFactory.CreateDefaultConfig().(*filestorage.Config)
	fsCfg.Directory = os.Getenv(envQueueDir)
	ext, err := fsFactory.Create(ctx, extensiontest.NewNopSettings(fsFactory.Type()), fsCfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(ctx, componenttest.NewNopHost()))
	host := &storageHost{Host: componenttest.NewNopHost(), ext: map[component.ID]component.Component{storageID: ext}}

	// The queue's storage is named after the exporter's id: it must be the
	// same in both processes (NewNopSettings picks a random name).
	set := exportertest.NewNopSettings(metadata.Type)
	set.ID = component.NewID(metadata.Type)
	exp, err := NewFactory().CreateTraces(ctx, set, persistentConfig(os.Getenv(envEndpoint)))
	require.NoError(t, err)
	require.NoError(t, exp.Start(ctx, host))
	if os.Getenv(envSend) == "1" {
		for _, td := range waves(allFixtures(t)) {
			require.NoError(t, exp.ConsumeTraces(ctx, td))
		}
		fmt.Println("QUEUED")
	} else {
		fmt.Println("STARTED")
	}
	select {} // until killed
}

type storageHost struct {
	component.Host
	ext map[component.ID]component.Component
}

func (h *storageHost) GetExtensions() map[component.ID]component.Component { return h.ext }

// startHelper re-executes the test binary as the helper process and waits
// for its first line.
func startHelper(t *testing.T, endpoint, dir string, send bool) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envHelper+"=1", envEndpoint+"="+endpoint, envQueueDir+"="+dir)
	if send {
		cmd.Env = append(cmd.Env, envSend+"=1")
	}
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l == "QUEUED" || l == "STARTED" {
				lines <- l
			}
		}
		close(lines)
	}()
	select {
	case l, ok := <-lines:
		require.True(t, ok, "helper process exited early")
		t.Logf("helper %d: %s", cmd.Process.Pid, l)
	case <-time.After(30 * time.Second):
		t.Fatal("helper process did not start")
	}
	return cmd
}

// TestPersistentQueueSurvivesKill: the API is down, a collector process
// queues every fixture span on file_storage and is killed with SIGKILL; a
// second process on the same directory delivers every span, exactly once,
// once the API is back.
func TestPersistentQueueSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	fake := opperfake.New(opperfake.Options{APIKey: testKey})
	defer fake.Close()
	fake.SetDown(true)
	dir := t.TempDir()

	first := startHelper(t, fake.URL(), dir, true)
	// Let it try (and fail) a few times, with requests in flight.
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()
	require.Empty(t, fake.Spans(), "nothing got through while the API was down")

	fake.SetDown(false)
	startHelper(t, fake.URL(), dir, false)

	cfg := persistentConfig(fake.URL())
	want := expectedSpans(t, cfg, waves(allFixtures(t)))
	require.Eventually(t, func() bool { return len(fake.Spans()) >= len(want) }, 20*time.Second, 50*time.Millisecond)
	time.Sleep(200 * time.Millisecond) // a late duplicate would show now
	stored := fake.Spans()
	require.Len(t, stored, len(want), "every span once, no placeholder left")
	for _, sp := range stored {
		exp, ok := want[sp.ID]
		require.True(t, ok, "span %s", sp.ID)
		assert.Equal(t, 1, sp.Creates)
		assert.Equal(t, exp.Name, sp.Name)
		assert.Equal(t, exp.ParentID, sp.ParentID, "span %q linked", sp.Name)
	}
}
