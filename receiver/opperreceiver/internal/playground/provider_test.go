package playground

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func validProvider() Provider {
	return Provider{Name: "openai", Endpoint: "https://api.openai.com/v1", APIKey: "sk-secret-123", Models: []string{"gpt-4o", "gpt-4o-mini"}}
}

func TestProviderValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Provider)
		want   []string // each must be in the error; none: valid
	}{
		{name: "valid", modify: func(*Provider) {}},
		{name: "local ollama without key", modify: func(p *Provider) { p.Endpoint, p.APIKey = "http://localhost:11434/v1/", "" }},
		{name: "no name", modify: func(p *Provider) { p.Name = " " }, want: []string{"playground provider: name is required"}},
		{name: "no endpoint", modify: func(p *Provider) { p.Endpoint = "" }, want: []string{`playground provider "openai": endpoint is required`}},
		{name: "not http", modify: func(p *Provider) { p.Endpoint = "ftp://example.com/v1" }, want: []string{`endpoint must be an http or https URL, got "ftp://example.com/v1"`}},
		{name: "no scheme", modify: func(p *Provider) { p.Endpoint = "api.openai.com/v1" }, want: []string{"endpoint must be an http or https URL"}},
		{name: "no host", modify: func(p *Provider) { p.Endpoint = "https:///v1" }, want: []string{`endpoint "https:///v1" has no host`}},
		{name: "query", modify: func(p *Provider) { p.Endpoint = "https://x.openai.azure.com/v1?api-version=1" }, want: []string{"must not have a query"}},
		{name: "fragment", modify: func(p *Provider) { p.Endpoint = "https://x/v1#a" }, want: []string{"must not have a fragment"}},
		{name: "full path", modify: func(p *Provider) { p.Endpoint = "https://api.openai.com/v1/chat/completions" }, want: []string{"must be the base URL, without /chat/completions"}},
		{name: "credentials", modify: func(p *Provider) { p.Endpoint = "https://user:sk-in-url@example.com/v1" }, want: []string{"endpoint must not carry credentials; set api_key instead"}},
		{name: "invalid URL", modify: func(p *Provider) { p.Endpoint = "https://sk-in-url@exa mple.com/v1" }, want: []string{"endpoint is not a valid URL"}},
		{name: "no models", modify: func(p *Provider) { p.Models = nil }, want: []string{`playground provider "openai": list at least one model in models`}},
		{name: "empty model", modify: func(p *Provider) { p.Models = []string{"gpt-4o", ""} }, want: []string{"models has an empty name"}},
		{name: "duplicate model", modify: func(p *Provider) { p.Models = []string{"gpt-4o", "gpt-4o"} }, want: []string{`model "gpt-4o" is listed twice`}},
		{name: "negative timeout", modify: func(p *Provider) { p.Timeout = -time.Second }, want: []string{"timeout must not be negative, got -1s"}},
		{name: "several at once", modify: func(p *Provider) { p.Name, p.Models = "", nil }, want: []string{"name is required", `playground provider "(unnamed)": list at least one model`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validProvider()
			tt.modify(&p)
			err := p.Validate()
			if len(tt.want) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "sk-", "no key or URL credentials in the error")
		})
	}
}

func TestValidateProviders(t *testing.T) {
	a := validProvider()
	b := Provider{Name: "ollama", Endpoint: "http://localhost:11434/v1", Models: []string{"llama3.2"}}
	require.NoError(t, ValidateProviders(nil))
	require.NoError(t, ValidateProviders([]Provider{a, b}))

	err := ValidateProviders([]Provider{a, b, {Name: "openai", Endpoint: "https://x/v1", Models: []string{"o3"}}})
	require.EqualError(t, err, `playground providers: name "openai" is used twice`)

	c := Provider{Name: "litellm", Endpoint: "http://litellm:4000", Models: []string{"llama3.2", "gpt-4o"}}
	err = ValidateProviders([]Provider{a, b, c})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `model "llama3.2" is listed by providers "ollama" and "litellm"; a model must belong to one provider`)
	assert.Contains(t, err.Error(), `model "gpt-4o" is listed by providers "openai" and "litellm"`)
}

func TestTimeoutDefault(t *testing.T) {
	p := validProvider()
	assert.Equal(t, 60*time.Second, p.timeout())
	p.Timeout = 5 * time.Second
	assert.Equal(t, 5*time.Second, p.timeout())
}

// TestKeyNotPrinted: neither a Provider nor a Client shows the key,
// however printed or marshalled.
func TestKeyNotPrinted(t *testing.T) {
	p := validProvider()
	c, err := NewClient(p, nil)
	require.NoError(t, err)
	for _, v := range []any{p, &p, c, *c} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			out := fmt.Sprintf(verb, v)
			assert.NotContains(t, out, "sk-secret-123", "%s of %T", verb, v)
		}
	}
	assert.Equal(t, `playground.Client{provider: "openai", url: "https://api.openai.com/v1/chat/completions"}`, c.String())
	b, err := json.Marshal(p)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "sk-secret-123")
}

func TestNewClientValidates(t *testing.T) {
	p := validProvider()
	p.Models = nil
	_, err := NewClient(p, nil)
	require.ErrorContains(t, err, "list at least one model")
}
