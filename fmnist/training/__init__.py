"""The training loop and the callbacks it reports to."""
