#!/usr/bin/env bash
# Written by channels-buildpack (CNB exec.d, web processes only; do not edit).
# WEB_CONCURRENCY when you have not set it, the way heroku/python's classic buildpack sets it
# from .profile.d: the lower of 2 x CPUs + 1 and memory MB / 256 (a 512 MB dyno: 2). With no
# memory limit to read it stays unset (one process). Output: TOML on file descriptor 3.
set -euo pipefail
[[ -z ${WEB_CONCURRENCY:-} ]] || exit 0
limit=""
for file in /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes; do
  if [[ -r $file ]]; then
    limit=$(<"$file")
    break
  fi
done
[[ $limit =~ ^[0-9]+$ ]] || exit 0
megabytes=$((limit / 1048576))
((megabytes > 0 && megabytes < 1048576)) || exit 0 # cgroup v1 reports "no limit" as ~8 EiB
cpus=$(nproc 2>/dev/null || echo 1)
processes=$((cpus * 2 + 1))
((megabytes / 256 < processes)) && processes=$((megabytes / 256))
((processes >= 1)) || processes=1
printf 'WEB_CONCURRENCY = "%d"\n' "$processes" >&3
