"""Benchmarks: quality against ground truth, speed against rembg's own server."""
