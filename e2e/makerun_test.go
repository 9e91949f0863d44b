//go:build unix

package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opperotel/bridge/opperapi"
	"github.com/opperotel/bridge/translator"
)

// makeRunLimit bounds `make run` from a clean clone until it accepted a
// span. README.md says the first build takes about two minutes (with an
// empty Go build cache); the test keeps the environment's caches, so it is
// usually much faster, and the bound leaves room for a slow CI machine.
const makeRunLimit = 5 * time.Minute

// TestE2EMakeRun: `make run` in a fresh clone of the committed HEAD comes up
// and accepts a span within the time the README promises.
func TestE2EMakeRun(t *testing.T) {
	requireCollector(t)
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	if err := exec.Command("git", "-C", repoRoot, "rev-parse", "--verify", "HEAD").Run(); err != nil {
		t.Skipf("%s is not a git checkout with a commit: nothing to clone", repoRoot)
	}
	t.Parallel()

	clone := filepath.Join(t.TempDir(), "bridge")
	if out, err := exec.Command("git", "clone", "--quiet", "--no-hardlinks", repoRoot, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone %s: %v\n%s", repoRoot, err, out)
	}
	head, _ := exec.Command("git", "-C", clone, "log", "-1", "--format=%h %s").Output()
	t.Logf("clone of %s at %s", repoRoot, strings.TrimSpace(string(head)))

	p := newLocalPorts(t)
	logPath := filepath.Join(t.TempDir(), "make-run.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "run", "RUN_ARGS="+strings.Join(p.setArgs(), " "))
	cmd.Dir = clone
	// GOFLAGS, GOCACHE, GOMODCACHE, GOPROXY... stay as they are: a warm
	// build cache is what a developer has on the second day.
	cmd.Env = makeEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// make starts the collector as its child: a process group of their own,
	// so cleanup ends both.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("make run: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = logFile.Close(); close(done) }()
	t.Cleanup(func() {
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Errorf("make run: still running 20s after SIGTERM; killing the process group")
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			if len(data) > 64<<10 {
				data = data[len(data)-64<<10:]
			}
			t.Logf("make run output:\n%s", data)
		}
	})

	// Up: health_check answers.
	deadline := start.Add(makeRunLimit)
	health := "http://" + p.health + "/"
	for {
		select {
		case <-done:
			t.Fatalf("make run exited after %s before the collector was ready", time.Since(start).Round(time.Second))
		default:
		}
		if resp, err := http.Get(health); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("make run: not ready within %s", makeRunLimit)
		}
		time.Sleep(200 * time.Millisecond)
	}
	ready := time.Since(start)

	// Accepts a span: an OTLP fixture shows up in the trace list.
	fixture := loadFixtures(t)[0]
	postOTLPJSON(t, p.http, fixture.raw)
	want := translator.New(translator.Options{}).ToOpper(fixture.td)[0].TraceID
	for {
		var list opperapi.List[opperapi.TraceListItem]
		status, body, err := getJSON("http://"+p.opper+"/v2/traces", "", &list)
		if err == nil && status == http.StatusOK && len(list.Data) > 0 && list.Data[0].ID == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("make run: the span of %s (trace %s) is not in GET /v2/traces within %s: %d %v %.300s",
				fixture.name, want, makeRunLimit, status, err, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	total := time.Since(start)
	t.Logf("make run from a clean clone: collector ready after %s, span listed after %s (bound %s)",
		ready.Round(time.Millisecond), total.Round(time.Millisecond), makeRunLimit)
	if _, err := os.Stat(filepath.Join(clone, "data", "opper.db")); err != nil {
		t.Errorf("make run: no ./data/opper.db in the clone: %v", err)
	}
}
