// Command bench-e2e measures the local path end to end: it starts the
// built collector (bin/otelcol-opper) with a configuration on free loopback
// ports and a fresh data directory, drives OTLP/HTTP protobuf at it
// closed-loop, and reports durable spans/s (until every span is readable
// through GET /v2/traces), the collector's CPU per 1,000 spans, and its
// memory. Configurations are compared in one run, interleaved, over
// several rounds. `make bench-e2e` runs it; -overload runs the overload
// check instead. Every request goes to 127.0.0.1 and every loop is bounded.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/opperotel/bridge/internal/loadgen"
	"github.com/opperotel/bridge/internal/pgtest"
)

func main() {
	var (
		bin        = flag.String("bin", "bin/otelcol-opper", "the collector binary")
		configs    = flag.String("configs", "old=internal/cmd/bench-e2e/testdata/local-http.yaml,new=config/local.yaml", "name=path of each configuration to compare, comma separated; path+overlay merges overlays onto a configuration")
		shapes     = flag.String("shapes", "plain,llm", "load shapes: plain, llm")
		rounds     = flag.Int("rounds", 3, "rounds; each runs every shape and configuration once, interleaved")
		plainSpans = flag.Int("plain-spans", 1_000_000, "spans per run of the plain shape")
		llmSpans   = flag.Int("llm-spans", 300_000, "spans per run of the llm shape")
		conns      = flag.Int("conns", 4, "connections sending closed-loop")
		perReq     = flag.Int("spans-per-request", 1000, "spans per request (whole traces of 10 spans)")
		timeout    = flag.Duration("durable-timeout", 10*time.Minute, "give up on a run whose spans are not all readable by then")
		overload   = flag.Bool("overload", false, "run the overload check instead: -overload-conns x -spans-per-request, for -overload-for")
		olConns    = flag.Int("overload-conns", 16, "overload: connections")
		olFor      = flag.Duration("overload-for", 60*time.Second, "overload: how long to send")
		olConfig   = flag.String("overload-config", "config/local.yaml", "overload: the configuration")
		rssLimit   = flag.Int64("rss-limit-mib", 4096, "kill the collector if its RSS passes this (MiB)")
		profile    = flag.String("profile-dir", "", "write a CPU profile of each run's load (pprof extension) into this directory")
		postgres   = flag.Bool("postgres", false, "start a throwaway PostgreSQL server (durable defaults) and give each run a new database in $OPPER_PG_DSN")
	)
	flag.Parse()
	b := &bench{bin: *bin, rssLimit: *rssLimit << 20, profileDir: *profile}
	if *postgres {
		srv, err := pgtest.Start(pgtest.Options{Durable: true})
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench-e2e:", err)
			os.Exit(1)
		}
		defer srv.Close()
		b.pg = srv
	}
	var err error
	if *overload {
		err = b.overload(*olConfig, *olConns, *perReq, *olFor)
	} else {
		err = b.compare(*configs, *shapes, *rounds, map[loadgen.Shape]int{loadgen.Plain: *plainSpans, loadgen.LLM: *llmSpans}, *conns, *perReq, *timeout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-e2e:", err)
		if b.pg != nil {
			_ = b.pg.Close()
		}
		os.Exit(1)
	}
}

type bench struct {
	bin        string
	rssLimit   int64
	profileDir string
	// pg, with -postgres, serves each run a new database.
	pg *pgtest.Server
}

type namedConfig struct {
	name  string
	files []string // a configuration and the overlays merged onto it
}

func parseConfigs(s string) ([]namedConfig, error) {
	var out []namedConfig
	for _, item := range strings.Split(s, ",") {
		name, path, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || name == "" || path == "" {
			return nil, fmt.Errorf("-configs: %q is not name=path", item)
		}
		var files []string
		for _, f := range strings.Split(path, "+") {
			abs, err := filepath.Abs(f)
			if err != nil {
				return nil, err
			}
			files = append(files, abs)
		}
		out = append(out, namedConfig{name, files})
	}
	return out, nil
}

// run is one measured load.
type run struct {
	shape              loadgen.Shape
	config             string
	round              int
	spans              int
	ackedPerSec        float64
	durablePerSec      float64
	cpuMsPer1k         float64
	rssMiB, peakRSSMiB float64
	// The highest RSS sampled while the load was sent, and its anonymous
	// part (the verification pass afterwards reads the whole file).
	loadPeakMiB, loadAnonMiB float64
	statuses                 map[string]int
}

