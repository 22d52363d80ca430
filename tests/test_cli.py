"""The assignment flags become Hydra overrides: the table, case, sweeps, the -m clash, warnings, errors."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from fmnist.config.files import default_choices
from fmnist.front.cli import BY_NAME, FLAGS, HYDRA_OPTIONS, flag_defaults, help_text, rewrite_argv
from tests.conftest import CONF_DIR, ROOT, group_options, load_option

CHOICE_FLAGS = [flag for flag in FLAGS if flag.check is None]  # -o, -a, ...: one option per file of conf/<group>/

TABLE = [  # (short, long, value given, override expected)
    ("-wp", "--wandb_project", "proj", "logger.project=proj"),
    ("-we", "--wandb_entity", "team", "logger.entity=team"),
    ("-d", "--dataset", "mnist", "dataset=mnist"),
    ("-e", "--epochs", "5", "trainer.epochs=5"),
    ("-b", "--batch_size", "16", "trainer.batch_size=16"),
    ("-l", "--loss", "mean_squared_error", "loss=mean_squared_error"),
    ("-o", "--optimizer", "nadam", "optimizer=nadam"),
    ("-lr", "--learning_rate", "1e-4", "optimizer.lr=0.0001"),
    ("-beta1", "--beta1", "0.8", "optimizer=nadam optimizer.beta1=0.8"),
    ("-beta2", "--beta2", "0.99", "optimizer=nadam optimizer.beta2=0.99"),
    ("-eps", "--epsilon", "1e-6", "optimizer.epsilon=1e-06"),
    ("-w_d", "--weight_decay", "0.0005", "optimizer.weight_decay=0.0005"),
    ("-w_i", "--weight_init", "Xavier", "init=xavier"),
    ("-nhl", "--num_layers", "4", "model=mlp model.num_layers=4"),
    ("-sz", "--hidden_size", "64", "model=mlp model.hidden_size=64"),
    ("-a", "--activation", "ReLU", "activation=relu"),
]


def test_the_table_covers_every_flag_but_the_optimizer_specific_ones():
    covered = {row[1] for row in TABLE} | {"--momentum", "--beta"}
    assert covered == {flag.long for flag in FLAGS}


@pytest.mark.parametrize("short, long, value, expected", TABLE, ids=[row[1] for row in TABLE])
def test_each_flag_short_and_long_maps_to_its_override(short, long, value, expected):
    context = ["-o", "nadam"] if expected.startswith("optimizer=nadam ") else []  # betas are Adam-family keys
    assert rewrite_argv(["train.py", *context, short, value]) == ["train.py", *expected.split()]
    assert rewrite_argv(["train.py", *context, long, value]) == ["train.py", *expected.split()]


VALUE_OF = {long: value for _, long, value, _ in TABLE} | {"--momentum": "0.9", "--beta": "0.9"}  # one valid each


@pytest.mark.parametrize("flag", FLAGS, ids=[flag.long for flag in FLAGS])
def test_flag_equals_value_form_is_the_same_as_the_spaced_form(flag, capsys):
    """argparse's other spelling, --learning_rate=0.01 and -lr=0.01, with the same override and warnings."""
    value = VALUE_OF[flag.long]
    for spelling in (flag.short, flag.long):
        spaced = rewrite_argv(["t", spelling, value]), capsys.readouterr().err
        assert (rewrite_argv(["t", f"{spelling}={value}"]), capsys.readouterr().err) == spaced


@pytest.mark.parametrize(
    "argv",
    [
        ["-m", "-lr=1e-3,1e-4", "--optimizer=adam,NAdam"],
        ["-m", "-o=nag", "-m=0.8,0.9"],
        ["--multirun", "--num_layers=range(1,4)"],
    ],
)
def test_a_joined_sweep_list_is_the_same_as_the_spaced_one(argv):
    spaced = [part for token in argv for part in (token.split("=", 1) if token.startswith("-") else [token])]
    assert rewrite_argv(["t", *argv]) == rewrite_argv(["t", *spaced])


