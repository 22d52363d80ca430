"""The config: what the files of conf/ offer, its dotted keys, and the checks of its values."""
