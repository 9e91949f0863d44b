package translator

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
)

//go:embed prices.json
var embeddedPrices []byte

// ModelPrice is a model's list price in USD per million tokens.
type ModelPrice struct {
	ID         string  `json:"id"`
	Provider   string  `json:"provider,omitempty"`
	InputMTok  float64 `json:"input_mtok"`
	OutputMTok float64 `json:"output_mtok"`
	// Cache prices default to the input price when a model has none.
	CacheReadMTok  *float64 `json:"cache_read_mtok,omitempty"`
	CacheWriteMTok *float64 `json:"cache_write_mtok,omitempty"`
}

// PriceTable prices usage by model name.
type PriceTable struct {
	Version string       `json:"version"`
	Models  []ModelPrice `json:"models"`
	byID    map[string]*ModelPrice
}

// DefaultPrices returns the price table embedded in the binary.
func DefaultPrices() *PriceTable {
	t, err := parsePrices(embeddedPrices)
	if err != nil {
		panic("translator: embedded prices.json is invalid: " + err.Error())
	}
	return t
}

// LoadPrices returns the embedded table extended, and overridden entry by
// entry, by the table in the file at path (same JSON format as prices.json).
func LoadPrices(path string) (*PriceTable, error) {
	base := DefaultPrices()
	if path == "" {
		return base, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("price table: %w", err)
	}
	extra, err := parsePrices(data)
	if err != nil {
		return nil, fmt.Errorf("price table %s: %w", path, err)
	}
	for _, m := range extra.Models {
		base.set(m)
	}
	version := extra.Version
	if version == "" {
		version = "custom"
	}
	base.Version = base.Version + "+" + version
	return base, nil
}

func parsePrices(data []byte) (*PriceTable, error) {
	var t PriceTable
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, err
	}
	models := t.Models
	t.Models, t.byID = nil, make(map[string]*ModelPrice, len(models))
	for i, m := range models {
		if strings.TrimSpace(m.ID) == "" {
			return nil, fmt.Errorf("models[%d]: id is required", i)
		}
		for _, p := range []*float64{&m.InputMTok, &m.OutputMTok, m.CacheReadMTok, m.CacheWriteMTok} {
			if p != nil && (*p < 0 || math.IsNaN(*p) || math.IsInf(*p, 0)) {
				return nil, fmt.Errorf("models[%d] (%s): prices must be non-negative numbers", i, m.ID)
			}
		}
		t.set(m)
	}
	if len(t.byID) == 0 {
		return nil, errors.New("no models")
	}
	return &t, nil
}

func (t *PriceTable) set(m ModelPrice) {
	m.ID = strings.ToLower(strings.TrimSpace(m.ID))
	if existing, ok := t.byID[m.ID]; ok {
		*existing = m
		return
	}
	t.Models = append(t.Models, m)
	t.byID[m.ID] = &t.Models[len(t.Models)-1]
	// Re-point the index: append may have moved the slice.
	for i := range t.Models {
		t.byID[t.Models[i].ID] = &t.Models[i]
	}
}

// NormalizeModel strips what providers and gateways put around a model
// name (`openai/gpt-4o`, `models/gemini-2.0-flash`, Bedrock's
// `us.anthropic.claude-3-5-sonnet-20241022-v2:0`), lower-cased, for lookup.
func NormalizeModel(model string) string {
	m := strings.ToLower(strings.TrimSpace(model))
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
	}
	for _, p := range []string{"us.", "eu.", "apac.", "global."} {
		m = strings.TrimPrefix(m, p)
	}
	for _, p := range []string{"anthropic.", "openai.", "meta.", "mistral.", "cohere.", "amazon."} {
		m = strings.TrimPrefix(m, p)
	}
	if i := strings.LastIndex(m, "-v"); i > 0 && strings.Contains(m[i:], ":") {
		m = m[:i]
	}
	m = strings.TrimSuffix(m, ":latest")
	return m
}

// Lookup finds the price of model: an exact match on the normalised name,
// else the longest entry that is a prefix of it followed by '-' (so
// `gpt-4o-mini-2024-07-18` is `gpt-4o-mini`, not `gpt-4o`).
func (t *PriceTable) Lookup(model string) (*ModelPrice, bool) {
	if t == nil || model == "" {
		return nil, false
	}
	name := NormalizeModel(model)
	if p, ok := t.byID[name]; ok {
		return p, true
	}
	for i := len(name) - 1; i > 0; i-- {
		if name[i] != '-' && name[i] != '@' && name[i] != ':' {
			continue
		}
		if p, ok := t.byID[name[:i]]; ok {
			return p, true
		}
	}
	return nil, false
}

// priceMemo remembers the last few lookups: a batch's spans use a few
// models, and normalising a name costs more than comparing it.
type priceMemo struct {
	entries [4]struct {
		table *PriceTable
		model string
		price *ModelPrice
		ok    bool
	}
	next int
}

func (m *priceMemo) lookup(t *PriceTable, model string) (*ModelPrice, bool) {
	for i := range m.entries {
		if e := &m.entries[i]; e.table == t && e.model == model && e.table != nil {
			return e.price, e.ok
		}
	}
	p, ok := t.Lookup(model)
	e := &m.entries[m.next]
	e.table, e.model, e.price, e.ok = t, model, p, ok
	m.next = (m.next + 1) % len(m.entries)
	return p, ok
}

// Cost prices usage: uncached input at the input rate, cache reads and
// writes at theirs, and output (which includes reasoning) at the output rate.
func (p *ModelPrice) Cost(u *Usage) float64 {
	cacheRead, cacheWrite := p.InputMTok, p.InputMTok
	if p.CacheReadMTok != nil {
		cacheRead = *p.CacheReadMTok
	}
	if p.CacheWriteMTok != nil {
		cacheWrite = *p.CacheWriteMTok
	}
	uncached := max(u.Input-u.CacheRead-u.CacheWrite, 0)
	usd := float64(uncached)*p.InputMTok + float64(u.CacheRead)*cacheRead + float64(u.CacheWrite)*cacheWrite + float64(u.Output)*p.OutputMTok
	return usd / 1e6
}

var costKeys = keysOf(kLangfuseObservationCostDetails, kGenAiUsageCost, kLlmCostTotal, kOperationCost, kLlmCostPrompt, kLlmCostCompletion)

// providedCost reads a cost the span carries, which always wins over a
// computed one (genai-mapping.md section 6).
func providedCost(a *attrView) (float64, bool) {
	if !a.anyOf(&costKeys) {
		return 0, false
	}
	if raw, ok := a.str(kLangfuseObservationCostDetails); ok {
		var d map[string]float64
		if json.Unmarshal([]byte(raw), &d) == nil {
			if total, ok := d["total"]; ok {
				return total, true
			}
			in, hasIn := d["input"]
			out, hasOut := d["output"]
			if hasIn || hasOut {
				return in + out, true
			}
		}
	}
	if f, ok := a.float(kGenAiUsageCost, kLlmCostTotal, kOperationCost); ok {
		return f, true
	}
	prompt, hasPrompt := a.float(kLlmCostPrompt)
	completion, hasCompletion := a.float(kLlmCostCompletion)
	if hasPrompt || hasCompletion {
		return prompt + completion, true
	}
	return 0, false
}
