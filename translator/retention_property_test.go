package translator

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opperotel/bridge/internal/otlpfixtures"
)

// The privacy promise, as a property of every fixture: mapped under
// metadata retention, no text the full mapping carries as a span's input,
// output or instructions, nor any text of their messages (text parts,
// tool-call arguments and results), appears anywhere in what leaves the
// translator: the span bodies (v2 and v3), their meta, metrics and tool
// definitions. Texts shorter than 12 bytes are not looked for: a short
// answer ("4", "user") also appears as a name or a number.
func TestMetadataRetentionKeepsNoContent(t *testing.T) {
	full := New(Options{Retention: RetentionFull})
	meta := New(Options{Retention: RetentionMetadata})
	for _, file := range otlpfixtures.Files(t, otlpDir) {
		name := strings.TrimSuffix(filepath.Base(file), ".otlp.json")
		t.Run(name, func(t *testing.T) {
			td := otlpfixtures.Load(t, file)
			secrets := map[string]bool{}
			for _, s := range full.ToOpper(td) {
				for side, v := range map[MessageSide]*string{InputSide: s.Input, OutputSide: s.Output, InputSide + 100: s.Instructions} {
					if v == nil {
						continue
					}
					addSecret(secrets, *v)
					if side > OutputSide {
						continue
					}
					msgs, _ := NormalizeMessages(*v, side)
					for _, m := range msgs {
						for _, p := range m.Parts {
							addSecret(secrets, p.Content)
							addSecret(secrets, string(p.Arguments))
							addSecret(secrets, string(p.Response))
						}
					}
				}
			}
			// The search finds the secrets where they are: in the full
			// mapping's own output.
			inFull := renderSpans(t, full.ToOpper(td))
			found := 0
			for secret := range secrets {
				if containsText(inFull, secret) {
					found++
				}
			}
			if len(secrets) > 0 && found == 0 {
				t.Fatalf("none of %d content texts found in the full mapping's output: the search is broken", len(secrets))
			}
			rendered := renderSpans(t, meta.ToOpper(td))
			for secret := range secrets {
				if containsText(rendered, secret) {
					t.Errorf("content kept under metadata retention: %.120q", secret)
				}
			}
		})
	}
}

func addSecret(set map[string]bool, s string) {
	s = strings.TrimSpace(s)
	if len(s) >= 12 {
		set[s] = true
	}
}

// renderSpans is everything the spans become on the way out: v2 and v3
// bodies, metrics included.
func renderSpans(t *testing.T, spans []Span) string {
	var out strings.Builder
	for _, s := range spans {
		out.Write(AppendCreateSpanV2(nil, &s))
		b, err := json.Marshal(ToSpanV3(&s))
		if err != nil {
			t.Fatal(err)
		}
		out.Write(b)
		b, _ = json.Marshal(s.Metrics)
		out.Write(b)
	}
	return out.String()
}

// containsText finds s in JSON text, as it is or JSON-escaped.
func containsText(rendered, s string) bool {
	escaped, _ := json.Marshal(s)
	return strings.Contains(rendered, s) || strings.Contains(rendered, string(escaped[1:len(escaped)-1]))
}
