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
	s, ok := Find(name)
	if !ok {
		return nil, fmt.Errorf("unknown broker %q", name)
	}
	return renderFiles(s, dir, asyncFlush)
}

// renderFiles renders the config files of s for a broker directory dir. It
// touches no disk.
func renderFiles(s Spec, dir string, asyncFlush bool) ([]renderedFile, error) {
	specs := s.files(dir, asyncFlush)
	out := make([]renderedFile, 0, len(specs))
	for _, f := range specs {
		if f.tmpl == "" {
			out = append(out, renderedFile{path: f.path, data: append([]byte(nil), f.raw...)})
			continue
		}
		b, err := render(f.tmpl, f.data)
		if err != nil {
			return nil, err
		}
		out = append(out, renderedFile{path: f.path, data: b})
	}
	return out, nil
}
