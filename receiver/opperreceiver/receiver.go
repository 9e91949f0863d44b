package opperreceiver // import "github.com/opperotel/bridge/receiver/opperreceiver"

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/opperotel/bridge/receiver/opperreceiver/internal/metadata"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// opperReceiver is the receiver component: the HTTP API, its store and the
// forwarder that feeds the pipeline.
type opperReceiver struct {
	cfg      *Config
	settings receiver.Settings
	next     consumer.Traces
	obsrep   *receiverhelper.ObsReport
	// telemetry holds the receiver's own metrics (metadata.yaml).
	telemetry *metadata.TelemetryBuilder
	// openStore opens the configured store; tests replace it.
	openStore func(ctx context.Context, host component.Host, id component.ID, cfg *Config) (store.Store, bool, error)

	store store.Store
	// ownsStore is set when the receiver opened the store itself (the
	// deprecated inline storage section) and so must close it.
	ownsStore bool
	api       *api
	forwarder *forwarder
	server    *http.Server
	addr      net.Addr
	serveWG   sync.WaitGroup
}

var _ receiver.Traces = (*opperReceiver)(nil)

func newReceiver(cfg *Config, set receiver.Settings, next consumer.Traces) (*opperReceiver, error) {
	obsrep, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              "http",
		LongLivedCtx:           true,
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &opperReceiver{cfg: cfg, settings: set, next: next, obsrep: obsrep, telemetry: tb, openStore: openStore}, nil
}

// consumeNow hands spans to the next consumer and waits for its answer
// (forward.wait_for_pipeline).
func (r *opperReceiver) consumeNow(ctx context.Context, project string, spans []translator.Span) error {
	return consume(ctx, r.next, r.obsrep, projectTraces(project, spans))
}

// Start opens the store, starts the forwarder and serves the API.
func (r *opperReceiver) Start(ctx context.Context, host component.Host) error {
	if err := r.start(ctx, host); err != nil {
		return errors.Join(err, r.Shutdown(ctx))
	}
	return nil
}

func (r *opperReceiver) start(ctx context.Context, host component.Host) error {
	logger := r.settings.Logger
	// Validate already refuses this; Start checks again for configs built in code.
	if len(r.cfg.APIKeys) == 0 && !r.cfg.AllowAnonymous && !isLocalEndpoint(r.cfg.ServerConfig.NetAddr) {
		return fmt.Errorf("opper receiver: refusing to serve without api_keys on the non-loopback endpoint %q; "+
			"set api_keys, or allow_anonymous: true", r.cfg.ServerConfig.NetAddr.Endpoint)
	}
	st, owned, err := r.openStore(ctx, host, r.settings.ID, r.cfg)
	if err != nil {
		return fmt.Errorf("opper receiver: opening the trace store: %w", err)
	}
	r.store, r.ownsStore = st, owned
	if owned {
		logger.Warn("The receiver's inline `storage: {sqlite: ...}` section is deprecated and will be removed in v0.3.0: "+
			"configure the opper_storage extension and write `storage: opper_storage`, so the exporter can write into the same store",
			zap.String("path", r.cfg.Storage.SQLite.Path))
	}

	notify := func() {}
	if r.cfg.Forward.Enabled {
		r.forwarder = newForwarder(st, r.next, r.obsrep, r.telemetry, logger, r.cfg.Forward)
		notify = r.forwarder.notify
		r.forwarder.start()
	}
	r.api, err = newAPI(r.cfg, st, logger, notify)
	if err != nil {
		return err
	}
	if r.cfg.Forward.Enabled && r.cfg.Forward.WaitForPipeline {
		r.api.pipeline = r.consumeNow
	}

	ln, err := r.cfg.ServerConfig.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("opper receiver: listening on %q: %w", r.cfg.ServerConfig.NetAddr.Endpoint, err)
	}
	r.server, err = r.cfg.ServerConfig.ToServer(ctx, host.GetExtensions(), r.settings.TelemetrySettings, r.api,
		confighttp.WithErrorHandler(errorHandler))
	if err != nil {
		_ = ln.Close()
		return err
	}
	// The handler applies the limit too (for 413 in the right shape);
	// ToServer has filled in the default by now.
	r.api.maxBody = r.cfg.ServerConfig.MaxRequestBodySize
	r.addr = ln.Addr()

	logger.Info("Starting HTTP server", zap.String("endpoint", ln.Addr().String()))
	if r.cfg.Explorer.Enabled {
		logger.Info("Trace explorer: open it in a browser", zap.String("url", "http://"+browsableAddr(ln.Addr())+"/"))
	}
	if r.api.hosts.off && len(r.cfg.APIKeys) == 0 && r.cfg.ServerConfig.NetAddr.Transport != "unix" {
		logger.Warn("The receiver is anonymous on every interface and allowed_hosts is empty: requests for any Host are answered, " +
			"so a web page could reach it through DNS rebinding; list the names it is reached by in allowed_hosts")
	}
	if len(r.cfg.APIKeys) == 0 {
		logger.Warn("No api_keys configured: the API is open to anyone who can reach it, all data is in project \"default\"",
			zap.String("endpoint", ln.Addr().String()))
	}
	r.serveWG.Go(func() {
		if err := r.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	})
	return nil
}

// Shutdown closes the server, waits for it, stops the forwarder and closes
// the store. It is safe to call without Start and more than once.
func (r *opperReceiver) Shutdown(context.Context) error {
	var errs []error
	if r.server != nil {
		// Close, not Shutdown: Shutdown waits up to 5 s for idle fresh
		// connections; every answered request is already in the store.
		errs = append(errs, r.server.Close())
		r.serveWG.Wait()
		r.server = nil
	}
	// Handlers still running after Close write to the store until it is
	// closed below, then get its error; their connections are gone, so
	// nothing they write afterwards was acknowledged.
	r.forwarder.stop()
	r.forwarder = nil
	// A shared store is the extension's: it closes it after every
	// component has shut down.
	if r.store != nil && r.ownsStore {
		errs = append(errs, r.store.Close())
	}
	r.store = nil
	return errors.Join(errs...)
}

// errorHandler writes errors raised by confighttp (bad Content-Encoding,
// decompression limits) in the API version's error shape.
func errorHandler(w http.ResponseWriter, r *http.Request, msg string, status int) {
	writeError(w, versionOf(r.URL.Path), &apiError{status: status, msg: msg})
}

// browsableAddr is the listener's address as a person would type it:
// localhost for a loopback listener.
func browsableAddr(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	if tcp.IP.IsLoopback() || tcp.IP.IsUnspecified() {
		return net.JoinHostPort("localhost", strconv.Itoa(tcp.Port))
	}
	return addr.String()
}
