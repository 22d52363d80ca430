"""A run's files and safety: checkpoints to resume from, the saved model, metrics, plots, tracking, locks and
signals."""
