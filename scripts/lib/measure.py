#!/usr/bin/env python3
"""Runs a command and prints one JSON line on stderr: wall seconds, CPU seconds (user + system of
the command and its children) and peak RSS (MiB) — from wait4's rusage, no extra packages.
The command's stdout passes through.  Usage: measure.py LABEL COMMAND [ARGS...]"""
import json, os, sys, time

label, command = sys.argv[1], sys.argv[2:]
start = time.monotonic()
pid = os.fork()
if pid == 0:
    os.execvp(command[0], command)
_, status, usage = os.wait4(pid, 0)
wall = time.monotonic() - start
print(json.dumps({"label": label, "wall": round(wall, 3), "cpu": round(usage.ru_utime + usage.ru_stime, 3),
                  "rss_mib": round(usage.ru_maxrss / 1024, 1), "status": os.waitstatus_to_exitcode(status)}),
      file=sys.stderr, flush=True)
sys.exit(os.waitstatus_to_exitcode(status))
