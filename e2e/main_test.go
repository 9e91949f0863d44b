//go:build unix

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/opperotel/bridge/internal/otlpfixtures"
	"github.com/opperotel/bridge/internal/pgtest"
	"github.com/opperotel/bridge/translator"
)

// The harness: TestMain builds the distribution once with `make build`;
// each test starts bin/otelcol-opper with a shipped config from config/,
// ports moved to free ones with --set, in its own temporary working
// directory (the configs' data paths are relative), logs in a file that is
// printed when the test fails.

var (
	// repoRoot is the module root (the parent of this package's directory).
	repoRoot string
	// collectorBin is bin/otelcol-opper, built by TestMain.
	collectorBin string
	// buildTime is how long TestMain's `make build` took.
	buildTime time.Duration
)

func TestMain(m *testing.M) {
	flag.Parse()
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	repoRoot = filepath.Dir(wd)
	collectorBin = filepath.Join(repoRoot, "bin", "otelcol-opper")
	// -short skips the end-to-end tests (each test says so), and the build.
	// So does `go test -run X` when no test of this package matches X.
	if !testing.Short() && runsAnyTest() {
		start := time.Now()
		cmd := exec.Command("make", "build")
		cmd.Dir = repoRoot
		cmd.Env = makeEnv()
		out, err := cmd.CombinedOutput()
		buildTime = time.Since(start)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s\ne2e: `make build` in %s failed after %s: %v\n", out, repoRoot, buildTime.Round(time.Millisecond), err)
			os.Exit(1)
		}
		fmt.Printf("e2e: make build took %s\n", buildTime.Round(time.Millisecond))
	}
	// pgtest.Main stops the PostgreSQL server of the HA tests, if one started.
	os.Exit(pgtest.Main(m))
}

// e2eTests are this package's tests; TestE2ETestsListed keeps the list
// whole (a test missing here ran, under -run, on a stale binary).
var e2eTests = []string{
	"TestE2EOTLPTree", "TestE2EMixedLanguages", "TestE2EHostedAPI", "TestE2EMakeRun", "TestE2ELocalDurability",
	"TestE2EExplorer", "TestE2EGateway", "TestE2EGatewayHA", "TestE2EGatewayHAKill", "TestE2EGatewayHADatabaseOutage",
	"TestE2EGenAILogs", "TestE2EGenAILogsLive", "TestE2EPlayground",
}

