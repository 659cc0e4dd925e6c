#!/bin/sh
# Bounded fuzz run: run_fuzz.sh EXE WORK_CORPUS SEED_CORPUS SECONDS
exe=$1 work=$2 seeds=$3 secs=$4
mkdir -p "$work"
echo "fuzzing $(basename "$exe") for ${secs}s (seeds: $seeds)"
exec "$exe" -max_total_time="$secs" -rss_limit_mb=4096 -timeout=20 -print_final_stats=1 \
	-artifact_prefix="$work/../" "$work" "$seeds"
