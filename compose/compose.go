// Package compose holds mqbench's Docker Compose file for the four brokers
// (docker-compose.yml beside this file), embedded so the mqbench binary can
// run `docker compose` from any directory.
package compose

import _ "embed"

//go:embed docker-compose.yml
var file []byte

// Project is the Compose project name mqbench uses.
const Project = "mqbench"

// File returns a copy of the embedded docker-compose.yml.
func File() []byte { return append([]byte(nil), file...) }
