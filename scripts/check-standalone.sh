#!/usr/bin/env bash
# `make check-standalone`: the repository must stand on its own. Fails when a tracked file outside
# tests/corpus (third-party files, copied unchanged) names a sibling directory of the checkout or an
# absolute path of a development machine. The patterns are assembled so this script does not match itself.
set -euo pipefail
cd "$(dirname "$0")/.."
sibling='\.\./'"shared"
devpath='/'"work"'/'
if hits=$(git grep -n -I -E -e "$sibling" -e "$devpath" -- . ':(exclude)tests/corpus'); then
  echo "check-standalone: these tracked files point outside the repository:" >&2
  echo "$hits" >&2
  echo "Put what they need into the repository (docs/, tests/) and refer to it by a repository-relative path." >&2
  exit 1
fi
echo "check-standalone: no tracked file outside tests/corpus refers to a sibling checkout or a development-machine path"
