"""The front: the command line and the composition of a run from the config."""
