//go:build unix

package e2e

import (
	"context"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opperotel/bridge/internal/loadgen"
)

// An OTLP answer means stored, on the local path: every span the OTLP
// receiver answered 200 for is in the store after the collector dies
// (kill -9) or is stopped (SIGTERM) in the middle of a load.

// ackLoad runs a closed-loop load (internal/loadgen: 4 connections, 100
// whole traces of 10 spans a request) in the background until ended.
type ackLoad struct {
	sender *loadgen.Sender
	gen    *loadgen.Generator
	cancel context.CancelFunc
	done   chan loadgen.Result
	once   sync.Once
	result loadgen.Result
}

func startAckLoad(t *testing.T, httpAddr string) *ackLoad {
	ctx, cancel := context.WithCancel(context.Background())
	l := &ackLoad{
		sender: loadgen.NewSender("http://"+httpAddr+"/v1/traces", 4),
		gen:    loadgen.NewGenerator(loadgen.Plain, uint32(time.Now().UnixNano()), 100),
		cancel: cancel, done: make(chan loadgen.Result, 1),
	}
	go func() { l.done <- l.sender.Run(ctx, loadgen.Endless(l.gen)) }()
	t.Cleanup(func() { l.end() })
	return l
}

// end stops the load and returns what it saw.
func (l *ackLoad) end() loadgen.Result {
	l.once.Do(func() {
		l.cancel()
		l.result = <-l.done
	})
	return l.result
}

func TestE2ELocalDurability(t *testing.T) {
	requireCollector(t)
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
	}{
		{"kill-9", syscall.SIGKILL},
		{"sigterm", syscall.SIGTERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newLocalPorts(t)
			c := startCollector(t, "local-"+tc.name, p.health, nil,
				append([]string{"--config=" + filepath.Join(repoRoot, "config", "local.yaml")}, p.setArgs()...)...)
			base := "http://" + p.opper
			load := startAckLoad(t, p.http)
			// Stop the collector one second into the load, with requests
			// in flight.
			eventually(t, 30*time.Second, 20*time.Millisecond, "first acknowledged spans", func() (bool, string) {
				n, err := loadgen.TotalTraces(base)
				return err == nil && n > 0, "nothing stored yet"
			})
			time.Sleep(time.Second)
			if !c.signal(tc.sig, 30*time.Second) {
				t.Errorf("the collector did not exit within 30s of %v", tc.sig)
			}
			res := load.end()

			c.start()
			counts, err := loadgen.SpanCounts(base)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d requests (%v), %d traces acknowledged, %d stored", res.Requests, res.Statuses, len(res.Acked), len(counts))
			if len(res.Acked) == 0 {
				t.Fatal("no request was acknowledged before the collector stopped: the test proves nothing")
			}
			if missing := loadgen.Missing(counts, res.Acked); len(missing) > 0 {
				t.Errorf("%d of %d acknowledged traces are not stored whole, e.g. %v", len(missing), len(res.Acked), missing[:min(5, len(missing))])
			}
		})
	}
}
