package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// WorkloadError is a problem in a workload file, with the line it is on
// when known. Its message is "file:line: problem".
type WorkloadError struct {
	File string
	Line int // 0 when unknown
	Msg  string
}

func (e *WorkloadError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, Clip(e.Msg))
	}
	return fmt.Sprintf("%s: %s", e.File, Clip(e.Msg))
}

// clipMax is the longest message Clip leaves whole.
const clipMax = 400

// Clip shortens a message that echoes a huge value (a multi-megabyte
// field in a workload file, say) to its head and tail around a note of
// how much was left out, so an error stays readable on one screen.
func Clip(msg string) string {
	if len(msg) <= clipMax {
		return msg
	}
	head, tail := msg[:clipMax*2/3], msg[len(msg)-clipMax/4:]
	for !utf8.ValidString(head) {
		head = head[:len(head)-1]
	}
	for !utf8.ValidString(tail) {
		tail = tail[1:]
	}
	return fmt.Sprintf("%s…[%d bytes left out]…%s", head, len(msg)-len(head)-len(tail), tail)
}

// WorkloadErrors lists every problem found in one workload file.
type WorkloadErrors []*WorkloadError

func (es WorkloadErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// LoadWorkload decodes the YAML workload file at path strictly into cfg
// (unknown fields, wrong types and syntax errors are errors) and validates
// the result. Errors name the file and line: a WorkloadErrors listing all
// decoding problems, or one WorkloadError for the first invalid value, for
// a file holding more than one YAML document, or for a file whose
// scenario key names another scenario than cfg's (when cfg's is set).
func LoadWorkload(path string, cfg Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return &WorkloadError{File: path, Msg: fmt.Sprintf("cannot read workload: %v", errors.Unwrap(err))}
	}
	return DecodeWorkload(path, b, cfg)
}

// DecodeWorkload is LoadWorkload on bytes already read; name labels errors.
func DecodeWorkload(name string, data []byte, cfg Config) error {
	if err := checkShape(name, data, cfg.Base().Scenario); err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			var out WorkloadErrors
			for _, m := range te.Errors {
				out = append(out, lineError(name, m))
			}
			return out
		}
		return WorkloadErrors{lineError(name, err.Error())}
	}
	if err := cfg.Validate(); err != nil {
		we := &WorkloadError{File: name, Msg: err.Error()}
		var fe *FieldError
		if errors.As(err, &fe) {
			we.Line = keyLine(data, fe.Field)
		}
		return we
	}
	return nil
}

// checkShape rejects, each with one line, a file of more than one YAML
// document (the others would be silently ignored) and a file whose
// scenario key names another scenario than want (when want is set), before
// its fields are reported one by one as unknown.
func checkShape(name string, data []byte, want string) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return WorkloadErrors{lineError(name, err.Error())}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return &WorkloadError{File: name, Line: next.Line, Msg: "a second YAML document: a workload file holds one (remove the '---' and what follows, or split the file)"}
	case !errors.Is(err, io.EOF):
		return WorkloadErrors{lineError(name, err.Error())}
	}
	if want == "" || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k, v := m.Content[i], m.Content[i+1]; k.Value == "scenario" && v.Kind == yaml.ScalarNode && v.Value != "" && v.Value != want {
			return &WorkloadError{File: name, Line: k.Line, Msg: fmt.Sprintf("workload is for scenario %q, not %q", v.Value, want)}
		}
	}
	return nil
}

func lineError(file, msg string) *WorkloadError {
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &WorkloadError{File: file, Line: n, Msg: m[2]}
	}
	return &WorkloadError{File: file, Msg: strings.TrimPrefix(msg, "yaml: ")}
}

// keyLine finds the line of a top-level key in a YAML document, 0 if absent.
func keyLine(data []byte, key string) int {
	var n yaml.Node
	if yaml.Unmarshal(data, &n) != nil || len(n.Content) == 0 {
		return 0
	}
	m := n.Content[0]
	if m.Kind != yaml.MappingNode {
		return 0
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i].Line
		}
	}
	return 0
}
