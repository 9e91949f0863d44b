package translator

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The identity mapper: tags, user, session, user metadata, environment.

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func noSkip(string) bool { return false }

// identityMetadataKeys are metadata entries that are the user, session or
// tags, which have fields of their own.
var identityMetadataKeys = map[string]bool{"userId": true, "sessionId": true, "tags": true, "langfusePrompt": true,
	"langfuse_tags": true, "langfuse_user_id": true, "langfuse_session_id": true, "user_id": true, "session_id": true}

// mapIdentity reads tags, user, session, user metadata and environment
// (genai-mapping.md b.9).
func (c *spanCtx) mapIdentity() {
	if !c.a.anyOf(&identityKeys) && c.a.prefixes&identityPrefixBits == 0 {
		return
	}
	s := c.out
	for _, k := range tagKeys {
		if v, ok := c.a.get(k); ok {
			if tags := valueStrings(v); len(tags) > 0 {
				s.Tags = tags
				break
			}
		}
	}
	s.UserID, _ = c.a.str(userKeys...)
	s.SessionID, _ = c.a.str(sessionKeys...)

	o := c.obj
	o.reset()
	for _, k := range metadataKeys {
		if v, ok := c.a.get(k); ok {
			if !o.putObjectFields(v, noSkip) {
				o.putString(strings.TrimPrefix(keyNames[k], "langfuse."), valueString(v))
			}
		}
	}
	for _, prefix := range identityPrefixes {
		c.a.withPrefix(prefix, func(rest string, v pcommon.Value) {
			if !identityMetadataKeys[rest] {
				o.putValue(rest, v)
			}
		})
	}
	c.putGroup("metadata")
	if v, ok := c.a.str(environmentKeys...); ok {
		c.setMeta("environment", v)
	}
	if v, ok := c.a.str(kLangfuseRelease); ok {
		c.setMeta("release", v)
	}
	if v, ok := c.a.str(kLangfuseVersion); ok {
		c.setMeta("version", v)
	}
	if v, ok := c.a.str(kLangfuseTraceName); ok {
		c.setMeta("trace_name", v)
	}
}

// The keys and prefixes mapIdentity reads, each list in order of
// precedence; identityKeys and identityPrefixBits let it skip spans that
// have none.
var (
	tagKeys = []attrKey{kLangfuseTraceTags, kLangfuseTags, kLangfuseObservationMetadataLangfuseTags,
		kLangfuseTraceMetadataLangfuseTags, kAiTelemetryMetadataTags, kTagTags, kLangsmithSpanTags}
	userKeys = []attrKey{kLangfuseUserId, kUserId, kLangfuseObservationMetadataLangfuseUserId,
		kLangfuseTraceMetadataLangfuseUserId, kAiTelemetryMetadataUserId,
		kTraceloopAssociationPropertiesUserId, kEnduserId, kGenAiUser}
	sessionKeys = []attrKey{kLangfuseSessionId, kSessionId, kGenAiConversationId,
		kLangfuseObservationMetadataLangfuseSessionId, kLangfuseTraceMetadataLangfuseSessionId,
		kAiTelemetryMetadataSessionId, kTraceloopAssociationPropertiesSessionId, kLangsmithTraceSessionId}
	metadataKeys       = []attrKey{kLangfuseObservationMetadata, kLangfuseMetadata, kLangfuseTraceMetadata, kMetadata}
	environmentKeys    = []attrKey{kLangfuseEnvironment, kDeploymentEnvironmentName, kDeploymentEnvironment}
	identityPrefixes   = []attrPrefix{pLangfuseObsMetadata, pLangfuseTraceMetadata, pAITelemetryMetadata, pAISettingsContext, pTraceloopAssociation, pLangsmithMetadata}
	identityKeys       = keysOfLists(tagKeys, userKeys, sessionKeys, metadataKeys, environmentKeys, []attrKey{kLangfuseRelease, kLangfuseVersion, kLangfuseTraceName})
	identityPrefixBits = prefixBits(identityPrefixes...)
)
