# Launch latency and launches/s through enclaved (bench/launch.sh, a script: nothing to build).
EXTRA_DIST += bench/launch.sh
