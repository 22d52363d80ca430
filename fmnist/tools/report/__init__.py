"""What a sweep found: ``python -m fmnist.tools.report SWEEP_DIR [--out DIR] [--top N] [--wandb]``.

Reads every run under SWEEP_DIR (each folder holding ``metrics.json``, with ``config.yaml`` and
``.hydra/overrides.yaml`` beside it, as a Hydra multirun leaves them) and writes into SWEEP_DIR/report/:

- ``runs.csv``, ``runs.md``: one row per run, best validation accuracy first; then the unfinished runs
  (still running, or stopped: marked running with no process holding them), whose best_val_accuracy and
  epochs_completed are those of their epochs so far, read from their history, best first; then the
  runs without any (failed, diverged, stopped before their first epoch), with their status. Pruned trials
  rank with the unfinished runs, never as the best; a sweep that has some gets the columns epochs_budget
  and behind_at_stop (:mod:`fmnist.tools.report.pruned`);
- ``importance.csv``, ``importance.png``: for each hyperparameter that varies, how much of the
  variance of validation accuracy its values explain (η², between-group / total variance), the η²
  that chance alone gives on average with that many values and runs, and the absolute Spearman rank
  correlation of its (ordinal) value with validation accuracy;
- ``parallel_coordinates.png``: one axis per varying hyperparameter, one line per run, coloured by
  validation accuracy;
- ``val_accuracy_by_run.png``: validation accuracy per job; for a sequential search (Optuna's TPE, where
  each trial is chosen from the earlier ones) also a least-squares trend and the running best;
- ``curves.png``: validation accuracy and loss per epoch of the best runs, and, dashed up to the epoch they
  were stopped at, of the pruned trials that came closest to the best;
- ``best_command.txt``, ``summary.json``: the best finished run by validation accuracy (never by test) as a
  ready ``python train.py ...`` command; ``summary.json`` also names the best unfinished run so far and
  the pruned trials that came closest;
- ``continue_pruned.txt``: per pruned trial not yet continued, closest first, the command that continues it
  to its budget (``python -m fmnist.sweeps.continue_trial JOB_DIR``); the first three are printed.
"""
