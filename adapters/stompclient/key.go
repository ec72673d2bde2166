package stompclient

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"
)

// Headers that carry a message's key (STOMP headers are UTF-8 text).
const (
	HdrKey    = "mqbench-key"
	HdrKeyHex = "mqbench-key-hex"
)

// EncodeKey returns the header carrying key and its value: the key itself
// (HdrKey) when it is valid UTF-8 without NUL, else its hex (HdrKeyHex).
func EncodeKey(key []byte) (header, value string) {
	if utf8.Valid(key) && !slices.Contains(key, 0) {
		return HdrKey, string(key)
	}
	return HdrKeyHex, hex.EncodeToString(key)
}

// ErrBadKey means a delivery's key header could not be decoded.
var ErrBadKey = errors.New("bad mqbench-key-hex header")

// DecodeKey is the inverse of EncodeKey, reading headers through get (for
// example frame.Header.Contains); nil when neither header is set.
func DecodeKey(get func(string) (string, bool)) ([]byte, error) {
	if v, ok := get(HdrKey); ok {
		return []byte(v), nil
	}
	if v, ok := get(HdrKeyHex); ok {
		b, err := hex.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
		}
		return b, nil
	}
	return nil, nil
}

// ValidName reports whether s is 1-200 bytes of letters, digits, '-', '_'
// and '.', the names both STOMP adapters accept for destinations and
// groups.
func ValidName(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
