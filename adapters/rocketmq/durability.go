package rocketmq

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/rocketmq/internal/remoting"
)

// durabilityKeys are the broker settings that decide what a SEND_OK means.
func durabilityKeys() []string {
	return []string{"flushDiskType", "brokerRole", "syncFlushTimeout", "enableControllerMode",
		"allAckInSyncStateSet", "minInSyncReplicas", "inSyncReplicas"}
}

// Durability implements driver.DurabilityReader: each master's flush and
// replication settings, read now with GET_BROKER_CONFIG, and, for a broker
// group in controller mode, its replicas and sync state set as the
// controller leader reports them (CONTROLLER_GET_SYNC_STATE_DATA). RocketMQ
// sets them per broker group, not per topic, so dest only names what was
// asked about.
func (d *Driver) Durability(ctx context.Context, dest driver.Destination) (driver.Durability, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout())
	defer cancel()
	if err := d.refreshMasters(ctx); err != nil {
		return driver.Durability{}, fmt.Errorf("rocketmq: durability: %w", err)
	}
	masters := d.masters()
	set := map[string]string{}
	var sources []string
	for _, b := range masters {
		resp, err := d.admin.Invoke(ctx, b.addr, remoting.CodeGetBrokerConfig, nil, nil)
		if err != nil {
			return driver.Durability{}, fmt.Errorf("rocketmq broker %s config: %w", b.name, err)
		}
		conf := parseProperties(resp.Body)
		put := func(k, v string) {
			if len(masters) > 1 {
				k = b.name + "." + k
			}
			set[k] = v
		}
		for _, k := range durabilityKeys() {
			if v, ok := conf[k]; ok {
				put(k, v)
			}
		}
		if conf["enableControllerMode"] != "true" {
			continue
		}
		rs, leader, err := d.syncState(ctx, conf["controllerAddr"], b.name)
		if err != nil {
			return driver.Durability{}, fmt.Errorf("rocketmq broker %s sync state: %w", b.name, err)
		}
		put("syncStateSet", strings.Join(rs.inSync, ","))
		put("syncStateSetSize", strconv.Itoa(len(rs.inSync)))
		put("replicas", strconv.Itoa(len(rs.inSync)+len(rs.notInSync)))
		put("master", rs.master)
		sources = append(sources, "CONTROLLER_GET_SYNC_STATE_DATA on the controller leader "+leader)
	}
	du := rocketmqPromise(d.cfg.EffectiveProfile(), set, len(masters))
	if len(sources) > 0 {
		du.Source += "; " + strings.Join(sources, "; ")
	}
	return du, nil
}

// replicaState is one broker group's replicas as the controller reports
// them: addresses of the master, of the sync state set and of the others.
type replicaState struct {
	master            string
	inSync, notInSync []string
}

// syncState asks the controllers in controllerAddr (';'-separated) for the
// leader, then the leader for broker group name's replicas. It returns them
// with the leader's address.
func (d *Driver) syncState(ctx context.Context, controllerAddr, name string) (replicaState, string, error) {
	var leader string
	var errs []string
	for _, c := range strings.Split(controllerAddr, ";") {
		if c = strings.TrimSpace(c); c == "" {
			continue
		}
		resp, err := d.admin.Invoke(ctx, c, remoting.CodeControllerGetMetadata, nil, nil)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if leader = resp.ExtFields["controllerLeaderAddress"]; leader != "" {
			break
		}
	}
	if leader == "" {
		return replicaState{}, "", fmt.Errorf("no controller of %q names a leader (%s)", controllerAddr, strings.Join(errs, "; "))
	}
	body, err := json.Marshal([]string{name})
	if err != nil {
		return replicaState{}, "", err
	}
	resp, err := d.admin.Invoke(ctx, leader, remoting.CodeControllerGetSyncStateData, nil, body)
	if err != nil {
		return replicaState{}, "", err
	}
	rs, err := parseSyncState(resp.Body, name)
	return rs, leader, err
}

