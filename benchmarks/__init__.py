"""Performance benchmarks: each times our implementation against a reference in the same process."""
