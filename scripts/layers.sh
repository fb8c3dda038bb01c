#!/usr/bin/env bash
# The layering rule from design.md: domain is pure (standard library only),
# and no package imports one above it.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
fail=0
bad=$(go list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' ./domain/... | grep -v "^$mod/domain" || true)
if [ -n "$bad" ]; then echo "domain must import only the standard library, but imports:"; echo "$bad"; fail=1; fi
check() { # package, forbidden import prefixes...
  local pkg=$1; shift
  for f in "$@"; do
    if go list -f '{{join .Imports "\n"}}' "./$pkg/..." 2>/dev/null | grep -q "^$mod/$f"; then
      echo "$pkg must not import $f"; fail=1
    fi
  done
}
check eventstore projections http cmd
check projections http cmd
check http cmd
exit $fail
