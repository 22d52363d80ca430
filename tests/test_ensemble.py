"""python -m fmnist.tools.ensemble: the averaged probabilities, the shifted copies, picking runs from a sweep, refusals.

Members are three tiny runs of one sweep (seeds 0-2 sharing dataset.split_seed=0); runs that must be
refused are copies of one of them with an edited config (fmnist.runs.model_file.save_model).
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fmnist.core.activations import ReLU
from fmnist.core.network import MLP
from fmnist.data.datasets import load_dataset
from fmnist.runs.model_file import load_model, save_model
from fmnist.runs.outputs import CONFUSION_MATRIX_PNG, METRICS_FILE, MODEL_FILE
from fmnist.tools.ensemble import (
    ENSEMBLE_FILE,
    HELD_OUT_SEED,
    TTA_SHIFTS,
    EnsembleError,
    check_shared_data,
    greedy_selection,
    held_out_accuracies,
    load_members,
    main,
    predict,
    top_runs,
    tta_copies,
    validation_halves,
)
from tests.conftest import ROOT
from tests.test_sweeps import multirun


@pytest.fixture(scope="module")
def runs(tiny_idx_dir, tmp_path_factory) -> list[Path]:
    """Three runs of a sweep: seeds 0, 1, 2, one validation split (dataset.split_seed=0)."""
    sweep_dir = tmp_path_factory.mktemp("sweep")
    process = multirun(
        "seed=0,1,2",
        "dataset.split_seed=0",
        "trainer.epochs=2",
        "model=mlp",
        "model.hidden_size=32",
        sweep_dir=sweep_dir,
        data_dir=tiny_idx_dir,
    )
    assert process.returncode == 0, process.stderr
    return [sweep_dir / str(job) for job in range(3)]


@pytest.fixture(scope="module")
def data(tiny_idx_dir):
    """The members' data, loaded independently of fmnist.tools.ensemble."""
    return load_dataset("fashion_mnist", path=str(tiny_idx_dir), download=False, seed=0, split_seed=0)


def softmax_by_hand(logits: np.ndarray) -> np.ndarray:
    exponentials = np.exp(logits.astype(np.float64) - logits.max(axis=1, keepdims=True))
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def edited_copy(run_dir: Path, destination: Path, edit) -> Path:
    """A copy of a run's model whose saved config ``edit(config)`` changed."""
    network, config = load_model(run_dir / MODEL_FILE)
    edit(config)
    destination.mkdir(parents=True)
    save_model(destination / MODEL_FILE, network, config)
    return destination


