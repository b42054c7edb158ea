#!/usr/bin/env bash
# The staleness stamp of the compiled JavaScript in dist/ (`npm run build`, tsconfig.build.json):
# a hash of every TypeScript source the build reads (scripts/, stacks/, infra/, policy/), the
# tsconfig files and package-lock.json (the dependencies' types).
#   bash scripts/toolchain/build-stamp.sh write   records the sources' hash in dist/.source-hash (after a build)
#   bash scripts/toolchain/build-stamp.sh check   exit 0 when dist/ was built from exactly these sources
#   bash scripts/toolchain/build-stamp.sh hash    prints the hash
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
stamp=dist/.source-hash

sources_hash() {
  {
    find scripts stacks infra policy -name '*.ts' \
      -not -path '*/node_modules/*' -not -path 'policy/dist/*' -not -name '*.d.ts' -print0 |
      LC_ALL=C sort -z | xargs -0 sha256sum
    sha256sum tsconfig.json tsconfig.build.json package-lock.json
  } | sha256sum | cut -c1-32
}

case "${1:-}" in
  write) mkdir -p dist && sources_hash >"$stamp" ;;
  check) [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(sources_hash)" ] ;;
  hash) sources_hash ;;
  *) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
