#!/bin/sh
# Replay the inputs that once crashed a fuzz target: run_regress.sh EXE DIR
# Each file runs once; any crash, leak, sanitizer report or hang (-timeout)
# fails the test.
exe=$1 dir=$2
set -- "$dir"/*
if [ ! -e "$1" ]; then
	echo "no regression inputs in $dir"
	exit 0
fi
echo "replaying $# inputs from $dir"
exec "$exe" -timeout=60 -rss_limit_mb=4096 "$@"
