# bench: see bench/README.md
EXTRA_DIST += bench/README.md bench/RESULTS.md
