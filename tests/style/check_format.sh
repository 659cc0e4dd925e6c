#!/bin/sh
# Every tracked C file is formatted as .clang-format says.
cd "$1" || exit 1
files=$(git ls-files '*.c' '*.h' 2>/dev/null)
[ -n "$files" ] || files=$(find src include tests fuzz bench -name '*.[ch]' 2>/dev/null)
clang-format --dry-run --Werror $files
