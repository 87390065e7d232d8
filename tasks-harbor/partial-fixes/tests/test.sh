#!/bin/bash
# Verifier: one point per helper that behaves; the reward is the share of points.
mkdir -p /logs/verifier
source /app/textlib.sh
points=0
check() { # check NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then points=$((points + 1)); echo "PASS $1"; else echo "FAIL $1: want '$2' got '$3'"; fi
}
check shout "HELLO BIG WORLD" "$(shout hello big World)"
check reverse_words "c b a" "$(reverse_words a b c)"
check count_vowels "5" "$(count_vowels 'Education')"
case $points in
  3) reward=1 ;;
  2) reward=0.667 ;;
  1) reward=0.333 ;;
  *) reward=0 ;;
esac
echo "$reward" > /logs/verifier/reward.txt
echo "$points passed, $((3 - points)) failed"
