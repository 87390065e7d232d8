#!/bin/bash
cat > /app/textlib.sh <<'SH'
# Text helpers, sourced by other scripts.

shout() {
  echo "$*" | tr 'a-z' 'A-Z'
}

reverse_words() {
  local out=() i
  for ((i = $#; i >= 1; i--)); do out+=("${!i}"); done
  echo "${out[*]}"
}

count_vowels() {
  local only="${1//[^aeiouAEIOU]/}"
  echo "${#only}"
}
SH
