"""Tools that read finished runs: the sweep report, ensembles, evaluation, class samples."""
