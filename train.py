"""Train a NumPy MLP on Fashion-MNIST / MNIST. `python train.py --help` lists flags and config groups."""

import sys

import hydra
from omegaconf import DictConfig

from fmnist.front.cli import rewrite_argv
from fmnist.front.hydra_callbacks import JobsFailed

sys.argv = rewrite_argv(sys.argv)
job_started = False  # set once Hydra has composed a config and handed it to us


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    global job_started
    job_started = True
    from fmnist.front.app import run  # here: the flags and --help are handled before it, and quickly

    return run(cfg)


if __name__ == "__main__":
    try:
        main()
    except JobsFailed:
        sys.exit(1)  # a multirun with failed jobs (fmnist.front.hydra_callbacks.SweepOutcome named them)
    except SystemExit as stop:
        # Hydra prints its message and exits 1 when the command line does not compose (a misspelled
        # key, a missing config): that is bad input, exit 2 like the flag errors. Runs keep their code.
        sys.exit(2 if stop.code == 1 and not job_started else stop.code)
    except KeyboardInterrupt:
        # Ctrl-C in a parallel (joblib) multirun, where the terminal sent SIGINT to the workers too and
        # each job stopped at the end of a batch with its checkpoint, or a second Ctrl-C in a run
        # (README, "Nothing lost"): no traceback, and no job after it starts.
        print(
            "interrupted: the checkpoints of the last complete epochs are kept; to continue, rerun the same "
            "command with the same hydra.run.dir (hydra.sweep.dir for a sweep)",
            file=sys.stderr,
        )
        sys.exit(130)
    except ValueError as error:
        if job_started:  # fmnist.front.app.run reports a job's own errors; this one is not from the command line
            raise
        # Hydra's complaint about the command line itself, e.g. two modes at once (-m with --cfg job)
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
