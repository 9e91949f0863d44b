package configkeys

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
)

type leaf struct {
	Path string `mapstructure:"path"`
	_    struct{}
}

type withEnum struct {
	Mode mode `mapstructure:"mode"`
}

// mode is a TextUnmarshaler, like component.ID or an enum.
type mode struct{ v string }

func (m *mode) UnmarshalText(b []byte) error { m.v = string(b); return nil }

type Embedded struct {
	Inner string `mapstructure:"inner"`
}

type squashed struct {
	Flat int `mapstructure:"flat"`
	Deep leaf
}

// selfUnmarshaling reads its own fields, like the receiver's StorageConfig.
type selfUnmarshaling struct {
	SQLite *leaf `mapstructure:"sqlite"`
}

func (s *selfUnmarshaling) Unmarshal(conf *confmap.Conf) error {
	*s = selfUnmarshaling{}
	if conf.IsSet("sqlite") {
		s.SQLite = &leaf{Path: "default"}
	}
	return conf.Unmarshal(s)
}

// shortOrLong is a string or a section, as the receiver's StorageConfig is
// (`storage: opper_storage` or `storage: {sqlite: {path: ...}}`).
type shortOrLong struct {
	Name   string `mapstructure:"-"`
	SQLite *leaf  `mapstructure:"sqlite"`
}

func (s *shortOrLong) UnmarshalText(b []byte) error { s.Name = string(b); return nil }

func (s *shortOrLong) Unmarshal(conf *confmap.Conf) error { return conf.Unmarshal(s) }

type everything struct {
	Either    shortOrLong                   `mapstructure:"either"`
	Squashed  squashed                      `mapstructure:",squash"`
	Embedded  `mapstructure:",squash"`      // anonymous, squashed
	Ptr       *leaf                         `mapstructure:"ptr"`
	Struct    leaf                          `mapstructure:"struct"`
	List      []leaf                        `mapstructure:"list"`
	PtrList   []*leaf                       `mapstructure:"ptr_list"`
	Array     [2]leaf                       `mapstructure:"array"`
	Structs   map[string]leaf               `mapstructure:"structs"`
	PtrStruct map[string]*leaf              `mapstructure:"ptr_structs"`
	Strings   map[string]string             `mapstructure:"strings"`
	Anys      map[string]any                `mapstructure:"anys"`
	Any       any                           `mapstructure:"any"`
	Opt       configoptional.Optional[leaf] `mapstructure:"opt"`
	OptScalar configoptional.Optional[int]  `mapstructure:"opt_scalar"`
	ID        component.ID                  `mapstructure:"id"`
	IDPtr     *component.ID                 `mapstructure:"id_ptr"`
	Enum      withEnum                      `mapstructure:"enum"`
	Duration  time.Duration                 `mapstructure:"duration"`
	Secret    configopaque.String           `mapstructure:"secret"`
	Headers   configopaque.MapList          `mapstructure:"headers"`
	Self      selfUnmarshaling              `mapstructure:"self"`
	Skipped   string                        `mapstructure:"-"`
	Untagged  string
	//lint:ignore U1000 it is here to check unexported fields are not keys
	unexported string
	_          struct{}
}

func newEverything() *everything {
	return &everything{Opt: configoptional.Default(leaf{})}
}

