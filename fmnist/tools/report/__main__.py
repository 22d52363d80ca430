"""``python -m fmnist.tools.report``: the command line of :mod:`fmnist.tools.report`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import fmnist.tools.report
from fmnist.runs.outputs import METRICS_FILE, OutputFolderError, create_output_folder
from fmnist.runs.run_folders import run_dirs
from fmnist.runs.tracking import open_run
from fmnist.tools.report.write import format_summary, write_report

DESCRIPTION = fmnist.tools.report.__doc__.split("\n\n")[0]


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed: use a whole number >= 1, e.g. --top 8")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fmnist.tools.report", description=DESCRIPTION)
    parser.add_argument("sweep_dir", type=Path, help="a multirun folder, e.g. multirun/grid/2026-01-01_12-00-00")
    parser.add_argument("--out", type=Path, help="where to write (default: SWEEP_DIR/report)")
    parser.add_argument("--top", type=_positive_int, default=8, help="runs drawn in curves.png (default 8)")
    parser.add_argument("--wandb", action="store_true", help="also log the figures and table to a wandb run")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        print(
            f"error: {args.sweep_dir} is not a folder: pass the folder of a multirun, "
            "e.g. multirun/grid/2026-01-01_12-00-00",
            file=sys.stderr,
        )
        return 2
    if not run_dirs(args.sweep_dir):
        print(
            f"error: no runs under {args.sweep_dir}: none of its folders holds a {METRICS_FILE}. "
            "Pass the folder of a multirun whose jobs have started",
            file=sys.stderr,
        )
        return 2
    try:
        out_dir = create_output_folder(args.out or args.sweep_dir / "report")
    except OutputFolderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    wandb_run = None
    if args.wandb:
        wandb_run = open_run(
            "fmnist",
            None,
            None,
            "sweep-report",
            {"sweep_dir": str(args.sweep_dir)},
            out_dir,
            name=f"report-{args.sweep_dir.name}",
        )
    try:
        summary = write_report(args.sweep_dir, out_dir, args.top, wandb_run)
    finally:
        if wandb_run is not None:
            wandb_run.finish()
    print(format_summary(summary, out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