def test_hydra_options_joined_by_equals_pass_through():
    assert rewrite_argv(["t", "-o=sgd", "--cfg=job", "--config-name=config"]) == [
        "t",
        "--cfg=job",
        "--config-name=config",
        "optimizer=sgd",
    ]


def test_layer_flags_select_the_mlp_once_unless_a_model_is_given():
    assert rewrite_argv(["t", "-nhl", "4", "-sz", "32"]) == [
        "t",
        "model=mlp",
        "model.num_layers=4",
        "model.hidden_size=32",
    ]
    assert rewrite_argv(["t", "model=funnel", "-nhl", "4"]) == ["t", "model=funnel", "model.num_layers=4"]


def test_layer_overrides_select_the_mlp_too_so_they_are_not_ignored():
    """The default model lists its layers (hidden_sizes wins), so model.num_layers=4 alone would do nothing."""
    assert rewrite_argv(["t", "optimizer=nadam", "model.num_layers=4"]) == [
        "t",
        "optimizer=nadam",
        "model=mlp",
        "model.num_layers=4",
    ]
    assert rewrite_argv(["t", "-m", "++model.hidden_size=64,128"]) == [
        "t",
        "--multirun",
        "model=mlp",
        "++model.hidden_size=64,128",
    ]
    assert rewrite_argv(["t", "model.num_layers=4", "model=wide"]) == ["t", "model.num_layers=4", "model=wide"]
    assert rewrite_argv(["t", "model.hidden_sizes=[64,32]"]) == ["t", "model.hidden_sizes=[64,32]"]
    for preset in ("+experiment=keras_funnel", "+sweep=grid"):  # presets choose their own model
        assert rewrite_argv(["t", preset, "-sz", "64"]) == ["t", preset, "model.hidden_size=64"]


def test_momentum_and_beta_map_when_the_optimizer_takes_them():
    assert rewrite_argv(["t", "-o", "nag", "-m", "0.95"]) == ["t", "optimizer=nag", "optimizer.momentum=0.95"]
    assert rewrite_argv(["t", "--optimizer", "RMSprop", "--beta", "0.9"]) == [
        "t",
        "optimizer=rmsprop",
        "optimizer.beta=0.9",
    ]


def test_flags_mix_with_hydra_overrides_in_order():
    argv = ["t", "-o", "adam", "model.hidden_size=64", "-lr", "1e-4", "+experiment=keras_dropout"]
    assert rewrite_argv(argv) == [
        "t",
        "optimizer=adam",
        "model.hidden_size=64",
        "optimizer.lr=0.0001",
        "+experiment=keras_dropout",
    ]


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["-m", "0.9", "-o", "momentum"], ["optimizer.momentum=0.9", "optimizer=momentum"]),
        (["-o", "momentum", "-m", ".5"], ["optimizer=momentum", "optimizer.momentum=0.5"]),
        (["-m", "optimizer=sgd,adam"], ["--multirun", "optimizer=sgd,adam"]),
        (["optimizer=sgd,adam", "-m"], ["--multirun", "optimizer=sgd,adam"]),
        (
            ["-m", "-o", "momentum,nag", "-lr", "0.1,0.01"],
            ["--multirun", "optimizer=momentum,nag", "optimizer.lr=0.1,0.01"],
        ),
        (["-m", "-o", "nag", "-m", "0.8,0.9"], ["--multirun", "optimizer=nag", "optimizer.momentum=0.8,0.9"]),
    ],
)
def test_dash_m_is_momentum_before_a_number_and_multirun_otherwise(argv, expected):
    assert rewrite_argv(["t", *argv]) == ["t", *expected]


def test_hydra_options_move_before_the_overrides():
    assert rewrite_argv(["t", "a=1", "--cfg", "job", "-o", "sgd"]) == ["t", "--cfg", "job", "a=1", "optimizer=sgd"]


def test_sweep_functions_pass_through_in_a_multirun():
    assert rewrite_argv(["t", "--multirun", "-nhl", "range(1,4)"]) == [
        "t",
        "--multirun",
        "model=mlp",
        "model.num_layers=range(1,4)",
    ]


