// Package pgtest runs a throwaway PostgreSQL server for tests and
// benchmarks: initdb into a temporary directory, postgres on a free port of
// 127.0.0.1, stopped (and its directory removed) by Stop. PostgreSQL
// refuses to run as root, so as root (CI) every server command runs as the
// postgres user through runuser; otherwise as the current user.
//
// The server binaries are looked up in $PG_BIN, then the newest
// /usr/lib/postgresql/*/bin (Debian), then pg_config --bindir. `make
// postgres-deps` installs Debian's postgresql package where they are
// missing. Tests fail, never skip, without them: a test that needs a
// server and did not run is not a passing test.
package pgtest // import "github.com/opperotel/bridge/internal/pgtest"

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options tune a server.
type Options struct {
	// Durable keeps PostgreSQL's defaults (fsync, synchronous_commit), for
	// benchmarks; tests turn fsync off, which only matters if the machine
	// loses power.
	Durable bool
	// Settings are extra `-c name=value` settings.
	Settings map[string]string
}

// Server is one running PostgreSQL cluster.
type Server struct {
	bin  string
	dir  string // cluster directory (data/, socket, log)
	port int
	opts Options
	// runAs is "postgres" when running as root, else "".
	runAs string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}

	dbSeq atomic.Int64
}

// Start initialises and starts a server.
func Start(opts Options) (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir, opts: opts}
	if os.Geteuid() == 0 {
		s.runAs = "postgres"
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, errors.Join(fmt.Errorf("pgtest: running as root needs the postgres user (PostgreSQL refuses root): %w", err), os.RemoveAll(dir))
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, errors.Join(err, os.RemoveAll(dir))
		}
	}
	out, err := s.command("initdb", "-D", s.dataDir(), "-U", "postgres", "--auth=trust", "-E", "UTF8",
		"--locale=C.UTF-8", "--no-sync", "--no-instructions").CombinedOutput()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("pgtest: initdb: %v\n%s", err, out), os.RemoveAll(dir))
	}
	if s.port, err = freePort(); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	if err := s.Start(); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	return s, nil
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

// command runs a server binary, as the postgres user when we are root.
func (s *Server) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(s.bin, name)
	var cmd *exec.Cmd
	if s.runAs != "" {
		cmd = exec.Command("runuser", append([]string{"-u", s.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = s.dir
	return cmd
}

// Start starts the server (again, after Stop), on the same port, and
// waits until it accepts connections.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("pgtest: already running")
	}
	args := []string{"-D", s.dataDir(), "-p", strconv.Itoa(s.port), "-h", "127.0.0.1", "-k", s.dir,
		"-c", "max_connections=200", "-c", "shared_buffers=256MB", "-c", "log_min_messages=warning"}
	if !s.opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	keys := make([]string, 0, len(s.opts.Settings))
	for k := range s.opts.Settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		args = append(args, "-c", k+"="+s.opts.Settings[k])
	}
	log, err := os.OpenFile(filepath.Join(s.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := s.command("postgres", args...)
	cmd.Stdout, cmd.Stderr = log, log
	// If the test binary dies, so does the server (runuser passes the
	// signal on), instead of holding its port and directory.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = log.Close()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		cancel()
		if err == nil {
			_ = conn.Close(context.Background())
			return nil
		}
		select {
		case <-done:
			s.cmd = nil
			return fmt.Errorf("pgtest: postgres exited at start; its log:\n%s", s.Log())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgtest: postgres not ready after 60s: %v; its log:\n%s", err, s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts the server down (fast: open sessions are ended), keeping its
// data for Start.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	// pg_ctl signals the postmaster itself (runuser passes SIGTERM on,
	// which is a smart shutdown: it would wait for the pool's idle
	// connections forever).
	out, err := s.command("pg_ctl", "stop", "-D", s.dataDir(), "-m", "fast", "-w", "-t", "30").CombinedOutput()
	if err != nil {
		_, _ = s.command("pg_ctl", "stop", "-D", s.dataDir(), "-m", "immediate", "-w").CombinedOutput()
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// Close stops the server and removes its directory.
func (s *Server) Close() error {
	return errors.Join(s.Stop(), os.RemoveAll(s.dir))
}

// Log returns the server's log so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
	return string(b)
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// DSN is the connection string of database db.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", s.Addr(), db)
}

// NewDatabase creates an empty database and returns its DSN.
func (s *Server) NewDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), s.dbSeq.Add(1))
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return "", err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	// template0 copies fastest and carries nothing from template1.
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0"); err != nil {
		return "", fmt.Errorf("pgtest: create database: %w", err)
	}
	return s.DSN(name), nil
}

// binDir finds the PostgreSQL server binaries.
func binDir() (string, error) {
	if d := os.Getenv("PG_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return va - vb
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "postgres")); err == nil {
			return dirs[i], nil
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("pgtest: no PostgreSQL server binaries (initdb, postgres) found in $PG_BIN, " +
		"/usr/lib/postgresql/*/bin or pg_config --bindir; run `make postgres-deps` (Debian's postgresql package)")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// shared are the servers of a test binary (Shared, SharedDurable), stopped
// by Main.
var shared struct {
	sync.Mutex
	servers map[bool]*Server // by Options.Durable
}

// Shared returns the test binary's server, started on first use; Main
// stops it when the tests end.
func Shared() (*Server, error) { return sharedServer(Options{}) }

// SharedDurable is the binary's server with PostgreSQL's durable defaults
// (fsync, synchronous commits), for benchmarks.
func SharedDurable() (*Server, error) { return sharedServer(Options{Durable: true}) }

func sharedServer(opts Options) (*Server, error) {
	shared.Lock()
	defer shared.Unlock()
	if srv := shared.servers[opts.Durable]; srv != nil {
		return srv, nil
	}
	srv, err := Start(opts)
	if err != nil {
		return nil, err
	}
	if shared.servers == nil {
		shared.servers = map[bool]*Server{}
	}
	shared.servers[opts.Durable] = srv
	return srv, nil
}

// TB is what NewDSN needs of a test or benchmark.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Context() context.Context
}

// NewDSN returns the DSN of a new, empty database on the shared server.
func NewDSN(t TB) string {
	t.Helper()
	srv, err := Shared()
	if err != nil {
		t.Fatalf("%v", err)
	}
	dsn, err := srv.NewDatabase(t.Context())
	if err != nil {
		t.Fatalf("%v", err)
	}
	return dsn
}

// Main runs a test binary's tests and stops the shared server after them:
// call it from TestMain as os.Exit(pgtest.Main(m)).
func Main(m interface{ Run() int }) int {
	code := m.Run()
	shared.Lock()
	defer shared.Unlock()
	for _, srv := range shared.servers {
		if err := srv.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	return code
}

// NewServer starts a server of the test's own, closed when it ends: for
// packages whose TestMain is not theirs to change (mdatagen writes it).
func NewServer(t Cleanuper) *Server { return NewServerWith(t, Options{}) }

// Cleanuper is what NewServer needs of a test or benchmark.
type Cleanuper interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// NewServerWith is NewServer with options (Durable, for benchmarks).
func NewServerWith(t Cleanuper, opts Options) *Server {
	t.Helper()
	srv, err := Start(opts)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}
