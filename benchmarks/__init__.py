"""The benchmarks of `miaopi bench` (benchmarks/manifest.yaml) and their runner."""