def test_group_overrides_are_checked_and_spelled_as_their_files():
    assert rewrite_argv(["t", "optimizer=Adam", "+experiment=KERAS_dropout", "dataset=MNIST"]) == [
        "t",
        "optimizer=adam",
        "+experiment=keras_dropout",
        "dataset=mnist",
    ]
    assert rewrite_argv(["t", "optimizer=NAdam", "-beta1", "0.8"]) == ["t", "optimizer=nadam", "optimizer.beta1=0.8"]
    assert rewrite_argv(
        [
            "t",
            "-m",
            "activation=tanh,ReLU",
            "optimizer=choice(adam,sgd)",
            "hydra/launcher=joblib",
            "optimizer.lr=0.1",
            "~logger",
        ]
    ) == [
        "t",
        "--multirun",
        "activation=tanh,relu",
        "optimizer=choice(adam,sgd)",
        "hydra/launcher=joblib",
        "optimizer.lr=0.1",
        "~logger",
    ]


@pytest.mark.parametrize(
    "override, bad",
    [("optimizer=adagrad", "'adagrad'"), ("activation=tanh,gelu", "'gelu'"), ("+experiment=nope", "'nope'")],
)
def test_an_unknown_group_option_exits_2_with_the_allowed_ones(override, bad, capsys):
    with pytest.raises(SystemExit) as stop:
        rewrite_argv(["t", "-m", override] if "," in override else ["t", override])
    assert stop.value.code == 2
    message = capsys.readouterr().err
    assert message.startswith(f"error: {override}: ") and f"no option {bad}" in message and "choose from" in message


def test_wandb_flags_with_tracking_off_are_dropped_with_a_warning(capsys):
    assert rewrite_argv(["t", "-wp", "proj", "logger=none", "-we", "team"]) == ["t", "logger=none"]
    warnings = capsys.readouterr().err.strip().splitlines()
    assert [line.split(" is not used")[0] for line in warnings] == [
        "warning: -wp/--wandb_project",
        "warning: -we/--wandb_entity",
    ]
    assert rewrite_argv(["t", "-wp", "proj"]) == ["t", "logger.project=proj"]
    assert rewrite_argv(["t", "logger=None", "-wp", "proj"]) == ["t", "logger=none"]


def test_an_unused_flag_is_dropped_with_a_one_line_warning(capsys):
    assert rewrite_argv(["t", "+experiment=assignment", "-o", "adam", "-beta", "0.9"]) == [
        "t",
        "+experiment=assignment",
        "optimizer=adam",
    ]
    warning = capsys.readouterr().err.strip()
    assert warning.count("\n") == 0
    assert warning.startswith("warning: -beta/--beta is not used by optimizer adam")


def test_a_flag_used_by_some_swept_optimizers_is_added_for_those(capsys):
    argv = ["t", "-m", "-o", "adam,rmsprop", "-beta", "0.95"]
    assert rewrite_argv(argv) == ["t", "--multirun", "optimizer=adam,rmsprop", "++optimizer.beta=0.95"]
    assert "not used by optimizer adam; only rmsprop will use it" in capsys.readouterr().err


def test_the_default_optimizer_decides_when_no_optimizer_is_given(capsys):
    default = default_choices(CONF_DIR)["optimizer"]
    assert "momentum" not in load_option("optimizer", default)
    assert rewrite_argv(["t", "-m", "0.9"]) == ["t"]
    assert f"not used by optimizer {default}" in capsys.readouterr().err
    assert rewrite_argv(["t", "optimizer=nag", "-m", "0.9"]) == ["t", "optimizer=nag", "optimizer.momentum=0.9"]