@pytest.mark.parametrize("copies", [1, 3])
def test_ensemble_probabilities_are_the_mean_of_each_members_softmax_over_members_and_copies(runs, data, copies):
    result = predict(load_members(runs), copies)
    for split, features in (("val", data.x_val), ("test", data.x_test)):
        expected = np.mean(
            [
                softmax_by_hand(load_model(run / MODEL_FILE)[0].predict_logits(copy))
                for run in runs
                for copy in tta_copies(features, copies)
            ],
            axis=0,
        )
        np.testing.assert_allclose(result.probabilities(split), expected, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(result.probabilities(split).sum(axis=1), 1.0, rtol=1e-12)


def test_a_member_listed_twice_weighs_twice(runs):
    result = predict(load_members(runs), 3)
    own = [result.probabilities("val", [member]) for member in range(len(runs))]
    np.testing.assert_allclose(result.probabilities("val", [1, 0, 1]), (own[0] + 2 * own[1]) / 3, rtol=1e-12)
    np.testing.assert_allclose(result.probabilities("val", [0, 1, 2]), result.probabilities("val"), rtol=1e-12)


def test_tta_with_one_copy_is_the_images_as_they_are(runs, data):
    plain = predict(load_members(runs), 1)
    with_shifts = predict(load_members(runs), 5)
    assert list(plain.accuracies()) == ["val_accuracy", "test_accuracy"]  # no tta_* figures
    for split in ("val", "test"):
        np.testing.assert_array_equal(plain.probabilities(split), with_shifts.probabilities(split, copies=1))
    assert np.array_equal(next(tta_copies(data.x_test, 1)), data.x_test)


def test_shifted_copies_follow_their_formula():
    """Copy j of image x is x'[r, c] = x[r - dy, c - dx] (0 outside the image) with (dy, dx) = TTA_SHIFTS[j]:
    first the image itself, then its four 1-pixel neighbours, then the diagonals."""
    assert TTA_SHIFTS[0] == (0, 0)
    assert set(TTA_SHIFTS[1:5]) == {(0, -1), (0, 1), (-1, 0), (1, 0)}
    assert set(TTA_SHIFTS[5:]) == {(-1, -1), (-1, 1), (1, -1), (1, 1)}
    images = np.random.default_rng(0).random((2, 784))
    copies = tta_copies(images, len(TTA_SHIFTS))
    for copy, (dy, dx) in zip(copies, TTA_SHIFTS):
        for image, moved in zip(images.reshape(-1, 28, 28), copy.reshape(-1, 28, 28)):
            for r in range(28):
                for c in range(28):
                    inside = 0 <= r - dy < 28 and 0 <= c - dx < 28
                    assert moved[r, c] == (image[r - dy, c - dx] if inside else 0.0)


def test_an_ensemble_of_one_run_reproduces_its_metrics(runs, tmp_path, capsys):
    assert main([str(runs[1]), "--out", str(tmp_path)]) == 0
    metrics = json.loads((runs[1] / METRICS_FILE).read_text())
    summary = json.loads((tmp_path / ENSEMBLE_FILE).read_text())
    assert summary["members"][0].pop("run_dir") == str(runs[1])
    for figures in (summary["ensemble"], summary["members"][0]):
        assert figures == {
            "val_accuracy": pytest.approx(metrics["val_accuracy"], abs=1e-12),
            "test_accuracy": pytest.approx(metrics["test_accuracy"], abs=1e-12),
        }
    assert (tmp_path / CONFUSION_MATRIX_PNG).is_file()
    assert f"{100 * metrics['test_accuracy']:.2f}%" in capsys.readouterr().out


def test_command_prints_each_member_and_the_ensemble_with_and_without_shifted_copies(runs, tmp_path):
    process = subprocess.run(
        [sys.executable, "-m", "fmnist.tools.ensemble", *map(str, runs), "--tta", "3", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert process.returncode == 0, process.stderr
    summary = json.loads((tmp_path / ENSEMBLE_FILE).read_text())
    assert summary["tta_shifts"] == [list(shift) for shift in TTA_SHIFTS[:3]]
    lines = process.stdout.splitlines()
    assert "(0, 0) (0, -1) (0, 1)" in lines[0]
    assert lines[1].split() == ["val_accuracy", "test_accuracy", "tta_val_accuracy", "tta_test_accuracy"]
    for line, row in zip(lines[2:], [*summary["members"], summary["ensemble"]]):
        assert line.split()[1:] == [f"{100 * row[key]:.2f}%" for key in lines[1].split()]
    assert lines[5].startswith("ensemble")


def test_top_k_picks_the_runs_with_the_best_validation_accuracy_never_test(runs, tmp_path):
    sweep_dir = tmp_path / "sweep"
    for job, (val_accuracy, test_accuracy) in enumerate([(0.5, 0.9), (0.9, 0.5), (0.7, 0.6)]):
        shutil.copytree(runs[job], sweep_dir / str(job))
        metrics = json.loads((runs[job] / METRICS_FILE).read_text())
        metrics.update(val_accuracy=val_accuracy, test_accuracy=test_accuracy)
        (sweep_dir / str(job) / METRICS_FILE).write_text(json.dumps(metrics))
    assert top_runs([sweep_dir], 2) == [sweep_dir / "1", sweep_dir / "2"]
    assert main(["--top", "2", str(sweep_dir), "--out", str(tmp_path / "out")]) == 0
    members = json.loads((tmp_path / "out" / ENSEMBLE_FILE).read_text())["members"]
    assert [member["run_dir"] for member in members] == [str(sweep_dir / "1"), str(sweep_dir / "2")]
    other = tmp_path / "other"  # a second sweep: its job 0 (0.8) ranks between the first sweep's 0.9 and 0.7
    shutil.copytree(sweep_dir / "0", other / "0")
    metrics = json.loads((other / "0" / METRICS_FILE).read_text())
    (other / "0" / METRICS_FILE).write_text(json.dumps({**metrics, "val_accuracy": 0.8}))
    assert top_runs([sweep_dir, other], 3) == [sweep_dir / "1", other / "0", sweep_dir / "2"]


def by_hand_log_loss(probabilities, labels):
    return -np.mean(np.log(probabilities[np.arange(len(labels)), labels]))


def by_hand_score(probabilities, labels, by):
    """What greedy selection lowers: the log loss, or the error rate with ties broken by the log loss."""
    loss = by_hand_log_loss(probabilities, labels)
    return (loss,) if by == "log_loss" else (np.mean(probabilities.argmax(1) != labels), loss)


@pytest.mark.parametrize("by", ["log_loss", "accuracy"])
def test_greedy_selection_adds_the_member_that_lowers_the_validation_score_most_until_none_does(runs, by):
    result = predict(load_members(runs), 1)
    labels = result.data.y_val
    library = [result.outputs["val"][member, 0] for member in range(len(runs))]
    picks = greedy_selection(result, by)
    assert picks
    for step, pick in enumerate(picks):  # each pick is the best addition to the picks before it
        chosen = sum((library[m] for m in picks[:step]), np.zeros_like(library[0]))
        scores = [by_hand_score((chosen + member) / (step + 1), labels, by) for member in library]
        assert scores[pick] == pytest.approx(min(scores), rel=1e-12)
    final = sum(library[m] for m in picks) / len(picks)
    final_score = by_hand_score(final, labels, by)
    assert not any(
        lower(by_hand_score((final * len(picks) + member) / (len(picks) + 1), labels, by), final_score)
        for member in library
    )  # no addition lowers it


def lower(score, other, tolerance=1e-12) -> bool:
    """Whether ``score`` is below ``other``, compared in order, entries within ``tolerance`` counting as equal."""
    for mine, theirs in zip(score, other):
        if abs(mine - theirs) > tolerance:
            return mine < theirs
    return False


def test_greedy_selection_by_accuracy_prefers_fewer_errors_to_a_lower_log_loss(runs):
    """Three made-up members on four validation images: the confident one errs once and has the lowest
    log loss alone; the soft one errs never. By log loss the first pick is the confident one, by accuracy
    the soft one."""
    result = predict(load_members(runs), 1)
    labels = np.array([0, 1, 2, 3])
    confident = np.full((4, 10), 0.001)
    confident[np.arange(3), [0, 1, 2]] = 0.991
    confident[3] = 0.0125
    confident[3, [3, 4]] = 0.4, 0.5  # the last image wrong, but not by much
    soft = np.full((4, 10), 0.08)
    soft[np.arange(4), labels] = 0.28  # every image right, but with probability 0.28
    result.data.y_val = labels
    result.outputs["val"] = np.stack([confident, soft])[:, None]  # (members, copies, n, k)
    result.run_dirs = runs[:2]
    assert by_hand_log_loss(confident, labels) < by_hand_log_loss(soft, labels)
    assert greedy_selection(result, "log_loss")[0] == 0
    assert greedy_selection(result, "accuracy")[0] == 1


@pytest.mark.parametrize("by", ["log_loss", "accuracy"])
def test_select_greedy_weighs_each_run_by_its_picks_and_reports_them(runs, tmp_path, capsys, by):
    assert main([*map(str, runs), "--select", "greedy", "--by", by, "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / ENSEMBLE_FILE).read_text())
    result = predict(load_members(runs), 1)
    picks = greedy_selection(result, by)
    assert summary["selection"] == f"greedy by {by}"
    assert [member["picks"] for member in summary["members"]] == [picks.count(m) for m in range(len(runs))]
    weights = np.array([picks.count(m) for m in range(len(runs))]) / len(picks)
    for split, labels in (("val", result.data.y_val), ("test", result.data.y_test)):
        weighted = np.tensordot(weights, result.outputs[split][:, 0], axes=1)
        assert summary["ensemble"][f"{split}_accuracy"] == pytest.approx((weighted.argmax(1) == labels).mean())
    out = capsys.readouterr().out
    assert f"greedy by {by.replace('_', ' ')} on validation" in out and out.splitlines()[1].split()[-1] == "picks"


def test_a_null_split_seed_is_the_runs_seed(runs, tmp_path):
    def split_by_seed(config):
        config["seed"], config["dataset"]["split_seed"] = 0, None

    check_shared_data(load_members([runs[1], edited_copy(runs[0], tmp_path / "seeded", split_by_seed)]))


def set_dataset(key, value):
    return lambda config: config["dataset"].__setitem__(key, value)


def other_seed_without_split_seed(config):
    config["seed"], config["dataset"]["split_seed"] = 7, None


@pytest.mark.parametrize(
    "edit, words",
    [
        (other_seed_without_split_seed, ["split seed", "0 in", "7 in"]),
        (set_dataset("name", "mnist"), ["dataset.name", "fashion_mnist in", "; mnist in"]),
        (set_dataset("val_fraction", 0.2), ["dataset.val_fraction", "0.1 in", "0.2 in"]),
        (set_dataset("subset", 100), ["dataset.subset", "null in", "100 in"]),
        (set_dataset("standardize", True), ["dataset.standardize", "false in", "true in"]),
    ],
)
def test_runs_with_different_data_are_refused_with_exit_2_naming_what_differs(runs, tmp_path, capsys, edit, words):
    other = edited_copy(runs[0], tmp_path / "other", edit)
    assert main([str(runs[1]), str(other), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    for word in [*words, str(runs[1]), str(other), "dataset.split_seed=S", "seed=0,1,2 dataset.split_seed=0"]:
        assert word in error
    assert not (tmp_path / "out").exists()


def test_runs_with_different_input_sizes_are_refused(runs, tmp_path):
    _, config = load_model(runs[0] / MODEL_FILE)
    (tmp_path / "small").mkdir()
    save_model(tmp_path / "small" / MODEL_FILE, MLP([196, 10], ReLU()), config)
    with pytest.raises(EnsembleError, match="input size: 784 in .*; 196 in"):
        check_shared_data(load_members([runs[0], tmp_path / "small"]))


@pytest.mark.parametrize(
    "arguments, words",
    [
        (["{empty}"], ["{empty}", "no model.npz", "completed"]),
        (["{empty}/nowhere"], ["{empty}/nowhere", "no such folder"]),
        ([], ["no runs", "--top K SWEEP_DIR"]),
        (["--top", "0", "{empty}"], ["--top 0", ">= 1"]),
        (["--top", "3", "{empty}"], ["--top 3", "0 runs with a validation accuracy", "let their runs finish first"]),
        (["--top", "3"], ["--top 3", "name the sweeps too"]),
        (["{empty}", "--select", "best"], ["--select", "'best'", "greedy"]),
        (["{empty}", "--by", "accuracy"], ["--by accuracy", "add --select greedy"]),
        (["{empty}", "--tta", "0"], ["--tta", "0", "from 1", "to 9"]),
        (["{empty}", "--tta", "10"], ["--tta", "10", "from 1", "to 9"]),
        (["{empty}", "--tta", "two"], ["--tta", "'two'", "whole number"]),
    ],
)
def test_bad_input_exits_2_with_a_message_and_no_traceback(tmp_path, arguments, words):
    arguments = [argument.format(empty=tmp_path) for argument in arguments]
    command = [sys.executable, "-m", "fmnist.tools.ensemble", *arguments, "--out", str(tmp_path / "out")]
    process = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert process.returncode == 2
    for word in words:
        assert word.format(empty=tmp_path) in process.stderr
    assert "Traceback" not in process.stderr


def test_top_given_a_run_folder_says_it_is_not_a_sweep(runs, tmp_path, capsys):
    assert main(["--top", "2", str(runs[0]), "--out", str(tmp_path / "out")]) == 2
    assert f"--top 2 {runs[0]}: that is one training run's folder, not a sweep's" in capsys.readouterr().err
    assert main(["--top", "1", str(runs[0]), "--out", str(tmp_path / "out")]) == 0  # a pool may hold single runs


def test_a_dataset_path_without_the_data_exits_2_naming_it(runs, tmp_path, capsys):
    assert main([str(runs[0]), "--dataset-path", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    assert f"dataset.path={tmp_path / 'nowhere'}: no such folder" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # the output folder, made before the data was looked for, is gone again


def test_held_out_accuracy_of_all_runs_alike_is_the_mean_of_the_two_halves(runs, tmp_path):
    assert main([*map(str, runs), "--tta", "3", "--held-out", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / ENSEMBLE_FILE).read_text())["ensemble"]
    result = predict(load_members(runs), 3)
    labels = result.data.y_val
    order = np.random.default_rng(HELD_OUT_SEED).permutation(len(labels))
    halves = order[: len(labels) // 2], order[len(labels) // 2 :]
    for name, copies in (("held_out_val_accuracy", 1), ("tta_held_out_val_accuracy", 3)):
        average = result.outputs["val"][:, :copies].mean(axis=(0, 1))
        by_half = [(average[half].argmax(1) == labels[half]).mean() for half in halves]
        assert summary[name] == pytest.approx(np.mean(by_half))
    if len(labels) % 2 == 0:
        assert summary["held_out_val_accuracy"] == pytest.approx(summary["val_accuracy"])


def lucky_members(labels: np.ndarray, halves) -> np.ndarray:
    """(3, 1, n, 10) made-up softmax outputs: member 0 is sure and right on the first half and sure and wrong on
    the second, member 1 the reverse, member 2 right on every image but one in four, with probability 0.6."""
    wrong = (labels + 1) % 10
    outputs = np.full((3, len(labels), 10), 0.01 / 9)
    for member, right_on in ((0, halves[0]), (1, halves[1])):
        targets = np.where(np.isin(np.arange(len(labels)), right_on), labels, wrong)
        outputs[member, np.arange(len(labels)), targets] = 0.99
    steady = np.where(np.arange(len(labels)) % 4 == 3, wrong, labels)
    outputs[2] = 0.4 / 9
    outputs[2, np.arange(len(labels)), steady] = 0.6
    return outputs[:, None]


@pytest.mark.parametrize("by", ["log_loss", "accuracy"])
def test_held_out_accuracy_measures_a_selection_on_the_images_it_did_not_see(runs, by):
    """A member right by luck on the half it is chosen on is measured on the other half, where it is wrong:
    held out, the selection scores 0 although it scores 100 % on the images it was chosen on."""
    result = predict(load_members(runs), 1)
    labels = np.arange(40) % 10
    halves = validation_halves(len(labels))
    result.data.y_val = labels
    result.outputs["val"] = lucky_members(labels, halves)
    result.run_dirs = runs
    assert greedy_selection(result, by, halves[0]) == [0] and greedy_selection(result, by, halves[1]) == [1]
    select = functools.partial(greedy_selection, result, by)
    assert held_out_accuracies(result, select) == {"held_out_val_accuracy": 0.0}
    assert held_out_accuracies(result, lambda images: [2]) == {"held_out_val_accuracy": 0.75}


def test_validation_halves_split_the_images_in_two():
    for count in (2, 7, 6000):
        first, second = validation_halves(count)
        assert len(first) == count // 2 and sorted(np.concatenate([first, second])) == list(range(count))


def test_held_out_without_validation_images_is_refused(runs):
    result = predict(load_members(runs), 1)
    result.data.y_val = result.data.y_val[:1]
    with pytest.raises(EnsembleError, match="--held-out splits the validation images in two, but the runs have 1"):
        held_out_accuracies(result, lambda images: None)


def test_select_greedy_held_out_is_printed_and_written_with_the_whole_validation_selection(runs, tmp_path, capsys):
    assert main([*map(str, runs), "--select", "greedy", "--held-out", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / ENSEMBLE_FILE).read_text())
    result = predict(load_members(runs), 1)
    held_out = held_out_accuracies(result, functools.partial(greedy_selection, result, "log_loss"))
    assert summary["ensemble"]["held_out_val_accuracy"] == held_out["held_out_val_accuracy"]
    assert [member["picks"] for member in summary["members"]] == [greedy_selection(result).count(m) for m in range(3)]
    out = capsys.readouterr().out
    assert "held_out_*: the accuracy on each half of the validation images of the selection made on the other" in out
    header = next(line for line in out.splitlines() if line.strip().startswith("val_accuracy"))
    assert header.split()[-2:] == ["held_out_val_accuracy", "picks"]


def test_an_out_folder_that_cannot_be_written_exits_2_before_the_predictions(runs, tmp_path, capsys, monkeypatch):
    in_the_way = tmp_path / "a_file"
    in_the_way.write_text("not a folder\n")
    monkeypatch.setattr("fmnist.tools.ensemble.predict", lambda *args: pytest.fail("predicted before checking --out"))
    assert main([str(runs[0]), "--out", str(in_the_way / "ensemble")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: --out {in_the_way / 'ensemble'}: cannot write there (")
    assert "pass a folder you can write to" in error


def test_a_sweeps_folder_named_as_a_run_suggests_its_top_runs(runs, tmp_path, capsys):
    sweep_dir = runs[0].parent
    assert main([str(sweep_dir), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert f"{sweep_dir} holds no {MODEL_FILE}: it is a sweep's folder (runs with a saved model: 3 of 3)" in error
    assert f"--top K {sweep_dir}" in error and f"e.g. {runs[0]}" in error


def test_a_sweeps_folder_whose_runs_have_no_model_yet_says_how_to_finish_them(tmp_path, capsys):
    (tmp_path / "sweep" / "0").mkdir(parents=True)
    (tmp_path / "sweep" / "0" / METRICS_FILE).write_text(json.dumps({"status": "running", "history": []}))
    assert main([str(tmp_path / "sweep"), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "it is a sweep's folder, and none of the runs in it has a saved model yet" in error
    assert "same hydra.sweep.dir" in error


def test_runs_without_a_validation_split_ensemble_with_nothing_chosen(tiny_idx_dir, tmp_path, capsys):
    """Final fits (dataset.val_fraction=0): the softmax average of all members, said to have chosen nothing."""
    sweep_dir = tmp_path / "sweep"
    process = multirun(
        "seed=0,1",
        "dataset.val_fraction=0",
        "trainer.epochs=2",
        "model=mlp",
        "model.hidden_size=32",
        sweep_dir=sweep_dir,
        data_dir=tiny_idx_dir,
    )
    assert process.returncode == 0, process.stderr
    members = [sweep_dir / "0", sweep_dir / "1"]
    assert main([*map(str, members), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "no validation split" in printed and "nothing was chosen" in printed
    summary = json.loads((tmp_path / "out" / ENSEMBLE_FILE).read_text())
    assert summary["validation_images"] == 0 and summary["selection"] == "all"
    data = load_dataset("fashion_mnist", path=str(tiny_idx_dir), download=False, seed=0, val_fraction=0)
    expected = np.mean(
        [softmax_by_hand(load_model(run / MODEL_FILE)[0].predict_logits(data.x_test)) for run in members], axis=0
    ).argmax(axis=1)
    assert summary["ensemble"]["test_accuracy"] == pytest.approx(float((expected == data.y_test).mean()))
    assert main([*map(str, members), "--select", "greedy", "--out", str(tmp_path / "greedy")]) == 2