func TestCheckAcceptsKnownKeys(t *testing.T) {
	raw := map[string]any{
		"flat":        1,
		"Deep":        map[string]any{"path": "x"},
		"inner":       "i",
		"ptr":         map[string]any{"path": "p"},
		"struct":      map[string]any{"path": "s"},
		"list":        []any{map[string]any{"path": "a"}, map[string]any{}},
		"ptr_list":    []any{map[string]any{"path": "a"}, nil},
		"array":       []any{map[string]any{"path": "a"}},
		"structs":     map[string]any{"one": map[string]any{"path": "1"}, "two": nil},
		"ptr_structs": map[string]any{"one": map[string]any{"path": "1"}, "two": nil},
		"strings":     map[string]any{"any key": "v", "other": "w"},
		"anys":        map[string]any{"k": map[string]any{"nested": []any{1}}},
		"any":         map[string]any{"whatever": map[string]any{"goes": 1}},
		"opt":         map[string]any{"enabled": true, "path": "o"},
		"opt_scalar":  3,
		"id":          "file_storage/x",
		"id_ptr":      "file_storage",
		"enum":        map[string]any{"mode": "fast"},
		"duration":    "3s",
		"secret":      "s3cret",
		"headers":     map[string]any{"X-Any-Header": "1", "authorization": "2"},
		"self":        map[string]any{"sqlite": nil},
		"Untagged":    "u",
		"either":      map[string]any{"sqlite": map[string]any{"path": "p"}},
	}
	cfg := newEverything()
	require.NoError(t, Check(confmap.NewFromStringMap(raw), cfg))
	// And confmap, which knows the types best, agrees they all decode.
	require.NoError(t, confmap.NewFromStringMap(raw).Unmarshal(cfg))
	assert.Equal(t, "x", cfg.Squashed.Deep.Path)
	assert.Equal(t, "i", cfg.Inner)
	assert.Equal(t, "o", cfg.Opt.Get().Path)
	assert.Equal(t, "default", cfg.Self.SQLite.Path)
	assert.Len(t, cfg.Headers, 2)
	assert.Equal(t, "p", cfg.Either.SQLite.Path)

	raw = map[string]any{"either": "short form"}
	require.NoError(t, Check(confmap.NewFromStringMap(raw), cfg))
	require.NoError(t, confmap.NewFromStringMap(raw).Unmarshal(cfg))
	assert.Equal(t, "short form", cfg.Either.Name)
}

func TestCheckRefusesUnknownKeys(t *testing.T) {
	tests := []struct {
		name string
		raw  map[string]any
		want string
	}{
		{"top level", map[string]any{"bogus": 1, "also": 2, "flat": 1}, "'configkeys.everything' has invalid keys: also, bogus"},
		{"squashed struct's field", map[string]any{"Deep": map[string]any{"bogus": 1}}, "'Deep' has invalid keys: bogus"},
		{"pointer", map[string]any{"ptr": map[string]any{"bogus": 1}}, "'ptr' has invalid keys: bogus"},
		{"struct", map[string]any{"struct": map[string]any{"bogus": 1}}, "'struct' has invalid keys: bogus"},
		{"list item", map[string]any{"list": []any{map[string]any{}, map[string]any{"bogus": 1}}}, "'list[1]' has invalid keys: bogus"},
		{"pointer list item", map[string]any{"ptr_list": []any{map[string]any{"bogus": 1}}}, "'ptr_list[0]' has invalid keys: bogus"},
		{"array item", map[string]any{"array": []any{map[string]any{"bogus": 1}}}, "'array[0]' has invalid keys: bogus"},
		{"map value", map[string]any{"structs": map[string]any{"one": map[string]any{"bogus": 1}}}, "'structs[one]' has invalid keys: bogus"},
		{"map pointer value", map[string]any{"ptr_structs": map[string]any{"one": map[string]any{"bogus": 1}}}, "'ptr_structs[one]' has invalid keys: bogus"},
		{"optional", map[string]any{"opt": map[string]any{"bogus": 1}}, "'opt' has invalid keys: bogus"},
		{"struct holding a TextUnmarshaler", map[string]any{"enum": map[string]any{"bogus": 1}}, "'enum' has invalid keys: bogus"},
		{"self-unmarshaling struct", map[string]any{"self": map[string]any{"postgres": nil}}, "'self' has invalid keys: postgres"},
		{"self-unmarshaling struct's section", map[string]any{"self": map[string]any{"sqlite": map[string]any{"bogus": 1}}}, "'self.sqlite' has invalid keys: bogus"},
		{"skipped field", map[string]any{"Skipped": "x"}, "'configkeys.everything' has invalid keys: Skipped"},
		{"unexported field", map[string]any{"unexported": "x"}, "'configkeys.everything' has invalid keys: unexported"},
		{"name case", map[string]any{"untagged": "x"}, "'configkeys.everything' has invalid keys: untagged"},
		{"enabled outside an optional", map[string]any{"struct": map[string]any{"enabled": true}}, "'struct' has invalid keys: enabled"},
		{"TextUnmarshaler given a section", map[string]any{"either": map[string]any{"Name": "x"}}, "'either' has invalid keys: Name"},
		{"TextUnmarshaler's section", map[string]any{"either": map[string]any{"sqlite": map[string]any{"bogus": 1}}}, "'either.sqlite' has invalid keys: bogus"},
		{"header list item", map[string]any{"headers": []any{map[string]any{"name": "a", "value": "b", "bogus": 1}}}, "'headers[0]' has invalid keys: bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(confmap.NewFromStringMap(tt.raw), newEverything())
			require.EqualError(t, err, tt.want)
			var ike *InvalidKeysError
			require.ErrorAs(t, err, &ike)
		})
	}
}