BAD_VALUES = [
    (["-lr", "0"], "-lr/--learning_rate 0: must be > 0"),
    (["-lr", "fast"], "-lr/--learning_rate fast: not a number"),
    (["-b", "0"], "-b/--batch_size 0: must be an integer >= 1"),
    (["-b", "3.5"], "-b/--batch_size 3.5: not an integer"),
    (["-sz", "0"], "-sz/--hidden_size 0: must be an integer >= 1"),
    (["-nhl", "-1"], "-nhl/--num_layers -1: must be an integer >= 0"),
    (["-w_d", "-1e-3"], "-w_d/--weight_decay -1e-3: must be >= 0"),
    (["-beta1", "1"], "-beta1/--beta1 1: must be in [0, 1)"),
    (["-beta2", "-0.1"], "-beta2/--beta2 -0.1: must be in [0, 1)"),
    (["-o", "rmsprop", "-beta", "1.5"], "-beta/--beta 1.5: must be in [0, 1)"),
    (["-o", "momentum", "-m", "1.0"], "-m/--momentum 1.0: must be in [0, 1)"),
    (["-eps", "0"], "-eps/--epsilon 0: must be > 0"),
    (["-e", "0"], "-e/--epochs 0: must be an integer >= 1"),
    (["-lr", "1e-3,1e-4"], "a list of values needs --multirun"),
    (["--multirun", "-lr", "1e-3,0"], "-lr/--learning_rate 0: must be > 0"),
    (["-e"], "-e/--epochs : needs a value"),
    (["--learning_rate=0"], "-lr/--learning_rate 0: must be > 0"),
    (["-b=3.5"], "-b/--batch_size 3.5: not an integer"),
    (["-o", "momentum", "-m=abc"], "-m/--momentum abc: not a number"),
    (["-lr=1e-3,1e-4"], "a list of values needs --multirun"),
]


