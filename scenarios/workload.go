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
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
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
// decoding problems, or one WorkloadError for the first invalid value.
func LoadWorkload(path string, cfg Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return &WorkloadError{File: path, Msg: fmt.Sprintf("cannot read workload: %v", errors.Unwrap(err))}
	}
	return DecodeWorkload(path, b, cfg)
}

// DecodeWorkload is LoadWorkload on bytes already read; name labels errors.
func DecodeWorkload(name string, data []byte, cfg Config) error {
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