func TestCheckReportsEverySection(t *testing.T) {
	raw := map[string]any{
		"zzz":    1,
		"struct": map[string]any{"b": 1, "a": 2},
		"list":   []any{map[string]any{"c": 1}},
	}
	err := Check(confmap.NewFromStringMap(raw), newEverything())
	require.EqualError(t, err, "'configkeys.everything' has invalid keys: zzz\n"+
		"'list[0]' has invalid keys: c\n"+
		"'struct' has invalid keys: a, b")
}

func TestCheckRemain(t *testing.T) {
	type cfg struct {
		Known string         `mapstructure:"known"`
		Rest  map[string]any `mapstructure:",remain"`
	}
	require.NoError(t, Check(confmap.NewFromStringMap(map[string]any{"known": "k", "other": 1}), &cfg{}))
}

func TestCheckNonMapSectionsAreLeftToConfmap(t *testing.T) {
	// The wrong shape is confmap's error to report, with its own words.
	raw := map[string]any{"struct": "not a map", "list": map[string]any{"a": 1}, "structs": []any{1}}
	require.NoError(t, Check(confmap.NewFromStringMap(raw), newEverything()))
}

// TestMessageMatchesConfmap checks the message is the one confmap gives for
// a plain struct, where its own check is not disabled.
func TestMessageMatchesConfmap(t *testing.T) {
	type inner struct {
		Path string `mapstructure:"path"`
	}
	type plain struct {
		Known string  `mapstructure:"known"`
		Inner inner   `mapstructure:"inner"`
		List  []inner `mapstructure:"list"`
	}
	for _, raw := range []map[string]any{
		{"bogus": 1, "other": 2},
		{"inner": map[string]any{"b": 1, "a": 1}},
		{"list": []any{map[string]any{}, map[string]any{"bogus": 1}}},
	} {
		want := confmap.NewFromStringMap(raw).Unmarshal(&plain{})
		require.Error(t, want)
		got := Check(confmap.NewFromStringMap(raw), &plain{})
		require.Error(t, got)
		assert.Contains(t, want.Error(), got.Error())
	}
}

// httpConfig is the shape of this project's components: squashed confighttp
// configs, which switch confmap's own check off for the whole struct.
type httpConfig struct {
	Client confighttp.ClientConfig                                  `mapstructure:"client"`
	Server confighttp.ServerConfig                                  `mapstructure:",squash"`
	Queue  configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	Retry  configretry.BackOffConfig                                `mapstructure:"retry_on_failure"`
	Own    string                                                   `mapstructure:"own"`
}

func newHTTPConfig() *httpConfig {
	return &httpConfig{
		Client: confighttp.NewDefaultClientConfig(),
		Server: confighttp.NewDefaultServerConfig(),
		Queue:  configoptional.Some(exporterhelper.NewDefaultQueueConfig()),
		Retry:  configretry.NewDefaultBackOffConfig(),
	}
}