func (b *bench) compare(configList, shapeList string, rounds int, spans map[loadgen.Shape]int, conns, perReq int, timeout time.Duration) error {
	cfgs, err := parseConfigs(configList)
	if err != nil {
		return err
	}
	var shapes []loadgen.Shape
	for _, s := range strings.Split(shapeList, ",") {
		sh, err := loadgen.ParseShape(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		shapes = append(shapes, sh)
	}
	if perReq%loadgen.SpansPerTrace != 0 {
		return fmt.Errorf("-spans-per-request must be a multiple of %d", loadgen.SpansPerTrace)
	}
	// The requests are built once per shape, before any timing: each run
	// has a data directory of its own, so they can be sent again.
	reqs := map[loadgen.Shape][]loadgen.Request{}
	for _, sh := range shapes {
		g := loadgen.NewGenerator(sh, uint32(time.Now().Unix()), perReq/loadgen.SpansPerTrace)
		n := spans[sh] / perReq
		reqs[sh] = make([]loadgen.Request, n)
		for i := range n {
			reqs[sh][i] = g.Request(i)
		}
		fmt.Printf("# %s: %d requests of %d spans built\n", sh, n, perReq)
	}
	fmt.Printf("# %d connections closed-loop, OTLP/HTTP protobuf, %d rounds, configs: %v\n", conns, rounds, cfgs)
	fmt.Println("round\tshape\tconfig\tspans\tacked spans/s\tdurable spans/s\tCPU ms/1k spans\tRSS MiB\tpeak RSS MiB\tload peak RSS MiB (anon)\tstatuses")
	var runs []run
	for r := 1; r <= rounds; r++ {
		for _, sh := range shapes {
			for _, c := range cfgs {
				res, err := b.measure(c, sh, reqs[sh], conns, timeout)
				if err != nil {
					return fmt.Errorf("round %d, %s, %s: %w", r, sh, c.name, err)
				}
				res.round = r
				runs = append(runs, res)
				fmt.Printf("%d\t%s\t%s\t%d\t%.0f\t%.0f\t%.1f\t%.0f\t%.0f\t%.0f (%.0f)\t%v\n", r, sh, c.name, res.spans,
					res.ackedPerSec, res.durablePerSec, res.cpuMsPer1k, res.rssMiB, res.peakRSSMiB, res.loadPeakMiB, res.loadAnonMiB, res.statuses)
			}
		}
	}
	summarize(os.Stdout, runs, shapes, cfgs)
	return nil
}

func summarize(w io.Writer, runs []run, shapes []loadgen.Shape, cfgs []namedConfig) {
	fmt.Fprintln(w, "\n# medians over rounds")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "shape\tconfig\tdurable spans/s\tacked spans/s\tCPU ms/1k spans\tRSS MiB\tpeak RSS MiB\tload peak RSS MiB\tload peak anon MiB\t")
	for _, sh := range shapes {
		for _, c := range cfgs {
			var d, a, cpu, rss, peak, lp, la []float64
			for _, r := range runs {
				if r.shape == sh && r.config == c.name {
					d, a, cpu = append(d, r.durablePerSec), append(a, r.ackedPerSec), append(cpu, r.cpuMsPer1k)
					rss, peak = append(rss, r.rssMiB), append(peak, r.peakRSSMiB)
					lp, la = append(lp, r.loadPeakMiB), append(la, r.loadAnonMiB)
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t%.1f\t%.0f\t%.0f\t%.0f\t%.0f\t\n", sh, c.name, median(d), median(a), median(cpu), median(rss), median(peak), median(lp), median(la))
		}
	}
	tw.Flush()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// measure runs one configuration with one load from a fresh data directory.
func (b *bench) measure(c namedConfig, shape loadgen.Shape, reqs []loadgen.Request, conns int, timeout time.Duration) (run, error) {
	col, err := b.start(c.files)
	if err != nil {
		return run{}, err
	}
	defer col.stop()
	before, err := loadgen.ReadProc(col.pid())
	if err != nil {
		return run{}, err
	}
	total := 0
	for _, r := range reqs {
		total += len(r.Traces)
	}
	s := loadgen.NewSender("http://"+col.otlpHTTP+"/v1/traces", conns)
	s.Retry = true
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var profWG sync.WaitGroup
	if b.profileDir != "" {
		name := filepath.Join(b.profileDir, fmt.Sprintf("cpu-%s-%s-%d.pb.gz", shape, c.name, time.Now().Unix()))
		profWG.Go(func() { col.profile(name, 5*time.Second) })
	}
	res := s.Run(ctx, loadgen.Sequence(reqs))
	loadPeak, loadPeakAnon := col.maxRSS(), col.maxAnonRSS()
	profWG.Wait()
	if res.AckedSpans != total*loadgen.SpansPerTrace {
		return run{}, fmt.Errorf("only %d of %d spans acknowledged (%v)", res.AckedSpans, total*loadgen.SpansPerTrace, res.Statuses)
	}
	durableAt, after, err := col.waitDurable(ctx, res.Acked)
	if err != nil {
		return run{}, err
	}
	n := res.AckedSpans
	return run{
		shape: shape, config: c.name, spans: n,
		ackedPerSec:   float64(n) / res.End.Sub(res.Start).Seconds(),
		durablePerSec: float64(n) / durableAt.Sub(res.Start).Seconds(),
		cpuMsPer1k:    float64((after.CPU - before.CPU).Milliseconds()) / float64(n) * 1000,
		rssMiB:        float64(after.RSS) / (1 << 20),
		peakRSSMiB:    float64(max(after.PeakRSS, col.maxRSS())) / (1 << 20),
		loadPeakMiB:   float64(loadPeak) / (1 << 20),
		loadAnonMiB:   float64(loadPeakAnon) / (1 << 20),
		statuses:      res.Statuses,
	}, nil
}

// collector is one running bin/otelcol-opper.
type collector struct {
	cmd                         *exec.Cmd
	dir                         string
	otlpHTTP, otlpGRPC, api, hc string
	pprof                       string
	done                        chan struct{}
	sampleStop                  chan struct{}
	sampleWG                    sync.WaitGroup
	mu                          sync.Mutex
	peak, peakAnon              int64
	killedForRSS                bool
	rssLimit                    int64
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// start runs the collector in a fresh directory, every listener moved to
// a free loopback port, its own metrics off, and waits for health_check.
func (b *bench) start(configs []string) (*collector, error) {
	dir, err := os.MkdirTemp("", "bench-e2e-")
	if err != nil {
		return nil, err
	}
	c := &collector{dir: dir, done: make(chan struct{}), sampleStop: make(chan struct{}), rssLimit: b.rssLimit}
	for _, p := range []*string{&c.otlpHTTP, &c.otlpGRPC, &c.api, &c.hc} {
		if *p, err = freeAddr(); err != nil {
			return nil, err
		}
	}
	var args []string
	for _, f := range configs {
		args = append(args, "--config="+f)
	}
	args = append(args,
		"--set=receivers.otlp.protocols.http.endpoint="+c.otlpHTTP,
		"--set=receivers.otlp.protocols.grpc.endpoint="+c.otlpGRPC,
		"--set=receivers.opper.endpoint="+c.api,
		"--set=extensions.health_check.endpoint="+c.hc,
		"--set=service.telemetry.metrics.level=none",
	)
	conf, err := confmaptest.LoadConf(configs[0])
	if err != nil {
		return nil, err
	}
	// A configuration whose exporter sends over HTTP sends to this
	// collector's receiver.
	if conf.IsSet("exporters::opper::endpoint") {
		args = append(args, "--set=exporters.opper.endpoint=http://"+c.api)
	}
	if b.profileDir != "" {
		if c.pprof, err = freeAddr(); err != nil {
			return nil, err
		}
		exts, _ := conf.Get("service::extensions").([]any)
		names := []string{"pprof"}
		for _, e := range exts {
			names = append(names, fmt.Sprint(e))
		}
		args = append(args, "--set=extensions.pprof.endpoint="+c.pprof, "--set=service.extensions=["+strings.Join(names, ",")+"]")
	}
	bin, err := filepath.Abs(b.bin)
	if err != nil {
		return nil, err
	}
	c.cmd = exec.Command(bin, args...)
	c.cmd.Dir = dir
	if b.pg != nil {
		dsn, err := b.pg.NewDatabase(context.Background())
		if err != nil {
			return nil, err
		}
		c.cmd.Env = append(os.Environ(), "OPPER_PG_DSN="+dsn)
	}
	logf, err := os.Create(filepath.Join(dir, "collector.log"))
	if err != nil {
		return nil, err
	}
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() { _ = c.cmd.Wait(); logf.Close(); close(c.done) }()
	c.sampleWG.Go(c.sample)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			return nil, fmt.Errorf("the collector exited at start; see %s/collector.log", dir)
		default:
		}
		if resp, err := http.Get("http://" + c.hc + "/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.stop()
	return nil, errors.New("the collector was not healthy within 60s")
}

func (c *collector) pid() int { return c.cmd.Process.Pid }

// profile writes a CPU profile of the next d into file.
func (c *collector) profile(file string, d time.Duration) {
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", c.pprof, int(d.Seconds())))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-e2e: profile:", err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-e2e: profile:", err)
		return
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		fmt.Fprintln(os.Stderr, "bench-e2e: profile:", err)
		return
	}
	fmt.Printf("# CPU profile of %s: %s\n", d, file)
}

// sample records the highest RSS every 100 ms, and kills the collector if
// it passes the limit, so the benchmark never exhausts the machine.
func (c *collector) sample() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.sampleStop:
			return
		case <-c.done:
			return
		case <-t.C:
		}
		st, err := loadgen.ReadProc(c.pid())
		if err != nil {
			continue
		}
		c.mu.Lock()
		c.peak = max(c.peak, st.RSS)
		c.peakAnon = max(c.peakAnon, st.RSSAnon)
		over := c.rssLimit > 0 && st.RSS > c.rssLimit && !c.killedForRSS
		if over {
			c.killedForRSS = true
		}
		c.mu.Unlock()
		if over {
			fmt.Fprintf(os.Stderr, "bench-e2e: the collector's RSS passed %d MiB: killed\n", c.rssLimit>>20)
			_ = c.cmd.Process.Kill()
		}
	}
}

