#!/usr/bin/env bash
# Configures and builds warren with CMake and Ninja into build/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

BUILD_DIR="${WARREN_BUILD_DIR:-$WARREN_ROOT/build}"
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S "$WARREN_ROOT" -B "$BUILD_DIR" -G Ninja -DWARREN_WERROR=ON ${WARREN_CMAKE_ARGS:-} >/dev/null
fi
cmake --build "$BUILD_DIR"
