package rocketmq

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/mqbench/mqbench/adapters/rocketmq/internal/remoting"
)

// Administration through the remoting protocol. Every call is bounded by the
// ctx it is given; callers wrap it with opCtx.

// RocketMQ permission bits.
const (
	permRead  = 4
	permWrite = 2
)

func unmarshalLoose(body []byte, v any) error {
	if err := json.Unmarshal(remoting.LooseJSON(body), v); err != nil {
		return fmt.Errorf("decode rocketmq response: %w", err)
	}
	return nil
}

// clusterInfo asks the name server for the master broker of every broker
// name, sorted by name.
func (d *Driver) clusterInfo(ctx context.Context) ([]brokerInfo, error) {
	resp, err := d.nameServerInvoke(ctx, remoting.CodeGetBrokerClusterInfo, nil, nil)
	if err != nil {
		return nil, err
	}
	return parseClusterInfo(resp.Body)
}

func parseClusterInfo(body []byte) ([]brokerInfo, error) {
	var ci struct {
		BrokerAddrTable map[string]struct {
			BrokerName  string            `json:"brokerName"`
			BrokerAddrs map[string]string `json:"brokerAddrs"`
		} `json:"brokerAddrTable"`
	}
	if err := unmarshalLoose(body, &ci); err != nil {
		return nil, err
	}
	var out []brokerInfo
	for name, b := range ci.BrokerAddrTable {
		if addr := b.BrokerAddrs["0"]; addr != "" { // broker id 0 is the master
			out = append(out, brokerInfo{name: name, addr: addr})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// queueData is one broker's share of a topic route.
type queueData struct {
	BrokerName     string `json:"brokerName"`
	ReadQueueNums  int    `json:"readQueueNums"`
	WriteQueueNums int    `json:"writeQueueNums"`
	Perm           int    `json:"perm"`
}

// route asks the name server for a topic's queues. A topic the name server
// does not know is reported as remoting.TopicNotExist.
func (d *Driver) route(ctx context.Context, topic string) ([]queueData, error) {
	resp, err := d.nameServerInvoke(ctx, remoting.CodeGetRouteInfoByTopic, map[string]string{"topic": topic}, nil)
	if err != nil {
		return nil, err
	}
	var rd struct {
		QueueDatas []queueData `json:"queueDatas"`
	}
	if err := unmarshalLoose(resp.Body, &rd); err != nil {
		return nil, err
	}
	return rd.QueueDatas, nil
}

func (d *Driver) createTopic(ctx context.Context, addr, topic string, queues int) error {
	q := strconv.Itoa(queues)
	_, err := d.admin.Invoke(ctx, addr, remoting.CodeUpdateAndCreateTopic, map[string]string{
		"topic":           topic,
		"defaultTopic":    "TBW102",
		"readQueueNums":   q,
		"writeQueueNums":  q,
		"perm":            strconv.Itoa(permRead | permWrite),
		"topicFilterType": "SINGLE_TAG",
		"topicSysFlag":    "0",
		"order":           "false",
	}, nil)
	if err != nil {
		return fmt.Errorf("create topic %s on %s: %w", topic, addr, err)
	}
	return nil
}

// subscriptionGroup is the body of UPDATE_AND_CREATE_SUBSCRIPTIONGROUP
// (RocketMQ's SubscriptionGroupConfig); fields left out take the broker's
// defaults.
type subscriptionGroup struct {
	GroupName                      string `json:"groupName"`
	ConsumeEnable                  bool   `json:"consumeEnable"`
	ConsumeFromMinEnable           bool   `json:"consumeFromMinEnable"`
	ConsumeBroadcastEnable         bool   `json:"consumeBroadcastEnable"`
	RetryQueueNums                 int    `json:"retryQueueNums"`
	RetryMaxTimes                  int    `json:"retryMaxTimes"`
	BrokerID                       int    `json:"brokerId"`
	WhichBrokerWhenConsumeSlowly   int    `json:"whichBrokerWhenConsumeSlowly"`
	NotifyConsumerIdsChangedEnable bool   `json:"notifyConsumerIdsChangedEnable"`
}

func (d *Driver) createGroup(ctx context.Context, addr, group string) error {
	body, err := json.Marshal(subscriptionGroup{
		GroupName:                      group,
		ConsumeEnable:                  true,
		ConsumeFromMinEnable:           true,
		ConsumeBroadcastEnable:         true,
		RetryQueueNums:                 1,
		RetryMaxTimes:                  MaxReconsumeTimes,
		WhichBrokerWhenConsumeSlowly:   1,
		NotifyConsumerIdsChangedEnable: true,
	})
	if err != nil {
		return err
	}
	if _, err := d.admin.Invoke(ctx, addr, remoting.CodeUpdateAndCreateSubGrp, nil, body); err != nil {
		return fmt.Errorf("create subscription group %s on %s: %w", group, addr, err)
	}
	return nil
}

func (d *Driver) deleteGroup(ctx context.Context, addr, group string) error {
	_, err := d.admin.Invoke(ctx, addr, remoting.CodeDeleteSubscriptionGrp,
		map[string]string{"groupName": group, "cleanOffset": "true"}, nil)
	if err != nil {
		return fmt.Errorf("delete subscription group %s on %s: %w", group, addr, err)
	}
	return nil
}

func (d *Driver) deleteTopic(ctx context.Context, addr, topic string) error {
	if _, err := d.admin.Invoke(ctx, addr, remoting.CodeDeleteTopicInBroker, map[string]string{"topic": topic}, nil); err != nil {
		return fmt.Errorf("delete topic %s on %s: %w", topic, addr, err)
	}
	// Every name server holds the route: delete it from each.
	for _, ns := range d.namesrvs {
		if _, err := d.admin.Invoke(ctx, ns, remoting.CodeDeleteTopicInNamesrv, map[string]string{"topic": topic}, nil); err != nil {
			return fmt.Errorf("delete topic %s on name server %s: %w", topic, ns, err)
		}
	}
	return nil
}

// maxOffset is the offset one past the last message of a queue.
func (d *Driver) maxOffset(ctx context.Context, addr, brokerName, topic string, queue int) (int64, error) {
	resp, err := d.admin.Invoke(ctx, addr, remoting.CodeGetMaxOffset, map[string]string{
		"topic": topic, "queueId": strconv.Itoa(queue), "bname": brokerName,
	}, nil)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(resp.ExtFields["offset"], 10, 64)
}

// minOffset is the offset of the oldest message retained in a queue.
func (d *Driver) minOffset(ctx context.Context, addr, brokerName, topic string, queue int) (int64, error) {
	resp, err := d.admin.Invoke(ctx, addr, remoting.CodeGetMinOffset, map[string]string{
		"topic": topic, "queueId": strconv.Itoa(queue), "bname": brokerName,
	}, nil)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(resp.ExtFields["offset"], 10, 64)
}

// consumerOffset is a group's committed position in a queue, or -1 when the
// group has none.
func (d *Driver) consumerOffset(ctx context.Context, addr, brokerName, group, topic string, queue int) (int64, error) {
	resp, err := d.admin.Invoke(ctx, addr, remoting.CodeQueryConsumerOffset, map[string]string{
		"consumerGroup": group, "topic": topic, "queueId": strconv.Itoa(queue), "bname": brokerName,
		"setZeroIfNotFound": "false",
	}, nil)
	if remoting.IsCode(err, remoting.QueryNotFound) {
		return -1, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(resp.ExtFields["offset"], 10, 64)
}

func (d *Driver) commitOffset(ctx context.Context, addr, brokerName, group, topic string, queue int, offset int64) error {
	_, err := d.admin.Invoke(ctx, addr, remoting.CodeUpdateConsumerOffset, map[string]string{
		"consumerGroup": group, "topic": topic, "queueId": strconv.Itoa(queue),
		"commitOffset": strconv.FormatInt(offset, 10), "bname": brokerName,
	}, nil)
	if err != nil {
		return fmt.Errorf("commit offset of %s on %s[%d]: %w", group, topic, queue, err)
	}
	return nil
}

// sendBack asks the broker to redeliver a consumed message to group later
// (CONSUMER_SEND_MSG_BACK): through %RETRY%group after delayLevel, or to
// %DLQ%group once it was reconsumed maxReconsume times.
func (d *Driver) sendBack(ctx context.Context, addr string, h sendBackHeader) error {
	_, err := d.admin.Invoke(ctx, addr, remoting.CodeConsumerSendMsgBack, map[string]string{
		"offset":            strconv.FormatInt(h.commitLogOffset, 10),
		"group":             h.group,
		"delayLevel":        strconv.Itoa(h.delayLevel),
		"originMsgId":       h.originMsgID,
		"originTopic":       h.originTopic,
		"unitMode":          "false",
		"maxReconsumeTimes": strconv.Itoa(h.maxReconsume),
		"bname":             h.brokerName,
	}, nil)
	if err != nil {
		return fmt.Errorf("send message back to %s: %w", addr, err)
	}
	return nil
}

type sendBackHeader struct {
	commitLogOffset int64
	group           string
	delayLevel      int
	originMsgID     string
	originTopic     string
	maxReconsume    int
	brokerName      string
}

// brokerAddr returns the master address of a broker name, or "".
func (d *Driver) brokerAddr(name string) string {
	for _, b := range d.masters() {
		if b.name == name {
			return b.addr
		}
	}
	return ""
}
