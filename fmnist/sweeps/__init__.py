"""The sweep side of a job: what a trial of a sweep (Optuna's or a wandb agent's) needs beyond training."""
