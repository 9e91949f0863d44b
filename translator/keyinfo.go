package translator

import "strings"

// attrPrefix is a key prefix the mappings scan for: flattened lists,
// metadata groups, content. Prefixes are registered like known keys, so
// that which of them a key starts with is worked out once per distinct key
// (and cached), and a scan is a bit test per attribute, not a string
// comparison per attribute and prefix.
type attrPrefix uint8

var prefixNames []string

// prefix registers an attribute key prefix; it is only called from
// package-level variable initialisers.
func prefix(name string) attrPrefix {
	for i, p := range prefixNames {
		if p == name {
			return attrPrefix(i)
		}
	}
	if len(prefixNames) == 64 {
		panic("translator: more than 64 attribute prefixes")
	}
	prefixNames = append(prefixNames, name)
	return attrPrefix(len(prefixNames) - 1)
}

func (p attrPrefix) bit() uint64 { return 1 << p }

// prefixBits is the union of the prefixes' bits.
func prefixBits(ps ...attrPrefix) uint64 {
	var b uint64
	for _, p := range ps {
		b |= p.bit()
	}
	return b
}
func (p attrPrefix) String() string { return prefixNames[p] }

// Prefixes the mappings scan.
var (
	pGenAIRequest           = prefix("gen_ai.request.")
	pAISettings             = prefix("ai.settings.")
	pLLMInvocationParams    = prefix("llm.invocation_parameters.")
	pLangfuseObsMetadata    = prefix("langfuse.observation.metadata.")
	pLangfuseTraceMetadata  = prefix("langfuse.trace.metadata.")
	pAITelemetryMetadata    = prefix("ai.telemetry.metadata.")
	pAISettingsContext      = prefix("ai.settings.context.")
	pTraceloopAssociation   = prefix("traceloop.association.properties.")
	pLangsmithMetadata      = prefix("langsmith.metadata.")
	pGenAIPrompt            = prefix("gen_ai.prompt.")
	pGenAICompletion        = prefix("gen_ai.completion.")
	pLLMTools               = prefix("llm.tools.")
	pEvaluations            = prefix("evaluations.")
	pAnnotations            = prefix("annotations.")
	pLLMInputMessages       = prefix("llm.input_messages.")
	pLLMOutputMessages      = prefix("llm.output_messages.")
	pLLMPrompts             = prefix("llm.prompts.")
	pLLMChoices             = prefix("llm.choices.")
	pEmbeddingEmbeddings    = prefix("embedding.embeddings.")
	pRetrievalDocuments     = prefix("retrieval.documents.")
	pRerankerInputDocuments = prefix("reranker.input_documents.")
	pRerankerOutputDocs     = prefix("reranker.output_documents.")
)

// keyInfo is what the translator needs to know about an attribute key.
type keyInfo struct {
	id    attrKey // valid when known
	known bool
	// prefixes has the bit of every registered prefix the key starts with.
	prefixes uint64
	content  bool
	// plainJSON says the key is written in JSON as it is, unescaped.
	plainJSON bool
}

// classify works out a key's keyInfo.
func classify(k string) keyInfo {
	var info keyInfo
	info.id, info.known = keyIDs[k]
	for i, p := range prefixNames {
		if strings.HasPrefix(k, p) {
			info.prefixes |= attrPrefix(i).bit()
		}
	}
	info.plainJSON = string(appendJSONStringContent(nil, k)) == k
	info.content = contentKeys[k]
	for _, p := range contentPrefixes {
		if info.prefixes&p.bit() != 0 {
			info.content = true
		}
	}
	return info
}

// maxCachedKeys bounds a key cache: spans with ever new keys (ids in key
// names) would otherwise grow it without end.
const maxCachedKeys = 8192

// keyCache remembers the keyInfo of keys seen before. The keys of a
// batch's spans repeat (one instrumentation writes the same keys on every
// span), so a lookup replaces the classification. A small direct-mapped
// table in front of the map, indexed by a hash of a few of the key's bytes,
// answers most lookups with one string comparison; the map behind it
// answers the rest.
type keyCache struct {
	direct [directKeySlots]keySlot
	m      map[string]keyInfo
}

// directKeySlots is a power of two; the table stays within a core's L1.
const directKeySlots = 512

type keySlot struct {
	key  string
	info keyInfo
	set  bool
}

func newKeyCache() *keyCache { return &keyCache{m: make(map[string]keyInfo, 256)} }

// slotOf hashes the length and four sampled bytes of k: cheap, and enough to
// tell apart the keys one instrumentation writes. Keys that collide only
// take turns in the slot.
func slotOf(k string) int {
	n := len(k)
	if n == 0 {
		return 0
	}
	h := uint32(n) * 0x9E3779B1
	h ^= uint32(k[0]) | uint32(k[n-1])<<8 | uint32(k[n/2])<<16 | uint32(k[n*3/4])<<24
	h *= 0x85EBCA6B
	h ^= h >> 15
	return int(h & (directKeySlots - 1))
}

func (c *keyCache) info(k string) keyInfo {
	slot := &c.direct[slotOf(k)]
	if slot.set && slot.key == k {
		return slot.info
	}
	info, ok := c.m[k]
	if !ok {
		info = classify(k)
		if len(c.m) >= maxCachedKeys {
			clear(c.m)
		}
		c.m[k] = info
	}
	*slot = keySlot{key: k, info: info, set: true}
	return info
}
