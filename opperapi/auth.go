package opperapi

import "strings"

// BearerToken extracts the key of an `Authorization: Bearer <key>` header;
// the scheme is case-insensitive, as the SDKs send whatever case the user's
// pre-prefixed key had.
func BearerToken(header string) (string, bool) {
	h := strings.TrimSpace(header)
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "", false
	}
	token := strings.TrimSpace(h[7:])
	return token, token != ""
}