// runsAnyTest reports whether this run starts a test at all: not with
// -test.list, nor with a -test.run pattern that matches none of ours.
func runsAnyTest() bool {
	if f := flag.Lookup("test.list"); f != nil && f.Value.String() != "" {
		return false
	}
	f := flag.Lookup("test.run")
	if f == nil || f.Value.String() == "" {
		return true
	}
	// go test matches the part before the first '/' against top-level names.
	re, err := regexp.Compile(strings.Split(f.Value.String(), "/")[0])
	if err != nil {
		return true
	}
	for _, name := range e2eTests {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// makeEnv is the environment for a child `make`: ours without the
// variables of a parent make (`make test` runs go test), whose jobserver
// descriptors and flags do not belong to the child.
func makeEnv() []string {
	env := os.Environ()
	return slices.DeleteFunc(env, func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return name == "MAKEFLAGS" || name == "MFLAGS" || name == "MAKELEVEL" || name == "MAKEOVERRIDES"
	})
}

// requireCollector skips in -short mode.
func requireCollector(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short (it builds and runs bin/otelcol-opper)")
	}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago. Never one of the default ports: a developer may run `make run`
// beside the tests. The port comes from below Linux's ephemeral range
// (32768-60999), where the kernel picks the source ports of outgoing
// connections: a port from that range could be taken by any connection
// (a collector's, Node's, PostgreSQL's) between this check and the
// collector's bind. No port is handed out twice in one run.
func freeAddr(t *testing.T) string {
	t.Helper()
	freePorts.mu.Lock()
	defer freePorts.mu.Unlock()
	for range 1000 {
		port := freePortsLow + rand.IntN(freePortsHigh-freePortsLow)
		if freePorts.given[port] {
			continue
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue // taken
		}
		if err := l.Close(); err != nil {
			t.Fatalf("free port: %v", err)
		}
		freePorts.given[port] = true
		return addr
	}
	t.Fatalf("free port: none free in %d-%d after 1000 tries", freePortsLow, freePortsHigh)
	return ""
}

// The ports freeAddr hands out, below the ephemeral range and above the
// usual service ports (8090, 4317, 13133, PostgreSQL's 5432...).
const (
	freePortsLow  = 20000
	freePortsHigh = 32768
)

var freePorts = struct {
	mu    sync.Mutex
	given map[int]bool
}{given: map[int]bool{}}

// collector is one running bin/otelcol-opper (restartable in the same
// working directory).
type collector struct {
	t      *testing.T
	name   string
	dir    string   // working directory (./data lives here)
	args   []string // collector flags
	env    []string
	health string // health_check URL
	log    string // log file (all runs appended)

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	runs    int
}

// startCollector starts the collector with args and extra environment in a
// fresh temporary working directory, waits until health_check answers, and
// stops it (SIGTERM) when the test ends; its log is printed if the test
// failed.
func startCollector(t *testing.T, name string, healthAddr string, env []string, args ...string) *collector {
	t.Helper()
	c := &collector{
		t: t, name: name, dir: t.TempDir(), args: args,
		env:    append(os.Environ(), env...),
		health: "http://" + healthAddr + "/",
	}
	c.log = filepath.Join(c.dir, name+".log")
	t.Cleanup(func() {
		if t.Failed() && os.Getenv("E2E_GOROUTINES") != "" {
			// A stack dump of every goroutine into the log, for a hang.
			c.signal(syscall.SIGQUIT, 5*time.Second)
		}
		c.stop()
		if t.Failed() {
			c.dumpLog()
		}
	})
	c.start()
	return c
}

// start runs the binary (again) and waits for readiness.
func (c *collector) start() {
	c.t.Helper()
	logFile, err := os.OpenFile(c.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.runs++
	fmt.Fprintf(logFile, "==== run %d: %s %s\n", c.runs, collectorBin, strings.Join(c.args, " "))
	cmd := exec.Command(collectorBin, c.args...)
	cmd.Dir = c.dir
	cmd.Env = c.env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		c.mu.Unlock()
		_ = logFile.Close()
		c.t.Fatalf("%s: start %s: %v", c.name, collectorBin, err)
	}
	done := make(chan struct{})
	c.cmd, c.done = cmd, done
	c.mu.Unlock()
	go func() {
		err := cmd.Wait()
		_ = logFile.Close()
		c.mu.Lock()
		c.waitErr = err
		c.mu.Unlock()
		close(done)
	}()
	c.waitReady(30 * time.Second)
}

// waitReady polls health_check until it answers 200; it fails at once if
// the process exits.
func (c *collector) waitReady(limit time.Duration) {
	c.t.Helper()
	start := time.Now()
	client := &http.Client{Timeout: time.Second}
	for time.Since(start) < limit {
		select {
		case <-c.done:
			c.mu.Lock()
			err := c.waitErr
			c.mu.Unlock()
			c.t.Fatalf("%s: the collector exited before it was ready: %v (its log follows)", c.name, err)
		default:
		}
		resp, err := client.Get(c.health)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				c.t.Logf("%s: ready after %s (run %d)", c.name, time.Since(start).Round(time.Millisecond), c.runs)
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("%s: health_check %s not ready within %s (its log follows)", c.name, c.health, limit)
}

// signal sends sig and waits up to limit for the process to exit, then
// kills it. It returns whether the process exited within limit.
func (c *collector) signal(sig syscall.Signal, limit time.Duration) bool {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.mu.Unlock()
	if cmd == nil {
		return true
	}
	select {
	case <-done:
		return true
	default:
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return true
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		return false
	}
}

// stop ends the collector with SIGTERM, as an operator would.
func (c *collector) stop() {
	if !c.signal(syscall.SIGTERM, 20*time.Second) {
		c.t.Errorf("%s: no clean shutdown within 20s of SIGTERM; killed", c.name)
	}
}

// kill ends the collector with SIGKILL: a crash.
func (c *collector) kill() {
	c.signal(syscall.SIGKILL, 10*time.Second)
}

// dumpLog prints the collector's log (its tail when long).
func (c *collector) dumpLog() {
	data, err := os.ReadFile(c.log)
	if err != nil {
		c.t.Logf("%s: no log: %v", c.name, err)
		return
	}
	const max = 64 << 10
	if len(data) > max {
		data = append([]byte("...\n"), data[len(data)-max:]...)
	}
	c.t.Logf("%s: collector log %s:\n%s", c.name, c.log, data)
}

// eventually polls cond every interval until it reports done, and fails
// with cond's last message after limit.
func eventually(t *testing.T, limit, interval time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	start := time.Now()
	var msg string
	for {
		var ok bool
		ok, msg = cond()
		if ok {
			t.Logf("%s: after %s", what, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %s: %s", what, limit, msg)
		}
		time.Sleep(interval)
	}
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// getJSON GETs url with an optional bearer key and decodes a 200 answer
// into out. It returns the status and the body for other answers.
func getJSON(url, key string, out any) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, string(body), nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return resp.StatusCode, string(body), fmt.Errorf("decode %s: %w", url, err)
	}
	return resp.StatusCode, string(body), nil
}

// mustGetJSON is getJSON that fails the test unless the answer is a 200.
func mustGetJSON(t *testing.T, url, key string, out any) {
	t.Helper()
	status, body, err := getJSON(url, key, out)
	if err != nil || status != http.StatusOK {
		t.Fatalf("GET %s: status %d, err %v, body %.2000s", url, status, err, body)
	}
}

// postOTLPJSON posts an OTLP/JSON trace payload to an OTLP/HTTP receiver.
func postOTLPJSON(t *testing.T, httpAddr string, payload []byte) {
	t.Helper()
	postOTLPJSONTo(t, "http://"+httpAddr+"/v1/traces", payload)
}

// postOTLPJSONTo posts an OTLP/JSON payload to url (/v1/traces, /v1/logs).
func postOTLPJSONTo(t *testing.T, url string, payload []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: status %d: %s", url, resp.StatusCode, body)
	}
}

// fixture is one shared OTLP payload from testdata/otlp.
type fixture struct {
	name string
	raw  []byte
	td   ptrace.Traces
}

// loadFixtures reads every testdata/otlp/*.otlp.json (the trace payloads,
// not the log captures beside them).
func loadFixtures(t *testing.T) []fixture {
	t.Helper()
	files := otlpfixtures.Files(t, filepath.Join(repoRoot, "testdata", "otlp"))
	out := make([]fixture, 0, len(files))
	for _, f := range files {
		raw, td := otlpfixtures.Read(t, f)
		out = append(out, fixture{name: filepath.Base(f), raw: raw, td: td})
	}
	return out
}

// expectedTrace is what the translator makes of one trace of a fixture.
type expectedTrace struct {
	fixture string
	spans   []translator.Span
	summary translator.TraceSummary
}

// translateFixtures maps every fixture as the exporter does (with its
// default field cap) and groups the spans by trace, in fixture order.
func translateFixtures(t *testing.T, fixtures []fixture, retention translator.Retention) (map[string]*expectedTrace, []string) {
	t.Helper()
	tr := translator.New(translator.Options{Retention: retention, MaxFieldBytes: 256 << 10})
	byTrace := map[string]*expectedTrace{}
	var order []string
	for _, f := range fixtures {
		for _, s := range tr.ToOpper(f.td) {
			e := byTrace[s.TraceID]
			if e == nil {
				e = &expectedTrace{fixture: f.name}
				byTrace[s.TraceID] = e
				order = append(order, s.TraceID)
			} else if e.fixture != f.name {
				t.Fatalf("fixtures %s and %s share trace %s", e.fixture, f.name, s.TraceID)
			}
			e.spans = append(e.spans, s)
		}
	}
	for _, e := range byTrace {
		e.summary = translator.RollUp(e.spans)
	}
	return byTrace, order
}
