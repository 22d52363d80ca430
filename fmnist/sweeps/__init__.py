"""The sweep side of a job and of a sweep folder: what a trial of a sweep (Optuna's or a wandb agent's) needs
beyond training (pruning, the wandb agent's stop), slot occupancy, replaying and continuing pruned trials."""
