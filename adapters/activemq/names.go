package activemq

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/mqbench/mqbench/adapters/driver"
)

// STOMP headers this adapter sets or reads beyond the standard ones.
const (
	hdrPersistent  = "persistent"
	hdrPrefetch    = "activemq.prefetchSize"
	hdrSelector    = "selector"
	hdrGroupID     = "JMSXGroupID"
	hdrRedelivered = "redelivered"
	hdrKey         = "mqbench-key"
	hdrKeyHex      = "mqbench-key-hex"
	hdrNacked      = "mqbench-redelivered"
)

// neverSelector matches no message: Provision subscribes with it to create a
// group queue without taking any message from it.
const neverSelector = "mqbenchProvision = 'never-matches'"

// topicDest is where producers of dest send.
func topicDest(name string) string { return "/topic/VirtualTopic." + name }

// groupQueue is the queue group g of dest name consumes.
func groupQueue(name, g string) string {
	return "/queue/Consumer." + escapeGroup(g) + ".VirtualTopic." + name
}

// escapeGroup makes a group name one dot-free name segment, injectively.
func escapeGroup(g string) string {
	if !strings.ContainsAny(g, "._") {
		return g
	}
	var b strings.Builder
	for i := 0; i < len(g); i++ {
		switch g[i] {
		case '_':
			b.WriteString("__")
		case '.':
			b.WriteString("_d")
		default:
			b.WriteByte(g[i])
		}
	}
	return b.String()
}

// validName reports whether s is non-empty and made of letters, digits,
// '-', '_' and '.'.
func validName(s string) bool {
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

// checkDest validates dest for this broker.
func checkDest(dest driver.Destination) error {
	if !validName(dest.Name) {
		return fmt.Errorf("activemq: invalid destination name %q (letters, digits, '-', '_', '.'; 1-200 bytes)", dest.Name)
	}
	if strings.HasPrefix(dest.Name, ".") || strings.HasSuffix(dest.Name, ".") || strings.Contains(dest.Name, "..") {
		return fmt.Errorf("activemq: invalid destination name %q: empty name segment between dots", dest.Name)
	}
	if len(dest.Groups) == 0 {
		return fmt.Errorf("activemq: destination %q has no groups", dest.Name)
	}
	for _, g := range dest.Groups {
		if !validName(g) {
			return fmt.Errorf("activemq: invalid group name %q (letters, digits, '-', '_', '.'; 1-200 bytes)", g)
		}
	}
	return nil
}

// checkGroup validates dest and that group is one of its groups.
func checkGroup(dest driver.Destination, group string) error {
	if err := checkDest(dest); err != nil {
		return err
	}
	if !slices.Contains(dest.Groups, group) {
		return fmt.Errorf("activemq: group %q is not one of destination %q's groups %v", group, dest.Name, dest.Groups)
	}
	return nil
}

// encodeKey returns the header carrying key and its value: the key itself
// when it is valid UTF-8 without NUL (STOMP headers are UTF-8), else its hex.
func encodeKey(key []byte) (header, value string) {
	if utf8.Valid(key) && !slices.Contains(key, 0) {
		return hdrKey, string(key)
	}
	return hdrKeyHex, hex.EncodeToString(key)
}

// errBadKey means a delivery's key header could not be decoded.
var errBadKey = errors.New("bad mqbench-key-hex header")

// decodeKey is the inverse of encodeKey; nil when neither header is set.
func decodeKey(get func(string) (string, bool)) ([]byte, error) {
	if v, ok := get(hdrKey); ok {
		return []byte(v), nil
	}
	if v, ok := get(hdrKeyHex); ok {
		b, err := hex.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errBadKey, err)
		}
		return b, nil
	}
	return nil, nil
}
