package launch

import (
	"net"
	"slices"
	"strings"
	"testing"
)

// TestSpecs: every row of the table is complete, names are unique, the
// client port is one of the handshake ports and the config renders in both
// flush modes.
func TestSpecs(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Specs() {
		t.Run(s.Name, func(t *testing.T) {
			if s.Name == "" || seen[s.Name] || s.Name != strings.ToLower(s.Name) {
				t.Fatalf("name %q: want unique, non-empty, lower case", s.Name)
			}
			seen[s.Name] = true
			if got, ok := Find(s.Name); !ok || got.Name != s.Name {
				t.Errorf("Find(%q) = %v", s.Name, ok)
			}
			if rel := s.NativeRelease(); rel == "?" || (s.Version != "" && rel != s.Version) || (s.Version == "" && len(s.apt) == 0) {
				t.Errorf("NativeRelease() = %q: want Version %q, or the Debian package when Version is empty", rel, s.Version)
			}
			if s.Title == "" || len(s.procs) == 0 || len(s.checks) == 0 || len(s.logs) == 0 ||
				s.files == nil || s.start == nil || s.durability == nil || s.wantDurability == nil {
				t.Errorf("incomplete spec %+v", s)
			}
			if !slices.Contains(s.Ports(ModeNative), s.ClientPort) {
				t.Errorf("client port %d is not one of the handshake ports %v", s.ClientPort, s.Ports(ModeNative))
			}
			if _, port, _ := net.SplitHostPort(s.Addr()); port == "" || !strings.HasPrefix(s.Addr(), host+":") {
				t.Errorf("Addr() = %q, want %s:<client port>", s.Addr(), host)
			}
			for _, async := range []bool{false, true} {
				if files, err := renderFiles(s, "/state/"+s.Name, async); err != nil || len(files) == 0 {
					t.Errorf("renderFiles(async=%v) = %d files, %v", async, len(files), err)
				}
			}
		})
	}
	if !slices.Equal(Names(), []string{ActiveMQ, RabbitMQ, Kafka, RocketMQ, Artemis}) {
		t.Errorf("Names() = %v", Names())
	}
	if _, ok := Find("pulsar"); ok {
		t.Error("Find found an unknown broker")
	}
}

// loopback reports whether a rendered address is a loopback one: an IP,
// "localhost" or an Erlang tuple such as {127,0,0,1}.
func loopback(addr string) bool {
	if addr == "localhost" {
		return true
	}
	if strings.HasPrefix(addr, "{") && strings.HasSuffix(addr, "}") {
		addr = strings.ReplaceAll(strings.Trim(addr, "{}"), ",", ".")
	}
	ip := net.ParseIP(strings.Trim(addr, "[]"))
	return ip != nil && ip.IsLoopback()
}

// TestListenersOnLoopback renders every broker's config and environment and
// checks that each socket it listens on, and each address it advertises, is
// set to a loopback address; that every port it holds is accounted for; and
// that the only exceptions are the documented ones, which Status reports.
func TestListenersOnLoopback(t *testing.T) {
	// Ports a broker opens on every interface because it has no setting to
	// prevent it. Each must be explained in the spec (Status shows it) and
	// in compose/README.md.
	wantExposed := map[string][]int{RocketMQ: {portRocketMQHA}}
	for _, s := range Specs() {
		t.Run(s.Name, func(t *testing.T) {
			dir := "/state/" + s.Name
			files, err := renderFiles(s, dir, false)
			if err != nil {
				t.Fatal(err)
			}
			text := map[string]string{}
			for _, f := range files {
				text[f.path] = string(f.data)
				for _, wild := range []string{"0.0.0.0", "[::]", "://:"} {
					if strings.Contains(text[f.path], wild) {
						t.Errorf("%s contains the wildcard address %q", f.path, wild)
					}
				}
			}
			if s.env != nil {
				text[envFile] = strings.Join(s.env(dir), "\n")
			}
			covered := map[int]bool{}
			var exposed []int
			for _, b := range s.binds {
				covered[b.port] = true
				if b.exposed != "" {
					exposed = append(exposed, b.port)
					if b.file != "" || b.setting != nil {
						t.Errorf("port %d: exposed, yet a setting is named", b.port)
					}
					continue
				}
				src, ok := text[b.file]
				if !ok {
					t.Errorf("%s (port %d): no rendered %s", b.role, b.port, b.file)
					continue
				}
				m := b.setting.FindStringSubmatch(src)
				if m == nil {
					t.Errorf("%s (port %d): %s lacks %s", b.role, b.port, b.file, b.setting)
					continue
				}
				if !loopback(m[1]) {
					t.Errorf("%s (port %d): %s sets %q, not a loopback address", b.role, b.port, b.file, m[1])
				}
			}
			for _, p := range append(s.Ports(ModeNative), s.extraPorts...) {
				if !covered[p] {
					t.Errorf("port %d: no bind setting and no documented exception", p)
				}
			}
			if !slices.Equal(exposed, wantExposed[s.Name]) {
				t.Errorf("ports on every interface %v, want %v", exposed, wantExposed[s.Name])
			}
			notes := strings.Join(s.Exposed(), "\n")
			for _, p := range exposed {
				if !strings.Contains(notes, "port "+itoa(p)+" ") {
					t.Errorf("Exposed() does not name port %d: %q", p, notes)
				}
			}
		})
	}
}

func itoa(i int) string { return joinInts([]int{i}) }