func (c *collector) maxRSS() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peak
}

// maxAnonRSS is the highest sampled anonymous RSS: the heap and stacks,
// without the mapped database file's pages.
func (c *collector) maxAnonRSS() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peakAnon
}

func (c *collector) killed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.killedForRSS
}

// waitDurable polls the receiver until it lists every acknowledged trace
// whole; it returns when that was first true and the process's stats then.
// The trace count is polled until it is complete; then one pass over the
// whole list checks every trace's span count (the HTTP path may store a
// trace's root before its children), and is repeated until it passes.
func (c *collector) waitDurable(ctx context.Context, acked []string) (time.Time, loadgen.ProcStats, error) {
	base := "http://" + c.api
	for ctx.Err() == nil {
		n, err := loadgen.TotalTraces(base)
		if err == nil && n >= int64(len(acked)) {
			at := time.Now()
			st, err := loadgen.ReadProc(c.pid())
			if err != nil {
				return at, st, err
			}
			counts, err := loadgen.SpanCounts(base)
			if err != nil {
				return at, st, err
			}
			if len(loadgen.Missing(counts, acked)) == 0 {
				return at, st, nil
			}
		}
		select {
		case <-c.done:
			return time.Time{}, loadgen.ProcStats{}, errors.New("the collector exited before every span was readable")
		case <-time.After(50 * time.Millisecond):
		}
	}
	return time.Time{}, loadgen.ProcStats{}, fmt.Errorf("not every span was readable in time: %w", ctx.Err())
}

