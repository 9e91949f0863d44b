package explorer

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opperotel/bridge/translator"
)

func (e *Explorer) funcs() template.FuncMap {
	return template.FuncMap{
		"duration": formatDuration,
		"cost":     formatCost,
		"count": func(n any) string {
			switch v := n.(type) {
			case int:
				return formatCount(int64(v))
			case int64:
				return formatCount(v)
			}
			return fmt.Sprint(n)
		},
		"time": formatTime,
		"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
		"typeLabel": func(typ string) string {
			return typeLabel(typ)
		},
		"pct": func(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) + "%" },
		"add": func(a, b int) int { return a + b },
		"box": func(id, title string, c *contentView, dropped bool) boxView {
			return boxView{ID: id, Title: title, C: c, Dropped: dropped}
		},
		// The playground's editable turns: a new turn's fields, the roles
		// a turn may take, a text area's height.
		"newTurn": func() editTurn { return newEditTurn(-1, translator.Message{Role: "user"}) },
		"roles":   func() []string { return turnRoles },
		"rows":    func(s string) int { return min(max(strings.Count(s, "\n")+1+len(s)/90, 2), 14) },
		"list":    func(s ...string) []string { return s },
		// pretty indents a JSON value of a message part.
		"pretty": func(raw json.RawMessage) string {
			if s, ok := prettyJSON(raw); ok {
				return s
			}
			return string(raw)
		},
	}
}

// typeLabel is how a span type reads in the explorer: Opper's dashboard
// calls generations "llm".
func typeLabel(typ string) string {
	switch typ {
	case translator.TypeGeneration:
		return "llm"
	case "":
		return "span"
	}
	return typ
}

func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0 ms"
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 0, 64) + " µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 0, 64) + " ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min " + strconv.Itoa(int(d.Seconds())%60) + " s"
	}
	return strconv.FormatFloat(d.Hours(), 'f', 1, 64) + " h"
}

// formatCost shows USD with enough digits for LLM prices (a call is often
// a thousandth of a cent).
func formatCost(c float64) string {
	switch {
	case c == 0:
		return "$0"
	case c >= 1:
		return "$" + strconv.FormatFloat(c, 'f', 2, 64)
	case c >= 0.01:
		return "$" + strconv.FormatFloat(c, 'f', 4, 64)
	}
	digits := max(2, int(math.Ceil(-math.Log10(c)))+2)
	return "$" + strconv.FormatFloat(c, 'f', min(digits, 10), 64)
}

// formatCount writes 1234567 as 1,234,567.
func formatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// formatTime is the server's rendering, in UTC; the page's script rewrites
// it in the reader's own time zone.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// composition is "28 steps · 8 llm · 11 tool": the trace's size and its
// types by count (function spans are the steps themselves).
func composition(spans int64, types map[string]int64) string {
	var b strings.Builder
	b.WriteString(formatCount(spans))
	if spans == 1 {
		b.WriteString(" step")
	} else {
		b.WriteString(" steps")
	}
	keys := make([]string, 0, len(types))
	for typ, n := range types {
		if typ != translator.TypeFunction && n > 0 {
			keys = append(keys, typ)
		}
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(types[b], types[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for _, typ := range keys {
		b.WriteString(" · ")
		b.WriteString(formatCount(types[typ]))
		b.WriteByte(' ')
		b.WriteString(typeLabel(typ))
	}
	return b.String()
}

// clip shortens s to n runes on one line, for previews.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j] + "…"
		}
		i++
	}
	return s
}

// prettyJSON indents s when it is JSON; ok is false when it is not.
func prettyJSON(s []byte) (string, bool) {
	s = bytes.TrimSpace(s)
	if len(s) == 0 || !json.Valid(s) {
		return "", false
	}
	var out bytes.Buffer
	if err := json.Indent(&out, s, "", "  "); err != nil {
		return "", false
	}
	return out.String(), true
}

// boxView is what the content-box template reads.
type boxView struct {
	ID      string
	Title   string
	C       *contentView
	Dropped bool
}
