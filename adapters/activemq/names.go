package activemq

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/stompclient"
)

// STOMP headers this adapter sets or reads beyond the standard ones.
const (
	hdrPersistent = stompclient.HdrPersistent
	hdrPrefetch   = "activemq.prefetchSize"
	hdrSelector   = "selector"
	hdrGroupID    = stompclient.HdrGroupID
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

// checkDest validates dest for this broker.
func checkDest(dest driver.Destination) error {
	if !stompclient.ValidName(dest.Name) {
		return fmt.Errorf("activemq: invalid destination name %q (letters, digits, '-', '_', '.'; 1-200 bytes)", dest.Name)
	}
	if strings.HasPrefix(dest.Name, ".") || strings.HasSuffix(dest.Name, ".") || strings.Contains(dest.Name, "..") {
		return fmt.Errorf("activemq: invalid destination name %q: empty name segment between dots", dest.Name)
	}
	if len(dest.Groups) == 0 {
		return fmt.Errorf("activemq: destination %q has no groups", dest.Name)
	}
	for _, g := range dest.Groups {
		if !stompclient.ValidName(g) {
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
