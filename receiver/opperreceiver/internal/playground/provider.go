package playground

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"
)

// DefaultTimeout bounds a call when Provider.Timeout is zero.
const DefaultTimeout = 60 * time.Second

// Provider is one configured model provider.
type Provider struct {
	// Name identifies the provider in the configuration and in errors.
	Name string `mapstructure:"name"`
	// Endpoint is the API's base URL; "/chat/completions" is appended, e.g.
	// https://api.openai.com/v1 or http://localhost:11434/v1.
	Endpoint string `mapstructure:"endpoint"`
	// APIKey is sent as "Authorization: Bearer"; empty sends no header
	// (a local Ollama needs none).
	APIKey configopaque.String `mapstructure:"api_key"`
	// Models are the model names the playground may ask this provider for.
	Models []string `mapstructure:"models"`
	// Timeout bounds a non-streamed call, and a streamed call's wait for
	// the answer and for each piece of it; 0 means DefaultTimeout.
	Timeout time.Duration `mapstructure:"timeout"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks one provider on its own; ValidateProviders checks a
// list against itself.
func (p *Provider) Validate() error {
	var errs []error
	name := p.Name
	if strings.TrimSpace(name) == "" {
		errs = append(errs, errors.New("playground provider: name is required"))
		name = "(unnamed)"
	}
	if err := validateEndpoint(p.Endpoint); err != nil {
		errs = append(errs, fmt.Errorf("playground provider %q: %w", name, err))
	}
	if len(p.Models) == 0 {
		errs = append(errs, fmt.Errorf("playground provider %q: list at least one model in models", name))
	}
	seen := make(map[string]bool, len(p.Models))
	for _, m := range p.Models {
		switch {
		case strings.TrimSpace(m) == "":
			errs = append(errs, fmt.Errorf("playground provider %q: models has an empty name", name))
		case seen[m]:
			errs = append(errs, fmt.Errorf("playground provider %q: model %q is listed twice", name, m))
		}
		seen[m] = true
	}
	if p.Timeout < 0 {
		errs = append(errs, fmt.Errorf("playground provider %q: timeout must not be negative, got %s", name, p.Timeout))
	}
	return errors.Join(errs...)
}

func validateEndpoint(endpoint string) error {
	if endpoint == "" {
		return errors.New("endpoint is required, e.g. https://api.openai.com/v1")
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Opaque != "" {
		// url.Parse errors quote the whole URL, credentials included.
		return errors.New("endpoint is not a valid URL")
	}
	if u.User != nil {
		return errors.New("endpoint must not carry credentials; set api_key instead")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("endpoint must be an http or https URL, got %q", endpoint)
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("endpoint %q has no host", endpoint)
	}
	if u.RawQuery != "" || u.ForceQuery {
		return fmt.Errorf("endpoint %q must not have a query: it is a base URL that /chat/completions is appended to", endpoint)
	}
	if u.Fragment != "" {
		return fmt.Errorf("endpoint %q must not have a fragment", endpoint)
	}
	if strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/chat/completions") {
		return fmt.Errorf("endpoint %q must be the base URL, without /chat/completions", endpoint)
	}
	return nil
}

// ValidateProviders checks what no single provider can: names are unique
// and every model belongs to one provider only (the playground picks the
// provider by model). It does not call each provider's Validate; the
// collector's config validation does that for every element.
func ValidateProviders(providers []Provider) error {
	var errs []error
	names := make(map[string]bool, len(providers))
	owner := map[string]string{} // model -> provider name
	for _, p := range providers {
		if p.Name != "" && names[p.Name] {
			errs = append(errs, fmt.Errorf("playground providers: name %q is used twice", p.Name))
		}
		names[p.Name] = true
		for _, m := range p.Models {
			prev, taken := owner[m]
			switch {
			case !taken:
				owner[m] = p.Name
			case prev != p.Name:
				errs = append(errs, fmt.Errorf("playground providers: model %q is listed by providers %q and %q; a model must belong to one provider", m, prev, p.Name))
			}
		}
	}
	return errors.Join(errs...)
}

func (p *Provider) timeout() time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return DefaultTimeout
}
