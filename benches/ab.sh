#!/bin/bash
# Interleaved A/B of builds of `mp-scenarios`, normalised by a reference in
# every round (the docs' "pinned, interleaved with raw in every round, order
# flipped"):
#
#   benches/ab.sh [--unpinned] ROUNDS ID REF BIN...
#
# Each round runs `REF ID` and `BIN ID` for every BIN, in the listed order in
# odd rounds and reversed in even ones, each under `taskset -c 0` unless
# --unpinned, and takes each value over REF's value of the same round. Prints
# per program the median, min and max of those ratios. REF is usually a
# one-line wrapper that runs the raw limit of the same build:
#   printf '#!/bin/bash\nexec /tmp/mp-base raw:$1\n' > /tmp/raw.sh
set -euo pipefail
pin=(taskset -c 0)
if [[ "${1:-}" == --unpinned ]]; then pin=(); shift; fi
rounds=$1; id=$2; shift 2
bins=("$@")
declare -A ratios
for r in $(seq "$rounds"); do
  if (( r % 2 )); then order=("${bins[@]}"); else order=($(printf '%s\n' "${bins[@]}" | tac)); fi
  declare -A value
  for b in "${order[@]}"; do value[$b]=$("${pin[@]}" "$b" "$id" | awk '{print $3}'); done
  for b in "${bins[@]}"; do
    ratios[$b]="${ratios[$b]:-} $(python3 -c "print(${value[$b]}/${value[${bins[0]}]})")"
  done
done
for b in "${bins[@]}"; do
  echo "$b ÷ ${bins[0]}: $(echo ${ratios[$b]} | tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END {print "median", a[int((NR+1)/2)], "min", a[1], "max", a[NR]}')"
done