// parseSyncState decodes a BrokerReplicasInfo body for broker group name.
func parseSyncState(body []byte, name string) (replicaState, error) {
	type replica struct {
		BrokerAddress string `json:"brokerAddress"`
	}
	var info struct {
		ReplicasInfoTable map[string]struct {
			MasterAddress     string    `json:"masterAddress"`
			InSyncReplicas    []replica `json:"inSyncReplicas"`
			NotInSyncReplicas []replica `json:"notInSyncReplicas"`
		} `json:"replicasInfoTable"`
	}
	if err := unmarshalLoose(body, &info); err != nil {
		return replicaState{}, err
	}
	g, ok := info.ReplicasInfoTable[name]
	if !ok {
		return replicaState{}, fmt.Errorf("the controller does not know broker group %q", name)
	}
	rs := replicaState{master: g.MasterAddress}
	for _, r := range g.InSyncReplicas {
		rs.inSync = append(rs.inSync, r.BrokerAddress)
	}
	for _, r := range g.NotInSyncReplicas {
		rs.notInSync = append(rs.notInSync, r.BrokerAddress)
	}
	sort.Strings(rs.inSync)
	sort.Strings(rs.notInSync)
	return rs, nil
}

// rocketmqPromise derives the promise from the settings read back from n
// master brokers (keys prefixed with the broker group name when n > 1).
// A group replicates before SEND_OK when it runs in controller mode as a
// SYNC_MASTER with allAckInSyncStateSet=true: every replica of the sync
// state set has the message; Replicas is the smallest such set.
func rocketmqPromise(p driver.Profile, set map[string]string, n int) driver.Durability {
	du := driver.Durability{Settings: set, Source: "GET_BROKER_CONFIG on every master", Replicas: 1}
	get := func(k string) []string {
		var vs []string
		for key, v := range set {
			if key == k || strings.HasSuffix(key, "."+k) {
				vs = append(vs, v)
			}
		}
		return vs
	}
	all := func(k, want string) bool {
		vs := get(k)
		if len(vs) != n || n == 0 {
			return false
		}
		for _, v := range vs {
			if v != want {
				return false
			}
		}
		return true
	}
	du.Verified = n > 0 && len(get("flushDiskType")) == n
	du.Synced = du.Verified && all("flushDiskType", "SYNC_FLUSH")
	replicated := all("enableControllerMode", "true") && all("allAckInSyncStateSet", "true") && all("brokerRole", "SYNC_MASTER")
	if replicated {
		du.Replicas = 0
		for _, v := range get("syncStateSetSize") {
			if k, err := strconv.Atoi(v); err == nil && (du.Replicas == 0 || k < du.Replicas) {
				du.Replicas = k
			}
		}
		du.Verified = du.Verified && len(get("syncStateSetSize")) == n
		if du.Replicas == 0 {
			replicated, du.Replicas = false, 1
		}
	}
	min := strings.Join(get("minInSyncReplicas"), ",")
	switch {
	case p == driver.Unsafe:
		du.Synced, du.Replicas = false, 0
		du.Promise = "none: batches are sent one way (unsafe profile)"
	case replicated && du.Synced:
		du.Promise = fmt.Sprintf("fsynced by the master (flushDiskType=SYNC_FLUSH) and written by every replica of the sync state set (%d now, allAckInSyncStateSet=true, at least minInSyncReplicas=%s or the send fails) before SEND_OK", du.Replicas, min)
	case replicated:
		du.Promise = fmt.Sprintf("in the page cache of every replica of the sync state set (%d now, allAckInSyncStateSet=true) at SEND_OK; flushDiskType is not SYNC_FLUSH", du.Replicas)
	case du.Synced:
		du.Promise = "fsynced by the broker before SEND_OK (flushDiskType=SYNC_FLUSH)"
	default:
		du.Promise = "in the broker's page cache at SEND_OK (flushDiskType is not SYNC_FLUSH)"
	}
	return du
}
