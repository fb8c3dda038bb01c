// Package migrations holds the numbered SQL files that build cxsms's schema.
// They are embedded in the binary and applied in order by eventstore.Migrate,
// both by `cxsms migrate` and when `cxsms serve` starts.
package migrations

import "embed"

// FS holds every NNNN_name.sql file of this folder.
//
//go:embed *.sql
var FS embed.FS