func TestCheckCollectorConfigs(t *testing.T) {
	// The problem this package exists for.
	require.NoError(t, confmap.NewFromStringMap(map[string]any{"bogus": 1}).Unmarshal(newHTTPConfig()),
		"confmap refuses unknown keys beside a squashed confighttp config again: configkeys may no longer be needed")

	good := map[string]any{
		"endpoint":              "localhost:1",
		"transport":             "tcp",
		"tls":                   map[string]any{"cert_file": "c", "key_file": "k", "client_ca_file": "ca", "tpm": map[string]any{"enabled": false}},
		"cors":                  map[string]any{"allowed_origins": []any{"*"}, "max_age": 3},
		"auth":                  map[string]any{"authenticator": "basicauth", "request_params": []any{"p"}},
		"keepalive":             map[string]any{"idle_timeout": "1s"},
		"response_headers":      map[string]any{"X-Anything": "1"},
		"middlewares":           []any{map[string]any{"id": "m"}},
		"max_request_body_size": 10,
		"client": map[string]any{
			"endpoint":           "http://x",
			"tls":                map[string]any{"insecure": true, "ca_file": "ca"},
			"headers":            map[string]any{"any-header": "v"},
			"keepalive":          map[string]any{"enabled": true, "idle_conn_timeout": "1s"},
			"compression_params": map[string]any{"level": 1},
			"cookies":            map[string]any{"enabled": true},
			"auth":               map[string]any{"authenticator": "oauth2client"},
		},
		"sending_queue": map[string]any{
			"enabled": true, "queue_size": 10, "storage": "file_storage",
			"batch": map[string]any{"flush_timeout": "1s", "partition": map[string]any{"metadata_keys": []any{"k"}}},
		},
		"retry_on_failure": map[string]any{"enabled": false, "max_elapsed_time": "1m"},
		"own":              "o",
	}
	require.NoError(t, Unmarshal(confmap.NewFromStringMap(good), newHTTPConfig()))

	bad := []struct {
		section string
		raw     map[string]any
		want    string
	}{
		{"top", map[string]any{"bogus": 1}, "'configkeys.httpConfig' has invalid keys: bogus"},
		{"server tls", map[string]any{"tls": map[string]any{"bogus": 1}}, "'tls' has invalid keys: bogus"},
		{"server tls tpm", map[string]any{"tls": map[string]any{"tpm": map[string]any{"bogus": 1}}}, "'tls.tpm' has invalid keys: bogus"},
		{"cors", map[string]any{"cors": map[string]any{"allowed_origin": []any{"*"}}}, "'cors' has invalid keys: allowed_origin"},
		{"server auth", map[string]any{"auth": map[string]any{"bogus": 1}}, "'auth' has invalid keys: bogus"},
		{"server keepalive", map[string]any{"keepalive": map[string]any{"bogus": 1}}, "'keepalive' has invalid keys: bogus"},
		{"middleware", map[string]any{"middlewares": []any{map[string]any{"bogus": 1}}}, "'middlewares[0]' has invalid keys: bogus"},
		{"client", map[string]any{"client": map[string]any{"bogus": 1}}, "'client' has invalid keys: bogus"},
		{"client tls", map[string]any{"client": map[string]any{"tls": map[string]any{"bogus": 1}}}, "'client.tls' has invalid keys: bogus"},
		{"client keepalive", map[string]any{"client": map[string]any{"keepalive": map[string]any{"bogus": 1}}}, "'client.keepalive' has invalid keys: bogus"},
		{"queue", map[string]any{"sending_queue": map[string]any{"bogus": 1}}, "'sending_queue' has invalid keys: bogus"},
		{"batch", map[string]any{"sending_queue": map[string]any{"batch": map[string]any{"bogus": 1}}}, "'sending_queue.batch' has invalid keys: bogus"},
		{"partition", map[string]any{"sending_queue": map[string]any{"batch": map[string]any{"partition": map[string]any{"bogus": 1}}}}, "'sending_queue.batch.partition' has invalid keys: bogus"},
		{"retry", map[string]any{"retry_on_failure": map[string]any{"bogus": 1}}, "'retry_on_failure' has invalid keys: bogus"},
	}
	for _, tt := range bad {
		t.Run(tt.section, func(t *testing.T) {
			err := Unmarshal(confmap.NewFromStringMap(tt.raw), newHTTPConfig())
			require.EqualError(t, err, tt.want)
		})
	}
}

// TestDefaultsRoundTrip checks every key confmap writes for the collector's
// default configs is one Check accepts: a marshaled config loads again.
// (Untagged fields are left out: confmap marshals them lowercased but
// decodes them by their exact Go name, so they do not round-trip anyway.)
func TestDefaultsRoundTrip(t *testing.T) {
	conf := confmap.New()
	require.NoError(t, conf.Marshal(newHTTPConfig()))
	require.Contains(t, conf.AllKeys(), "sending_queue::queue_size")
	require.NoError(t, Check(conf, newHTTPConfig()))
	require.NoError(t, Unmarshal(conf, newHTTPConfig()))
}

func TestCheckNil(t *testing.T) {
	require.NoError(t, Check(confmap.New(), nil))
	require.NoError(t, Check(confmap.New(), newEverything()))
	require.NoError(t, Check(confmap.NewFromStringMap(map[string]any{"ptr": nil, "list": nil}), newEverything()))
}