@pytest.mark.parametrize("argv, message", BAD_VALUES, ids=[" ".join(case[0]) for case in BAD_VALUES])
def test_bad_value_exits_2_naming_the_flag_the_value_and_what_is_allowed(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        rewrite_argv(["t", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("flag", CHOICE_FLAGS, ids=[flag.long for flag in CHOICE_FLAGS])
def test_an_unknown_choice_exits_2_listing_the_files_of_its_conf_folder(flag, capsys):
    with pytest.raises(SystemExit) as exit_info:
        rewrite_argv(["t", flag.short, "nonesuch"])
    assert exit_info.value.code == 2
    assert f"{flag.label} nonesuch: choose from {', '.join(group_options(flag.key))}" in capsys.readouterr().err


#: Optimisers a user might add (one YAML file each, as docs/contributing.md says), enough to make the -o
#: choice list wrap over several lines of --help.
NEW_OPTIMIZERS = ("novel", "adamax", "sign_descent_with_momentum")


def test_new_optimizer_files_are_new_choices_and_the_help_names_each_whole(tmp_path):
    """New conf/optimizer/NAME.yaml files are new -o choices, the help says which flags they take, and it wraps
    its lines between names, never inside one, however many options there are."""
    conf = shutil.copytree(CONF_DIR, tmp_path / "conf")
    for name in NEW_OPTIMIZERS:
        assert name not in group_options("optimizer")
        (conf / "optimizer" / f"{name}.yaml").write_text(
            "_target_: somewhere.Novel\nlr: 0.001\nbeta1: 0.9\nbeta3: 0.5\n"
        )
    assert rewrite_argv(["t", "-o", "NOVEL"], conf_dir=conf) == ["t", "optimizer=novel"]
    assert rewrite_argv(["t", "-o", "adamax", "-beta1", "0.8"], conf_dir=conf) == [
        "t",
        "optimizer=adamax",
        "optimizer.beta1=0.8",
    ]
    help_lines = help_text(conf)
    for flag in CHOICE_FLAGS:
        listed = help_lines.partition(f"{flag.long} {flag.long.lstrip('-').upper()}")[2].partition("{")[2]
        names = re.split(r",\s+", listed.partition("}")[0])
        assert names == sorted(path.stem for path in (conf / flag.key).glob("*.yaml"))
    text = " ".join(help_lines.split())
    beta1_takers = [option for option in group_options("optimizer") if "beta1" in load_option("optimizer", option)]
    assert f"first-moment decay ({', '.join(sorted([*beta1_takers, *NEW_OPTIMIZERS]))})" in text


def test_optimizer_flags_name_the_optimizers_whose_files_set_them(capsys):
    text = " ".join(help_text().split())
    for flag in [flag for flag in FLAGS if flag.key.startswith("optimizer.")]:
        key = flag.key.partition(".")[2]
        takers = [option for option in group_options("optimizer") if key in load_option("optimizer", option)]
        named = f" ({', '.join(takers)})" if len(takers) < len(group_options("optimizer")) else ""
        assert f"{flag.help}{named} -> {flag.key}" in text


def test_help_shows_every_flag_and_leaves_help_for_hydra(capsys):
    assert rewrite_argv(["t", "--help"]) == ["t", "--help"]
    text = capsys.readouterr().out
    for flag in FLAGS:
        assert flag.long in text and flag.short in text
    assert f"default: {default_choices(CONF_DIR)['optimizer']}" in text
    assert "-m followed by a number is --momentum" in text


def test_help_defaults_are_those_of_the_composed_config(tmp_path):
    """config.yaml's own values win over the option file's (what `python train.py` really runs)."""
    conf = shutil.copytree(CONF_DIR, tmp_path / "conf")
    config = OmegaConf.load(conf / "config.yaml")
    config.defaults = [{"optimizer": "adam"} if "optimizer" in entry else entry for entry in config.defaults]
    config.optimizer = {"lr": 0.0123}
    OmegaConf.save(config, conf / "config.yaml")
    defaults = flag_defaults(conf)
    assert defaults["optimizer"] == "adam" and defaults["optimizer.lr"] == 0.0123
    beta_takers = [option for option in group_options("optimizer") if "beta" in load_option("optimizer", option)]
    assert "adam" not in beta_takers and defaults["optimizer.beta"] == ", ".join(
        f"{load_option('optimizer', option).beta} for {option}" for option in beta_takers
    )
    assert defaults["optimizer.beta1"] == 0.9


def test_train_py_help_lists_flags_and_config_groups_quickly():
    process = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "--help"], capture_output=True, text=True, timeout=30, cwd=ROOT
    )
    assert process.returncode == 0, process.stderr
    assert "--learning_rate" in process.stdout
    assert f"optimizer: {', '.join(group_options('optimizer'))}" in process.stdout
    modules = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import fmnist.front.cli"], capture_output=True, text=True, cwd=ROOT
    ).stderr
    assert not any(heavy in modules for heavy in ("wandb", "matplotlib", "numpy"))


# ---------------------------------------------------------------------------------------- the plain setting


