//go:build tools

// Package tools pins the restic command this wrapper module builds for the
// vault benchmark (bench/vault), so that `go mod tidy` keeps its dependencies
// in go.sum.
package tools

import (
	_ "github.com/restic/restic/cmd/restic"
)
