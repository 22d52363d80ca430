"""Datasets: find, verify, download and split the IDX files."""
