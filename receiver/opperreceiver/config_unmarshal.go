package opperreceiver // import "github.com/opperotel/bridge/receiver/opperreceiver"

import (
	"go.opentelemetry.io/collector/confmap"

	"github.com/opperotel/bridge/internal/configkeys"
)

var _ confmap.Unmarshaler = (*Config)(nil)

// Unmarshal implements confmap.Unmarshaler to refuse unknown keys. confmap
// would refuse them by itself, but the squashed confighttp.ServerConfig
// decodes with unused keys ignored, which switches that check off for the
// whole config: a misspelt `api_key:` would run the receiver anonymous.
func (cfg *Config) Unmarshal(conf *confmap.Conf) error {
	return configkeys.Unmarshal(conf, cfg)
}
