# Text helpers, sourced by other scripts.

shout() {
  echo "$1" | tr 'a-z' 'A-Z'
}

reverse_words() {
  echo "$@"
}

count_vowels() {
  echo "${#1}"
}