// stop ends the collector with SIGTERM (SIGKILL after 60 s) and removes
// its directory.
func (c *collector) stop() {
	close(c.sampleStop)
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(60 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	c.sampleWG.Wait()
	_ = os.RemoveAll(c.dir)
}

// overload sends from many connections for a while, as fast as answers
// come, and checks that memory stays bounded, that the sender saw
// push-back, and that every acknowledged span is stored.
func (b *bench) overload(config string, conns, perReq int, dur time.Duration) error {
	abs, err := filepath.Abs(config)
	if err != nil {
		return err
	}
	col, err := b.start([]string{abs})
	if err != nil {
		return err
	}
	defer col.stop()
	before, err := loadgen.ReadProc(col.pid())
	if err != nil {
		return err
	}
	g := loadgen.NewGenerator(loadgen.Plain, uint32(time.Now().Unix()), perReq/loadgen.SpansPerTrace)
	s := loadgen.NewSender("http://"+col.otlpHTTP+"/v1/traces", conns)
	// As an OTLP exporter does: a refused request is sent again after the
	// Retry-After the collector asked for.
	s.Retry = true
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	fmt.Printf("# overload: %s, %d connections x %d spans, closed loop, for %s\n", config, conns, perReq, dur)
	res := s.Run(ctx, loadgen.Endless(g))
	after, _ := loadgen.ReadProc(col.pid())
	peak := max(after.PeakRSS, col.maxRSS())
	fmt.Printf("requests %d, statuses %v, acknowledged %d spans (%.0f/s)\n", res.Requests, res.Statuses, res.AckedSpans,
		float64(res.AckedSpans)/res.End.Sub(res.Start).Seconds())
	fmt.Printf("collector: RSS %d MiB at the start, %d MiB at the end, peak %d MiB (sampled peak of its anonymous part: %d MiB); CPU %.1f ms per 1k acknowledged spans\n",
		before.RSS>>20, after.RSS>>20, peak>>20, col.maxAnonRSS()>>20, float64((after.CPU-before.CPU).Milliseconds())/float64(max(res.AckedSpans, 1))*1000)
	if col.killed() {
		return fmt.Errorf("the collector passed the RSS limit of %d MiB and was killed", b.rssLimit>>20)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer dcancel()
	at, _, err := col.waitDurable(dctx, res.Acked)
	if err != nil {
		return fmt.Errorf("acknowledged spans not all stored: %w", err)
	}
	fmt.Printf("every acknowledged span readable %.1f s after the load ended\n", at.Sub(res.End).Seconds())
	return nil
}