def composed(*overrides: str) -> dict:
    """The config ``python train.py OVERRIDES`` runs, flattened to dotted keys."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        config = OmegaConf.to_container(compose("config", overrides=list(overrides)))
    flat, nested = {}, [("", config)]
    while nested:
        prefix, node = nested.pop()
        for key, value in node.items():
            if isinstance(value, dict):
                nested.append((f"{prefix}{key}.", value))
            else:
                flat[f"{prefix}{key}"] = value
    return flat


def test_the_assignment_preset_trains_with_nothing_but_what_the_flags_name():
    plain = composed("+experiment=assignment")
    assert plain["model.dropout"] == 0 and plain["model.hidden_sizes"] is None
    assert (plain["model.num_layers"], plain["model.hidden_size"]) == (3, 128)
    assert plain["optimizer.weight_decay"] == 0 and plain["trainer.lr_schedule"] == "constant"
    assert plain["loss._target_"].endswith(".CrossEntropy") and not plain.get("loss.smoothing")
    assert plain["augment.max_shift"] == 0 and plain["augment.cutout"] == 0
    assert plain["augment.horizontal_flip"] is False
    assert plain["trainer.warmup_epochs"] == 0 and plain["trainer.ema_decay"] == 0
    assert plain["dataset.standardize"] is False
    assert composed("+experiment=assignment", "optimizer.weight_decay=5e-4")["optimizer.weight_decay"] == 5e-4


@pytest.mark.parametrize("optimizer", group_options("optimizer"))
def test_each_optimizer_runs_at_its_own_learning_rate(optimizer):
    assert composed(f"optimizer={optimizer}")["optimizer.lr"] == load_option("optimizer", optimizer).lr


@pytest.mark.parametrize("optimizer", group_options("optimizer"))
def test_flags_on_the_defaults_name_every_extra_in_one_line(optimizer, capsys):
    """The note names what +experiment=assignment changes, with the values the chosen optimiser runs with
    (its own weight decay): each key that differs, or the group it belongs to."""
    rewrite_argv(["t", "-o", optimizer, "-lr", "1e-3"])
    note = capsys.readouterr().err
    assert note.count("\n") == 1 and note.startswith("note: ") and "+experiment=assignment" in note
    named = note.partition("(")[2].partition(")")[0].split()
    default, plain = composed(f"optimizer={optimizer}"), composed(f"optimizer={optimizer}", "+experiment=assignment")
    differing = {key for key in default.keys() | plain.keys() if default.get(key) != plain.get(key)}
    assert differing and all(
        f"{key}={default[key]}" in named or any(item.startswith(f"{key.partition('.')[0]}=") for item in named)
        for key in differing
    )
    assert all(
        item.partition("=")[0] in differing or any(key.startswith(f"{item.partition('=')[0]}.") for key in differing)
        for item in named
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["+experiment=assignment", "-o", "adam"],
        ["-o", "adam", "+experiment=keras_dropout"],
        ["-m", "+sweep=grid", "-e", "2"],
        ["optimizer=adam", "trainer.epochs=2"],
    ],
    ids=["plain", "another preset", "sweep preset", "overrides only"],
)
def test_no_note_with_a_preset_or_without_flags(argv, capsys):
    rewrite_argv(["t", *argv])
    assert "note:" not in capsys.readouterr().err


def test_the_note_leaves_out_what_the_command_line_sets(capsys):
    def named_keys(*argv):
        rewrite_argv(["t", "-nhl", "3", *argv])
        return [item.partition("=")[0] for item in capsys.readouterr().err.partition("(")[2].partition(")")[0].split()]

    every = named_keys()
    assert {"loss", "model.dropout", "optimizer.weight_decay"} <= set(every)
    assert named_keys("-w_d", "0", "-l", "cross_entropy", "model.dropout=0.1") == [
        key for key in every if key not in {"loss", "model.dropout", "optimizer.weight_decay"}
    ]


def test_no_note_when_a_flag_then_fails(capsys):
    with pytest.raises(SystemExit):
        rewrite_argv(["t", "-nhl", "3", "-lr", "0"])
    assert "note:" not in capsys.readouterr().err


# ---------------------------------------------------------------------------------------- other tools' habits


@pytest.mark.parametrize(
    "argv",
    [["sweep"], ["--mode", "sweep"], ["--mode=sweep"], ["-m", "sweep"]],
    ids=["sweep", "--mode sweep", "--mode=sweep", "-m sweep"],
)
def test_starting_a_sweep_as_other_projects_do_exits_2_saying_what_to_type(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        rewrite_argv(["t", *argv])
    assert exit_info.value.code == 2
    message = capsys.readouterr().err
    assert message.startswith(f"error: {' '.join(argv[-2:] if argv[0] == '--mode' else argv[-1:])}: ")
    assert "-m +sweep=NAME" in message and message.count("\n") == 1
    assert all(name in message for name in group_options("sweep"))
    assert all(path.name in message for path in (ROOT / "multirun_sweeps").glob("*.yaml"))


def test_dash_m_before_a_word_exits_2_explaining_both_meanings(capsys):
    with pytest.raises(SystemExit) as exit_info:
        rewrite_argv(["t", "-m", "abc"])
    assert exit_info.value.code == 2
    message = capsys.readouterr().err
    assert message.startswith("error: -m abc: ") and "momentum (-m 0.9)" in message and "-m +sweep=NAME" in message


def test_a_bare_word_exits_2_but_values_of_hydra_options_and_deletions_pass(capsys):
    with pytest.raises(SystemExit) as exit_info:
        rewrite_argv(["t", "adam"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("error: adam: neither a flag nor a key=value override")
    assert rewrite_argv(["t", "--cfg", "job", "--info", "config", "~logger"]) == [
        "t",
        "--cfg",
        "job",
        "--info",
        "config",
        "~logger",
    ]


def test_train_py_sweep_exits_2_before_hydra():
    process = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "sweep"], capture_output=True, text=True, timeout=30, cwd=ROOT
    )
    assert process.returncode == 2 and "-m +sweep=NAME" in process.stderr and "EQUAL" not in process.stderr


def misspellings(flag):
    """How a flag gets mistyped: its last letter doubled (-lrr), the long form short of its last letter (--epoch;
    not --beta1 -> --beta, another flag)."""
    return [typo for typo in (flag.short + flag.short[-1], flag.long[:-1]) if typo not in BY_NAME]


@pytest.mark.parametrize("flag", FLAGS, ids=[flag.long for flag in FLAGS])
def test_a_misspelled_flag_is_named_with_a_suggestion_and_exit_2(flag, capsys):
    """The flag is named, not the value after it (which Hydra would otherwise blame, or its usage text)."""
    for typo in misspellings(flag):
        for argv in ([typo, "1"], [typo], [f"{typo}=1"], ["-o", "adam", typo.upper(), "1"]):
            with pytest.raises(SystemExit) as exit_info:
                rewrite_argv(["t", *argv])
            assert exit_info.value.code == 2
            spelled = argv[-2] if len(argv) > 1 else typo
            assert capsys.readouterr().err == (
                f"error: {spelled}: unknown flag; did you mean {flag.short} ({flag.long})? "
                "python train.py --help lists the flags\n"
            )


@pytest.mark.parametrize(
    "typo, closest",
    [
        ("--lr", "-lr (--learning_rate)"),
        ("--batch-size", "-b (--batch_size)"),
        ("--multi", "--multirun"),
        ("--cgf", "--cfg"),
    ],
)
def test_other_spellings_and_hydra_options_are_suggested_too(typo, closest, capsys):
    with pytest.raises(SystemExit) as exit_info:
        rewrite_argv(["t", typo, "x"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith(f"error: {typo}: unknown flag; did you mean {closest}? ")


def test_an_unknown_flag_far_from_every_flag_points_to_the_help(capsys):
    with pytest.raises(SystemExit):
        rewrite_argv(["t", "--xyzzy"])
    assert capsys.readouterr().err == "error: --xyzzy: unknown flag; python train.py --help lists the flags\n"


def test_the_shim_knows_every_option_of_hydra_so_none_is_taken_for_a_typo():
    from hydra._internal.utils import get_args_parser

    assert set(HYDRA_OPTIONS) == {option for action in get_args_parser()._actions for option in action.option_strings}
    argv = [
        "--cfg",
        "job",
        "--resolve",
        "-p",
        "optimizer",
        "-cn",
        "config",
        "--config-dir",
        "extra",
        "-i",
        "config",
        "--hydra-help",
        "--version",
        "-sc",
        "--run",
        "hydra/launcher=basic",
    ]
    assert rewrite_argv(["t", *argv]) == ["t", *argv]


def test_train_py_takes_joined_values_and_names_a_misspelled_flag():
    joined = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "--learning_rate=0.0123", "-o=adam", "--cfg", "job"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert joined.returncode == 0, joined.stderr
    assert OmegaConf.create(joined.stdout).optimizer.lr == 0.0123
    typo = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "-lrr", "0.1"], capture_output=True, text=True, timeout=30, cwd=ROOT
    )
    assert typo.returncode == 2 and typo.stderr.startswith("error: -lrr: unknown flag; did you mean -lr")
    assert "usage" not in typo.stderr and "Traceback" not in typo.stderr
