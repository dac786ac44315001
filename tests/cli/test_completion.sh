#!/usr/bin/env bash
# Shell completion comes from the option declarations: for every tool the
# generated bash function completes every long option of --help, and declared
# value sets complete their values; the zsh file names every option too (and
# parses, when zsh is installed).
. "$(dirname "$0")/lib.sh"
# complete_words TOOL WORD...: the bash completions for the last WORD.
complete_words() {
  local tool=$1; shift
  COMP_WORDS=("$tool" "$@")
  COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
  COMPREPLY=()
  "_${tool//-/_}"
  printf '%s\n' "${COMPREPLY[@]}"
}
found=0
for tool in "$ORBIT_BIN"/orbit-*; do
  name=$(basename "$tool")
  found=$((found + 1))
  "$tool" --help-completion bash > "$name.bash"
  "$tool" --help-completion zsh > "_$name"
  bash -n "$name.bash" || fail "$name: bash completion does not parse"
  . "./$name.bash"
  all=$(complete_words "$name" --)
  # The declared options: the names at the start of --help's option lines.
  for opt in $("$tool" --help | grep -oE -- '^ +(-[a-zA-Z], )?--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
    grep -qxF -- "$opt" <<<"$all" || fail "$name: $opt is in --help but not completed"
    grep -qF -- "$opt" "_$name" || fail "$name: $opt is in --help but not in the zsh completion"
  done
  if command -v zsh >/dev/null; then zsh -n "_$name" || fail "$name: zsh completion does not parse"; fi
done
((found >= 3)) || fail "no tools found in $ORBIT_BIN"
# Prefixes and declared values.
[[ $(complete_words orbit-canonicalize --fra) == "--frames" ]] || fail "prefix --fra does not complete to --frames"
vals=$(complete_words orbit-canonicalize --frames "")
grep -qx one <<<"$vals" && grep -qx all <<<"$vals" || fail "--frames values not completed: $vals"
vals=$(complete_words orbit-canonicalize --method m)
[[ $vals == mds ]] || fail "--method m does not complete to mds: $vals"
touch cloud_a.h5
[[ $(complete_words orbit-info cloud_) == cloud_a.h5 ]] || fail "positional arguments do not complete file names"
expect_error 2 orbit-info --help-completion fish
echo "completions agree with --help for $found tools"
