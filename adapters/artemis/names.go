package artemis

import (
	"fmt"
	"slices"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/stompclient"
)

// STOMP headers this adapter sets or reads beyond the standard ones.
const (
	hdrPersistent      = stompclient.HdrPersistent
	hdrDestinationType = "destination-type"  // SEND: the routing type of the address
	hdrSubscription    = "subscription-type" // SUBSCRIBE: the routing type of the queue
	hdrWindow          = "consumer-window-size"
	hdrGroupID         = stompclient.HdrGroupID
	hdrReplyTo         = "reply-to"
	multicast          = "MULTICAST"
)

// groupSep separates the destination and the group in a queue name. It is
// not a character of valid names, so queue names are injective.
const groupSep = "~"

// queueName is the durable multicast queue of group g on address name.
func queueName(name, g string) string { return name + groupSep + g }

// fqqn is the fully qualified queue name consumers of group g subscribe to:
// the group's own queue on the destination's address.
func fqqn(name, g string) string { return name + "::" + queueName(name, g) }

// checkDest validates dest for this broker.
func checkDest(dest driver.Destination) error {
	if !stompclient.ValidName(dest.Name) {
		return fmt.Errorf("artemis: invalid destination name %q (letters, digits, '-', '_', '.'; 1-200 bytes)", dest.Name)
	}
	if len(dest.Groups) == 0 {
		return fmt.Errorf("artemis: destination %q has no groups", dest.Name)
	}
	for _, g := range dest.Groups {
		if !stompclient.ValidName(g) {
			return fmt.Errorf("artemis: invalid group name %q (letters, digits, '-', '_', '.'; 1-200 bytes)", g)
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
		return fmt.Errorf("artemis: group %q is not one of destination %q's groups %v", group, dest.Name, dest.Groups)
	}
	return nil
}
