package opperreceiver // import "github.com/opperotel/bridge/receiver/opperreceiver"

import (
	"encoding"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/confignet"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"

	"github.com/opperotel/bridge/receiver/opperreceiver/internal/playground"
	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// DefaultProject is the project of every span when no api_keys are set.
const DefaultProject = store.DefaultProject

const (
	defaultEndpoint   = "localhost:8090"
	defaultSQLitePath = "./data/opper.db"
)

// Config defines the configuration of the opper receiver.
type Config struct {
	// ServerConfig is the HTTP server: endpoint, TLS, CORS, auth extension,
	// max_request_body_size and the other confighttp keys.
	ServerConfig confighttp.ServerConfig `mapstructure:",squash"`
	// Storage selects the trace store backend; exactly one is set.
	Storage StorageConfig `mapstructure:"storage"`
	// APIKeys are the accepted bearer keys, each bound to a project. With
	// none, the receiver is anonymous and stores everything in project
	// "default".
	APIKeys []APIKeyConfig `mapstructure:"api_keys"`
	// AllowAnonymous lets a receiver without api_keys listen on a
	// non-loopback endpoint.
	AllowAnonymous bool `mapstructure:"allow_anonymous"`
	// Retention decides, per project, whether content is stored.
	Retention RetentionConfig `mapstructure:"retention"`
	// Forward controls handing stored spans to the pipeline.
	Forward ForwardConfig `mapstructure:"forward"`
	// MaxFieldBytes caps each span's input, output and instructions before
	// it is stored, whatever the client sent; 0 means no limit.
	MaxFieldBytes int `mapstructure:"max_field_bytes"`
	// Explorer serves the trace explorer's web pages beside the API.
	Explorer ExplorerConfig `mapstructure:"explorer"`
	// AllowedHosts are the Host header values, besides the loopback names
	// and the endpoint's own host, that a receiver without api_keys
	// answers: the names it is reached by. Other hosts are refused, so a
	// web page cannot reach it through DNS rebinding.
	AllowedHosts []string `mapstructure:"allowed_hosts"`
	// Playground runs edited conversations against model providers; off
	// without providers.
	Playground PlaygroundConfig `mapstructure:"playground"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// StorageConfig says where the receiver keeps its traces: in the store of an
// opper_storage extension, named by its component id (`storage:
// opper_storage`), which the exporter and other components can share; or,
// deprecated, in a SQLite file the receiver opens itself (`storage: {sqlite:
// {path: ...}}`, and the default when storage is not set).
type StorageConfig struct {
	// Extension is the opper_storage extension holding the store.
	Extension *component.ID `mapstructure:"-"`
	// SQLite is the deprecated inline store: the receiver opens the file
	// itself, and nothing else in the collector can share it.
	SQLite *SQLiteConfig `mapstructure:"sqlite"`
}

// SQLiteConfig configures the receiver's own SQLite store (deprecated; use
// the opper_storage extension).
type SQLiteConfig struct {
	// Path of the database file; its directory is created if missing.
	Path string `mapstructure:"path"`
}

// APIKeyConfig binds an API key to a project.
type APIKeyConfig struct {
	// Key is the bearer token clients send (`Authorization: Bearer <key>`).
	Key configopaque.String `mapstructure:"key"`
	// Project is the project whose data the key reads and writes.
	Project string `mapstructure:"project"`
}

// RetentionConfig sets what is stored of each span's content.
type RetentionConfig struct {
	// Default applies to projects not listed in Projects: full or metadata.
	Default translator.Retention `mapstructure:"default"`
	// Projects overrides the retention per project name.
	Projects map[string]translator.Retention `mapstructure:"projects"`
}

// ForwardConfig controls the forwarder, which hands stored spans to the
// next consumer as OTLP.
type ForwardConfig struct {
	// Enabled turns forwarding on; off, spans are only stored.
	Enabled bool `mapstructure:"enabled"`
	// IncompleteSpanTimeout is how long a span without an end time waits
	// after its last write before it is forwarded anyway, marked incomplete.
	IncompleteSpanTimeout time.Duration `mapstructure:"incomplete_span_timeout"`
	// BatchSize is the most spans handed to the pipeline in one call.
	BatchSize int `mapstructure:"batch_size"`
	// PollInterval is how often the outbox is checked when no write woke
	// the forwarder (incomplete spans, spans left by another replica).
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// RetryInitialInterval is the first wait after the pipeline refused
	// spans; it doubles up to RetryMaxInterval. Retries never give up.
	RetryInitialInterval time.Duration `mapstructure:"retry_initial_interval"`
	RetryMaxInterval     time.Duration `mapstructure:"retry_max_interval"`
	// IncludeExporterSpans forwards spans written by an opper exporter too.
	// Off, the loop guard keeps them out of the pipeline: right when this
	// collector's own exporter writes here. On, for a two-tier setup where
	// other collectors export to this one and it passes their spans on.
	IncludeExporterSpans bool `mapstructure:"include_exporter_spans"`
	// WaitForPipeline answers a write only once the next consumer has
	// accepted its spans: the client sees the pipeline's backpressure (503,
	// or 400 for a permanent rejection) and retries,
	// instead of the receiver retrying from its outbox. Every write goes
	// through as written, so a span created running and completed later
	// (the v3 SDKs) reaches the pipeline twice, first marked incomplete:
	// meant for collectors exporting complete OTel spans to this one.
	WaitForPipeline bool `mapstructure:"wait_for_pipeline"`
}

// ExplorerConfig controls the trace explorer pages.
type ExplorerConfig struct {
	// Enabled serves the pages at / (on by default).
	Enabled bool `mapstructure:"enabled"`
}

// PlaygroundConfig configures the playground: the providers whose models
// it may run and how often a project may run them.
type PlaygroundConfig struct {
	// Providers are OpenAI-compatible Chat Completions endpoints, each with
	// its key and models; none turns the playground off.
	Providers []playground.Provider `mapstructure:"providers"`
	// RunsPerMinute is how many runs each project may start a minute (a
	// token bucket: that many at once, refilled evenly); at least 1.
	RunsPerMinute int `mapstructure:"runs_per_minute"`
}

// defaultRunsPerMinute is playground::runs_per_minute's default.
const defaultRunsPerMinute = 30

var (
	_ component.Config         = (*Config)(nil)
	_ confmap.Validator        = (*Config)(nil)
	_ confmap.Unmarshaler      = (*StorageConfig)(nil)
	_ encoding.TextUnmarshaler = (*StorageConfig)(nil)
)

func createDefaultConfig() component.Config {
	sc := confighttp.NewDefaultServerConfig()
	sc.NetAddr = confignet.NewDefaultAddrConfig()
	sc.NetAddr.Transport = confignet.TransportTypeTCP
	sc.NetAddr.Endpoint = defaultEndpoint
	return &Config{
		ServerConfig: sc,
		Storage:      StorageConfig{SQLite: &SQLiteConfig{Path: defaultSQLitePath}},
		Retention:    RetentionConfig{Default: translator.RetentionFull},
		Explorer:     ExplorerConfig{Enabled: true},
		Forward: ForwardConfig{
			Enabled:               true,
			IncompleteSpanTimeout: 10 * time.Minute,
			BatchSize:             1000,
			PollInterval:          5 * time.Second,
			RetryInitialInterval:  time.Second,
			RetryMaxInterval:      30 * time.Second,
		},
		MaxFieldBytes: translator.DefaultMaxFieldBytes,
		Playground:    PlaygroundConfig{RunsPerMinute: defaultRunsPerMinute},
	}
}

// UnmarshalText implements encoding.TextUnmarshaler: `storage:
// opper_storage` names the extension that holds the store.
func (s *StorageConfig) UnmarshalText(text []byte) error {
	var id component.ID
	if err := id.UnmarshalText(text); err != nil {
		return fmt.Errorf("storage: %q is not the id of an opper_storage extension: %w", text, err)
	}
	*s = StorageConfig{Extension: &id}
	return nil
}

// Unmarshal implements confmap.Unmarshaler for the deprecated inline form: a
// storage section replaces the default backend instead of merging into it,
// and `sqlite:` without settings gets the default path.
func (s *StorageConfig) Unmarshal(conf *confmap.Conf) error {
	*s = StorageConfig{}
	if conf.IsSet("sqlite") {
		s.SQLite = &SQLiteConfig{}
	}
	if err := conf.Unmarshal(s); err != nil {
		return err
	}
	if s.SQLite != nil && s.SQLite.Path == "" {
		s.SQLite.Path = defaultSQLitePath
	}
	return nil
}

// Validate checks the configuration; the messages name the offending key.
func (cfg *Config) Validate() error {
	var errs []error
	switch {
	case cfg.Storage.Extension != nil && cfg.Storage.SQLite != nil:
		errs = append(errs, errors.New("storage: name an opper_storage extension or set the deprecated sqlite section, not both"))
	case cfg.Storage.Extension == nil && cfg.Storage.SQLite == nil:
		errs = append(errs, errors.New("storage: name the opper_storage extension that holds the traces, e.g. `storage: opper_storage`"))
	case cfg.Storage.SQLite != nil && strings.TrimSpace(cfg.Storage.SQLite.Path) == "":
		errs = append(errs, errors.New("storage::sqlite::path must not be empty"))
	}

	seenKeys := make(map[string]int, len(cfg.APIKeys))
	for i, k := range cfg.APIKeys {
		key := normalizeKey(string(k.Key))
		switch {
		case key == "":
			errs = append(errs, fmt.Errorf("api_keys[%d]: key must not be empty", i))
		case seenKeys[key] > 0:
			// Never echo the key itself.
			errs = append(errs, fmt.Errorf("api_keys[%d]: the same key is already listed at api_keys[%d]", i, seenKeys[key]-1))
		default:
			seenKeys[key] = i + 1
		}
		if err := store.ValidateProject(k.Project); err != nil {
			errs = append(errs, fmt.Errorf("api_keys[%d]: project %w", i, err))
		}
	}

	if !cfg.Retention.Default.Valid() {
		errs = append(errs, fmt.Errorf("retention::default: %q is not a retention; use full or metadata", cfg.Retention.Default))
	}
	for name, r := range cfg.Retention.Projects {
		if !r.Valid() {
			errs = append(errs, fmt.Errorf("retention::projects::%s: %q is not a retention; use full or metadata", name, r))
		}
	}

	if cfg.Forward.Enabled {
		f := cfg.Forward
		if f.IncompleteSpanTimeout <= 0 {
			errs = append(errs, errors.New("forward::incomplete_span_timeout must be positive"))
		}
		if f.BatchSize <= 0 {
			errs = append(errs, errors.New("forward::batch_size must be positive"))
		}
		if f.PollInterval <= 0 {
			errs = append(errs, errors.New("forward::poll_interval must be positive"))
		}
		if f.RetryInitialInterval <= 0 || f.RetryMaxInterval < f.RetryInitialInterval {
			errs = append(errs, errors.New("forward::retry_initial_interval must be positive and not above forward::retry_max_interval"))
		}
	}

	if err := translator.ValidateMaxFieldBytes(cfg.MaxFieldBytes); err != nil {
		errs = append(errs, err)
	}

	for i, h := range cfg.AllowedHosts {
		if err := validateHostName(h); err != nil {
			errs = append(errs, fmt.Errorf("allowed_hosts[%d]: %w", i, err))
		}
	}

	if cfg.Playground.RunsPerMinute < 1 {
		errs = append(errs, fmt.Errorf("playground::runs_per_minute must be at least 1, got %d", cfg.Playground.RunsPerMinute))
	}
	// Each provider's own Validate is run by confmap.Validate, element by
	// element; this checks the list as a whole.
	if err := playground.ValidateProviders(cfg.Playground.Providers); err != nil {
		errs = append(errs, err)
	}

	if len(cfg.APIKeys) == 0 && !cfg.AllowAnonymous && !isLocalEndpoint(cfg.ServerConfig.NetAddr) {
		errs = append(errs, fmt.Errorf("endpoint %q is not a loopback address and no api_keys are set: "+
			"anyone who can reach it could read and write traces; set api_keys, listen on localhost, "+
			"or set allow_anonymous: true to accept this", cfg.ServerConfig.NetAddr.Endpoint))
	}
	return errors.Join(errs...)
}

// isLocalEndpoint reports whether the server only accepts connections from
// this machine: a unix socket, or a host that is localhost or a loopback
// IP. An empty host (":8090") listens on every interface.
func isLocalEndpoint(addr confignet.AddrConfig) bool {
	if addr.Transport == confignet.TransportTypeUnix {
		return true
	}
	host, _, err := net.SplitHostPort(addr.Endpoint)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// normalizeKey strips a "Bearer " prefix a key may have been configured
// with, as clients may already prefix the value they send.
func normalizeKey(k string) string {
	k = strings.TrimSpace(k)
	if len(k) > 7 && strings.EqualFold(k[:7], "bearer ") {
		k = strings.TrimSpace(k[7:])
	}
	return k
}

// retentionFor returns the retention of a project.
func (cfg *Config) retentionFor(project string) translator.Retention {
	if r, ok := cfg.Retention.Projects[project]; ok {
		return r
	}
	return cfg.Retention.Default
}
