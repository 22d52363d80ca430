"""benchmarks/sweep_efficiency.py: its table from sweeps with known times (every number checked by hand), and a
tiny real run whose printed columns come from the sweeps' own job folders."""

from __future__ import annotations

import json
import math

import pytest

from fmnist.runs.outputs import METRICS_FILE
from fmnist.sweeps.occupancy import read_busy_share
from tests.test_benchmark import load_script

sweep_efficiency = load_script("sweep_efficiency")
Sweep, Trial = sweep_efficiency.Sweep, sweep_efficiency.Trial


def trial(number, status, val, epoch_ends, ended=None, test=math.nan):
    return Trial(
        number=number,
        status=status,
        val_accuracy=val,
        test_accuracy=test,
        ended=epoch_ends[-1] if ended is None else ended,
        epoch_ends=list(epoch_ends),
    )


def rows(lines: list[str]) -> dict[str, list[str]]:
    """Each table line's fields, keyed by 'pruner seed' in the first table and 'pruner' in the second."""
    first = lines.index("")
    table = {" ".join(line.split()[:2]): line.split() for line in lines[1:first]}
    table.update({line.split()[0]: line.split() for line in lines[first + 2 :]})
    return table


def test_the_table_by_hand():
    """Unpruned: best 85 %, so the target is 84.7 %, first reached by trial 1 at 20 s, when 10 + 10 + 5 = 25
    epochs had ended (busy shares as the sweeper would have recorded them). median reaches it at 10 s after
    2 + 10 + 4 = 16 epochs: ratios 0.64 and 0.50, goal missed;
    hyperband at 5 s after 5 + 1 = 6 epochs: 0.24 and 0.25, goal met; patient never does."""
    unpruned = Sweep(
        "none",
        0,
        started=0.0,
        wall_seconds=30.0,
        busy=0.83,
        trials=[
            trial(0, "completed", 0.80, range(1, 11), test=0.79),
            trial(1, "completed", 0.85, range(2, 21, 2), test=0.84),
            trial(2, "completed", 0.70, range(12, 31, 2), test=0.69),
        ],
    )
    median = Sweep(
        "median",
        0,
        started=100.0,
        wall_seconds=12.0,
        busy=0.92,
        trials=[
            trial(0, "pruned", 0.60, [101, 102], ended=102.5),
            trial(1, "completed", 0.849, range(101, 111), test=0.83),
            trial(2, "completed", 0.86, [104, 106, 108, 110, 112], test=0.85),
        ],
    )
    hyperband = Sweep(
        "hyperband",
        0,
        started=100.0,
        wall_seconds=8.0,
        busy=0.45,
        trials=[trial(0, "completed", 0.848, range(101, 106), test=0.82), trial(1, "pruned", 0.5, [102], ended=102.2)],
    )
    patient = Sweep(
        "patient",
        0,
        started=0.0,
        wall_seconds=9.0,
        busy=0.5,
        trials=[trial(0, "completed", 0.80, range(1, 10), test=0.78)],
    )
    lines = sweep_efficiency.report(
        [unpruned, median, hyperband, patient], ["none", "median", "hyperband", "patient"], [0]
    )
    table = rows(lines)
    header = lines[0].split()
    assert header[:2] == ["pruner", "seed"] and "busy" in header and "test" in header
    assert table["none 0"] == ["none", "0", "3", "0", "30", "30.0", "0.83", "85.00", "84.70", "25", "20.0", "84.00"]
    assert table["median 0"] == ["median", "0", "3", "1", "17", "12.0", "0.92", "86.00", "84.70", "16", "10.0", "85.00"]
    assert table["hyperband 0"] == [
        "hyperband",
        "0",
        "2",
        "1",
        "6",
        "8.0",
        "0.45",
        "84.80",
        "84.70",
        "6",
        "5.0",
        "82.00",
    ]
    assert table["patient 0"][-3:] == ["-", "-", "78.00"]
    assert table["none"][-4:] == ["30.0", "1.00", "1.00", "no"]
    assert table["median"][-6:] == ["1/1", "17", "12.0", "0.64", "0.50", "no"]
    assert table["hyperband"][-6:] == ["1/1", "6", "8.0", "0.24", "0.25", "yes"]
    assert table["patient"][-6:] == ["0/1", "9", "9.0", "-", "-", "no"]


def test_an_unknown_pruner_exits_2_naming_the_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        sweep_efficiency.main(["--pruners", "none", "medain"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "medain" in error and all(name in error for name in sweep_efficiency.pruner_options())


@pytest.mark.slow
def test_a_tiny_benchmark_prints_what_its_sweeps_did(tiny_idx_dir, tmp_path, capsys):
    """Three trials of two epochs on tiny data, unpruned and with two pruners: the table's epochs, best
    validation and test accuracy are those of the job folders, and the ratios are quotients of its points."""
    pruners = ["none", "median", "wandb_hyperband"]
    out = tmp_path / "table.txt"
    assert (
        sweep_efficiency.main(
            [
                "--seeds",
                "0",
                "--trials",
                "3",
                "--epochs",
                "2",
                "--pruners",
                *pruners,
                "--dataset-path",
                str(tiny_idx_dir),
                "--runs",
                str(tmp_path / "runs"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    lines = out.read_text().splitlines()
    assert "\n".join(lines) in printed
    table = rows(lines[2:])
    for pruner in pruners:
        sweep_dir = tmp_path / "runs" / f"{pruner}_seed0"
        jobs = [json.loads(path.read_text()) for path in sweep_dir.glob(f"*/{METRICS_FILE}")]
        completed = [job for job in jobs if job["status"] == "completed"]
        best = max(completed, key=lambda job: job["val_accuracy"])
        fields = table[f"{pruner} 0"]
        assert int(fields[2]) == len(jobs) == 3
        assert fields[6] == f"{read_busy_share(tmp_path / 'runs' / f'{pruner}_seed0'):.2f}"
        assert int(fields[4]) == sum(len(job["history"]) for job in jobs)
        assert (fields[7], fields[11]) == (f"{100 * best['val_accuracy']:.2f}", f"{100 * best['test_accuracy']:.2f}")
    none = table["none 0"]
    assert none[8] == f"{float(none[7]) - 0.3:.2f}"  # the target: 0.3 points below the unpruned best
    assert table["none"][-3:-1] == ["1.00", "1.00"]
    for pruner in pruners[1:]:
        fields, summary = table[f"{pruner} 0"], table[pruner]
        if fields[9] != "-":
            assert float(summary[-3]) == pytest.approx(int(fields[9]) / int(none[9]), abs=0.005)
            seconds, none_seconds = float(fields[10]), float(none[10])  # printed to 0.05 s
            low, high = (seconds - 0.05) / (none_seconds + 0.05), (seconds + 0.05) / (none_seconds - 0.05)
            assert low - 0.005 <= float(summary[-2]) <= high + 0.005
