#!/usr/bin/env bash
# npm run demo: a whole migration on a throw-away test cluster, in a few minutes (see test/testbed/demo.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -d node_modules ]]; then
  echo "error: the dependencies are not installed; run \`npm ci\` first" >&2
  exit 1
fi
echo "Building the CLI…"
npm run --silent build
npx tsc -p test/testbed/tsconfig.json
exec node .testbed/build/demo.js "$@"
