package launch

import (
	"bytes"
	"embed"
	"fmt"
	"text/template"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// host is the only address native brokers listen on and advertise.
const host = "127.0.0.1"

// Fixed ports, the same in native and compose mode.
const (
	PortActiveMQStomp    = 61613
	PortActiveMQOpenWire = 61616
	PortRabbitMQ         = 5672
	PortKafka            = 9092
	PortKafkaController  = 9093
	PortRocketMQNamesrv  = 9876
	PortRocketMQBroker   = 10911
)

// render executes templates/<name>.tmpl with data. Missing keys are errors.
func render(name string, data any) ([]byte, error) {
	t, err := template.New(name+".tmpl").Option("missingkey=error").ParseFS(templateFS, "templates/"+name+".tmpl")
	if err != nil {
		return nil, fmt.Errorf("parse template %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// renderedFile is one config file a broker needs, relative to its directory.
type renderedFile struct {
	path string
	data []byte
}

// brokerFiles renders every config file of broker name for a broker
// directory dir. It touches no disk.
func brokerFiles(name, dir string, asyncFlush bool) ([]renderedFile, error) {
	type spec struct {
		tmpl, path string
		data       any
	}
	var specs []spec
	switch name {
	case ActiveMQ:
		sync := "always"
		if asyncFlush {
			sync = "periodic"
		}
		specs = []spec{
			{"activemq.xml", "conf/activemq.xml", map[string]any{
				"Host": host, "StompPort": PortActiveMQStomp, "OpenWirePort": PortActiveMQOpenWire,
				"JournalSync": sync, "StoreLimit": "8 gb", "TempLimit": "2 gb", "DataDir": dir + "/data",
			}},
			{"activemq-log4j.properties", "conf/log4j.properties", map[string]any{"LogFile": dir + "/logs/activemq.log"}},
		}
	case RabbitMQ:
		specs = []spec{{"rabbitmq.conf", "conf/rabbitmq.conf", map[string]any{
			"Host": host, "Port": PortRabbitMQ, "MemoryHighWatermark": "2GiB", "DiskFreeLimit": "1GB",
		}}}
	case Kafka:
		specs = []spec{
			{"kafka-pom.xml", "pom.xml", map[string]any{"Version": KafkaVersion}},
			{"kafka-server.properties", "conf/server.properties", map[string]any{
				"Host": host, "Port": PortKafka, "ControllerPort": PortKafkaController, "DataDir": dir + "/data",
			}},
			{"kafka-log4j2.properties", "conf/log4j2.properties", map[string]any{"LogFile": dir + "/logs/server.log"}},
		}
	case RocketMQ:
		flush := "SYNC_FLUSH"
		if asyncFlush {
			flush = "ASYNC_FLUSH"
		}
		specs = []spec{
			{"rocketmq-pom.xml", "pom.xml", map[string]any{"Version": RocketMQVersion}},
			{"rocketmq-namesrv.conf", "conf/namesrv.conf", map[string]any{"Host": host, "NamesrvPort": PortRocketMQNamesrv, "Home": dir}},
			{"rocketmq-broker.conf", "conf/broker.conf", map[string]any{
				"Host": host, "NamesrvPort": PortRocketMQNamesrv, "Port": PortRocketMQBroker,
				"Home": dir, "StoreDir": dir + "/data/store", "FlushDiskType": flush,
			}},
			{"rocketmq-logback.xml", "conf/namesrv.logback.xml", map[string]any{"LogFile": dir + "/logs/namesrv.log"}},
			{"rocketmq-logback.xml", "conf/broker.logback.xml", map[string]any{"LogFile": dir + "/logs/broker.log"}},
		}
	default:
		return nil, fmt.Errorf("unknown broker %q", name)
	}
	out := make([]renderedFile, 0, len(specs))
	for _, s := range specs {
		b, err := render(s.tmpl, s.data)
		if err != nil {
			return nil, err
		}
		out = append(out, renderedFile{path: s.path, data: b})
	}
	return out, nil
}
