#!/bin/bash
# Verifier: run every case under /tests/data, write the share that passed to reward.json.
mkdir -p /logs/verifier
python3 /tests/check_stats.py /tests/data /app/wordstats.py > /logs/verifier/check.log 2>&1
status=$?
cat /logs/verifier/check.log
exit $status
