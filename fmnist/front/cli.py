"""The assignment's command-line flags, turned into Hydra overrides before Hydra reads argv.

    python train.py -o adam -lr 1e-4 -nhl 3 -sz 128 -a tanh model.dropout=0.1

Each flag of :data:`FLAGS` becomes one override (``-lr 1e-4`` -> ``optimizer.lr=0.0001``, ``-o adam``
-> ``optimizer=adam``); everything else (overrides, ``--multirun``, ``--cfg job``, ``hydra.*``) passes
through in order. Choices are case-insensitive and come from the files in ``conf/``, so a new
``conf/optimizer/eve.yaml`` makes ``-o eve`` valid; group overrides (``optimizer=Adam``,
``+experiment=...``) are checked against the same files, so an unknown option gets the same exit 2.
In a multirun a flag takes Hydra's sweep syntax: every value of ``-lr 1e-3,1e-4`` is checked;
``range(...)``/``choice(...)`` pass as they are.

A flag's value follows it (``-lr 0.01``) or is joined by ``=`` (``-lr=0.01``, ``--learning_rate=0.01``),
as argparse allows. A dash word that is neither one of :data:`FLAGS` nor one of Hydra's options (``-lrr``,
``--epoch``) exits with status 2, naming the closest flag.

``-m`` is both the assignment's ``--momentum`` and Hydra's ``--multirun``: followed by a number (or a
comma list of numbers) it is momentum, otherwise (nothing, another flag, ``key=value``) multirun;
``-m=0.9`` is momentum.

``-nhl``/``-sz`` (and the overrides ``model.num_layers=``/``model.hidden_size=``) describe an ``mlp``
(num_layers x hidden_size), so they also select ``model=mlp`` unless the command line picks a model
itself (``model=``, or a preset: ``+experiment=``, ``+sweep=``): the default model, ``wide``, lists its
layer sizes, which would otherwise win.

A flag the chosen optimiser does not take (``-beta`` with adam: the keys of conf/optimizer/NAME.yaml
decide), or ``-wp``/``-we`` with ``logger=none``, is dropped with a one-line warning.
When a multirun sweeps several optimisers and only some take it, it becomes ``++optimizer.KEY=V``
and the others ignore it (fmnist.front.experiment drops keys an optimiser does not accept, with a warning).

Flags without a preset run on top of the default config's extras (dropout, label smoothing, ...): one
``note:`` line names those in effect, the settings ``+experiment=assignment`` changes (:func:`extras_note`).
Bad values exit with status 2 and ``error: FLAG VALUE: what is allowed`` (the rule of the flag's key in
fmnist.config.settings.SCHEMA); so do other tools' habits
(``sweep``, ``--mode sweep``, ``-m abc``), with what to type instead. Only the standard library,
omegaconf and (for ``--help``) hydra are imported, so the shim is fast.
"""

from __future__ import annotations

import argparse
import difflib
import math
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from fmnist import CONF_DIR
from fmnist.config.files import default_choices, group_options, optimizer_keys, optimizers_taking, preset_settings
from fmnist.config.settings import SCHEMA, Allowed

MULTIRUN = "--multirun"
SHAPE_KEYS = ("model.num_layers", "model.hidden_size")  # meaningful for model=mlp only
MODEL_CHOOSERS = ("model=", "experiment=", "sweep=", "study=")  # overrides that pick the model (presets pick their own)
# +experiment=NAME, +sweep=NAME, +study=NAME: files that pin a whole setup
PRESET_GROUPS = ("experiment", "sweep", "study")
PLAIN_PRESET = ("experiment", "assignment")  # the assignment's setting without this project's extras


class FlagError(ValueError):
    """A flag value that is not allowed; the message says what is."""


def _number(kind: type, text: str):
    try:
        value = kind(text)
    except ValueError:
        raise FlagError(f"not {'an integer' if kind is int else 'a number'}") from None
    if kind is float and not math.isfinite(value):
        raise FlagError("must be a finite number")
    return value


def checked_value(rule: Allowed, text: str):
    """``text`` read as the rule's kind of value, if the rule (the key's in the settings schema) allows it."""
    value = _number(rule.number, text) if rule.number in (int, float) else text
    if not rule.accepts(value):
        raise FlagError(f"must be {rule.text}")
    return value


@dataclass(frozen=True)
class Flag:
    short: str
    long: str
    key: str  # override key, or the config group for choice flags
    help: str

    @property
    def label(self) -> str:
        return f"{self.short}/{self.long}"

    @property
    def check(self) -> Allowed | None:
        """The rule of the flag's key in the settings schema; None: a choice among the files of conf/<key>/."""
        return SCHEMA.get(self.key)


FLAGS = (
    Flag("-wp", "--wandb_project", "logger.project", "wandb project"),
    Flag("-we", "--wandb_entity", "logger.entity", "wandb entity (user or team)"),
    Flag("-d", "--dataset", "dataset", "dataset"),
    Flag("-e", "--epochs", "trainer.epochs", "training epochs"),
    Flag("-b", "--batch_size", "trainer.batch_size", "mini-batch size"),
    Flag("-l", "--loss", "loss", "loss function"),
    Flag("-o", "--optimizer", "optimizer", "optimiser"),
    Flag("-lr", "--learning_rate", "optimizer.lr", "learning rate"),
    Flag("-m", "--momentum", "optimizer.momentum", "momentum"),
    Flag("-beta", "--beta", "optimizer.beta", "decay of the squared-gradient average"),
    Flag("-beta1", "--beta1", "optimizer.beta1", "first-moment decay"),
    Flag("-beta2", "--beta2", "optimizer.beta2", "second-moment decay"),
    Flag("-eps", "--epsilon", "optimizer.epsilon", "epsilon added to the denominator"),
    Flag("-w_d", "--weight_decay", "optimizer.weight_decay", "L2 weight decay"),
    Flag("-w_i", "--weight_init", "init", "weight initialisation"),
    Flag("-nhl", "--num_layers", "model.num_layers", "number of hidden layers"),
    Flag("-sz", "--hidden_size", "model.hidden_size", "units per hidden layer"),
    Flag("-a", "--activation", "activation", "hidden-layer activation"),
)
BY_NAME = {spelling: flag for flag in FLAGS for spelling in (flag.short, flag.long)}


def _fail(flag: Flag, value: str, reason: str) -> None:
    print(f"error: {flag.label} {value}: {reason}", file=sys.stderr)
    sys.exit(2)


def option_named(conf_dir: Path, group: str, value: str) -> str:
    """The option of conf/<group>/ that ``value`` names, case-insensitively, spelled as its file."""
    options = group_options(conf_dir, group)
    match = next((option for option in options if option.lower() == value.lower()), None)
    if match is None:
        raise FlagError(f"choose from {', '.join(options)}")
    return match


def _normalise(flag: Flag, value: str, conf_dir: Path) -> str:
    """One checked value, written as the override expects it."""
    try:
        if flag.check is None:
            return option_named(conf_dir, flag.key, value)
        checked = checked_value(flag.check, value)
        return repr(checked) if isinstance(checked, float) else str(checked)
    except FlagError as error:
        _fail(flag, value, str(error))


def _values(flag: Flag, value: str, in_multirun: bool, conf_dir: Path) -> str:
    """The flag's value for the override: one checked value, or a checked comma list in a multirun."""
    if "(" in value:  # a Hydra sweep function such as range(1,4) or choice(a,b)
        if not in_multirun:
            _fail(flag, value, "sweep syntax needs --multirun")
        return value
    parts = value.split(",")
    if len(parts) > 1 and not in_multirun:
        _fail(flag, value, f"a list of values needs --multirun (e.g. python train.py --multirun {flag.short} {value})")
    return ",".join(_normalise(flag, part.strip(), conf_dir) for part in parts)


def _checked_group_choice(override: str, conf_dir: Path) -> str:
    """``group=option`` (``+experiment=...``, a comma list in a multirun) with every option checked against
    the files of conf/<group>/ and spelled as its file (``optimizer=Adam`` -> ``optimizer=adam``).

    Other overrides, Hydra's own groups (``hydra/launcher=joblib``), ``null`` and sweep functions such
    as ``choice(...)`` pass unchanged. An unknown option exits with status 2 and the allowed ones.
    """
    body = override.lstrip("+~")
    key, sep, value = body.partition("=")
    if not sep or "/" in key or "(" in value or value in ("", "null") or not (conf_dir / key).is_dir():
        return override
    chosen = []
    for part in value.split(","):
        try:
            chosen.append(option_named(conf_dir, key, part.strip()))
        except FlagError as error:
            print(f"error: {override}: {key} has no option {part.strip()!r}; {error}", file=sys.stderr)
            sys.exit(2)
    return f"{override[: len(override) - len(body)]}{key}={','.join(chosen)}"


PRUNER_GROUP = "hydra/sweeper/pruner"
PRUNING_SWEEPER = "optuna_study"


def sweeper_chosen(items: list, conf_dir: Path) -> str:
    """The sweeper a command picks: ``hydra/sweeper=NAME``, else the one its ``+sweep=`` or ``+study=`` preset
    puts in (``override /hydra/sweeper: NAME`` in its defaults), else Hydra's basic sweeper."""
    chosen = "basic"
    for item in items:
        if not isinstance(item, str):
            continue
        key, _, value = item.lstrip("+").partition("=")
        if key == "hydra/sweeper":
            return value
        folders = {"sweep": conf_dir / "sweep", "study": conf_dir.parent / "studies" / "conf" / "study"}
        if key in folders and (folders[key] / f"{value}.yaml").is_file():
            for entry in OmegaConf.to_container(OmegaConf.load(folders[key] / f"{value}.yaml")).get("defaults", []):
                if isinstance(entry, dict):
                    chosen = entry.get("override /hydra/sweeper", chosen)
    return chosen


def check_pruning(items: list, in_multirun: bool, conf_dir: Path) -> None:
    """Exit 2 when a pruner (``hydra/sweeper/pruner=NAME``, ``hydra.sweeper.pruner.KEY=...``) is unknown or
    given where nothing prunes: a single run, or a sweep by another sweeper than the Optuna one."""
    pruning = [
        item
        for item in items
        if isinstance(item, str) and item.lstrip("+~").startswith((PRUNER_GROUP, "hydra.sweeper.pruner"))
    ]
    if not pruning:
        return
    override = pruning[0]
    key, _, value = override.lstrip("+~").partition("=")
    options = group_options(conf_dir, PRUNER_GROUP)
    if key == PRUNER_GROUP and value not in options:
        _stop(f"{override}: {PRUNER_GROUP} has no option {value!r}; choose from {', '.join(options)}")
    if not in_multirun:
        _stop(
            f"{override}: a pruner stops trials of a sweep, and this is a single run; run a sweep by the Optuna "
            f"sweeper: python train.py -m +sweep=optuna {override} (docs/pruning.md)"
        )
    sweeper = sweeper_chosen(items, conf_dir)
    if sweeper != PRUNING_SWEEPER:
        _stop(
            f"{override}: the {sweeper} sweeper does not prune; only hydra/sweeper={PRUNING_SWEEPER} does: use "
            f"+sweep=optuna, or +sweep=grid_pruned for the assignment grid (docs/pruning.md)"
        )


def _is_number_list(token: str) -> bool:
    try:
        return all(math.isfinite(float(part)) for part in token.split(","))
    except ValueError:
        return False


def _stop(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def sweep_advice(conf_dir: Path) -> str:
    """How to start a sweep: the presets of conf/sweep/ and the wandb sweep files beside conf/."""
    wandb_files = sorted(path.name for path in (conf_dir.parent / "multirun_sweeps").glob("*.yaml"))
    sweep_names = ", ".join(group_options(conf_dir, "sweep"))
    return (
        f"a sweep is a multirun: python train.py -m +sweep=NAME (NAME: {sweep_names}) "
        "or -m KEY=V1,V2 (e.g. -m optimizer=adam,nadam); a wandb sweep: wandb sweep multirun_sweeps/FILE, "
        f"then wandb agent SWEEP_ID (FILE: {', '.join(wandb_files)})"
    )


def _refuse_word(word: str, after_dash_m: bool, conf_dir: Path) -> None:
    """Stop on a bare word (no ``=``, no dash), which Hydra would reject as "missing EQUAL"."""
    if word.lower() in ("sweep", "multirun"):
        _stop(f"{word}: train.py takes no command words; {sweep_advice(conf_dir)}")
    if after_dash_m:
        _stop(
            f"-m {word}: -m followed by a number is the momentum (-m 0.9); followed by key=value overrides it "
            "starts a multirun (-m optimizer=adam,nadam, -m +sweep=NAME)"
        )
    _stop(
        f"{word}: neither a flag nor a key=value override (e.g. optimizer=adam); python train.py --help lists the flags"
    )


def _split_flags(argv: list[str], conf_dir: Path) -> tuple[list[tuple[Flag, str] | str], bool]:
    """Tokens in order: (flag, raw value) pairs or pass-through strings; and whether it is a multirun.

    Stops with exit 2 on what other tools' habits bring: ``--mode sweep``, a bare word such as ``sweep``.
    """
    items, in_multirun, index = [], False, 0
    while index < len(argv):
        token = argv[index]
        previous = argv[index - 1] if index else None
        following = argv[index + 1] if index + 1 < len(argv) else None
        if token == "--mode" or token.startswith("--mode="):
            typed = f"{token} {following}" if token == "--mode" and following else token
            _stop(f"{typed}: train.py has no --mode; it trains once by default, and {sweep_advice(conf_dir)}")
        if token == "-m" and (following is None or not _is_number_list(following)):
            token = MULTIRUN
        # a dash word's value may be joined by "=", as argparse allows: --learning_rate=0.01, -lr=0.01, --cfg=job
        spelling, joined, inline = token.partition("=") if token.startswith("-") else (token, "", "")
        if token == MULTIRUN:
            in_multirun = True
            items.append(token)
        elif spelling in BY_NAME:
            if joined:
                items.append((BY_NAME[spelling], inline))
            elif following is None:
                _fail(BY_NAME[spelling], "", "needs a value")
            else:
                items.append((BY_NAME[spelling], following))
                index += 1
        elif spelling.startswith("-") and spelling not in HYDRA_OPTIONS:
            _stop(f"{spelling}: unknown flag; {_closest_flag(spelling)}python train.py --help lists the flags")
        else:
            if (
                not token.startswith(("-", "~"))
                and "=" not in token
                and previous not in (*HYDRA_OPTIONS_WITH_VALUE, *HYDRA_INFO)
            ):
                _refuse_word(token, previous == "-m", conf_dir)
            items.append(token)
        index += 1
    return items, in_multirun


def _closest_flag(spelling: str) -> str:
    """``did you mean -lr (--learning_rate)? `` for ``-lrr``: the assignment flag or Hydra option spelled most
    like it, case aside; empty when none is close."""
    closest = difflib.get_close_matches(spelling.lower(), [*BY_NAME, *HYDRA_OPTIONS], n=1)
    if not closest:
        return ""
    flag = BY_NAME.get(closest[0])
    return f"did you mean {f'{flag.short} ({flag.long})' if flag else closest[0]}? "


def _chosen_optimizers(items, conf_dir: Path) -> list[str]:
    for item in items:
        if isinstance(item, tuple) and item[0].key == "optimizer":
            return [part.strip().lower() for part in item[1].split(",")]
        if isinstance(item, str) and item.startswith("optimizer="):
            value = item.partition("=")[2]
            value = value.removeprefix("choice(").removesuffix(")")
            return [part.strip() for part in value.split(",")]
    return [default_choices(conf_dir).get("optimizer", "")]


def _optimizer_override(flag: Flag, value: str, optimizers: list[str], conf_dir: Path) -> str | None:
    """``optimizer.KEY=V`` if every chosen optimiser takes KEY, ``++optimizer.KEY=V`` if some do, else None.

    Optimisers that are no file of conf/optimizer/ (a sweep function such as ``glob(*)``) are not judged.
    """
    key = flag.key.partition(".")[2]
    optimizers = [optimizer for optimizer in optimizers if optimizer in group_options(conf_dir, "optimizer")]
    users = [optimizer for optimizer in optimizers if key in optimizer_keys(conf_dir, optimizer)]
    others = [optimizer for optimizer in optimizers if optimizer not in users]
    if not others:
        return f"{flag.key}={value}"
    ignored = "optimizer " + ", ".join(others)
    if not users:
        uses = ", ".join(optimizer_keys(conf_dir, others[0]))
        print(f"warning: {flag.label} is not used by {ignored} (it uses {uses}); ignored", file=sys.stderr)
        return None
    print(f"warning: {flag.label} is not used by {ignored}; only {', '.join(users)} will use it", file=sys.stderr)
    return f"++{flag.key}={value}"


class WholeNamesHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Wraps a flag's help between words only: an option's name (``smoothed_cross_entropy``, a file name
    with a hyphen) is never broken across two lines, however many options conf/ holds."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_long_words=False, break_on_hyphens=False)


def help_text(conf_dir: Path = CONF_DIR) -> str:
    """The flag table with choices and defaults, for ``--help``."""
    parser = argparse.ArgumentParser(
        prog="python train.py",
        add_help=False,
        formatter_class=WholeNamesHelpFormatter,
        description="Train a NumPy MLP. Flags below and Hydra overrides (key=value) can be mixed.",
        epilog="-m followed by a number is --momentum; -m alone or before key=value is Hydra's --multirun.\n"
        "In a multirun, flags take sweep syntax: -lr 1e-3,1e-4  -o adam,nadam.\n"
        "Hydra's own help follows.",
    )
    defaults = flag_defaults(conf_dir)
    for flag in FLAGS:
        parser.add_argument(
            flag.short, flag.long, metavar=flag.long.lstrip("-").upper(), help=flag_help(flag, conf_dir, defaults)
        )
    return parser.format_help()


def flag_help(flag: Flag, conf_dir: Path, defaults: dict[str, object]) -> str:
    """``optimiser {adam, adamw, ...} -> optimizer (default: adamw)``; the choices, and the optimisers that take
    an optimiser key when not all do, are read from conf/."""
    text = flag.help
    if flag.check is None:
        text += f" {{{', '.join(group_options(conf_dir, flag.key))}}}"  # spaces: wrap points between names
    group, _, key = flag.key.partition(".")
    if group == "optimizer" and key:
        takers = optimizers_taking(conf_dir, key)
        if len(takers) < len(group_options(conf_dir, "optimizer")):
            text += f" ({', '.join(takers)})"
    return f"{text} -> {flag.key} (default: {defaults.get(flag.key, 'n/a')})"


def flag_defaults(conf_dir: Path = CONF_DIR) -> dict[str, object]:
    """Override key -> its value in the composed default config (what ``python train.py`` runs).

    Keys the default optimiser does not take list the value of each optimiser that does; the layer
    flags say which model they apply to when the default model lists its layer sizes instead.
    """
    from hydra import compose, initialize_config_dir  # only for --help: the shim must start fast

    with initialize_config_dir(version_base="1.3", config_dir=str(conf_dir.resolve())):
        config = compose("config", return_hydra_config=True)
    choices = OmegaConf.to_container(config.hydra.runtime.choices)
    defaults: dict[str, object] = {flag.key: OmegaConf.select(config, flag.key) for flag in FLAGS}
    defaults.update({flag.key: choices[flag.key] for flag in FLAGS if flag.key in choices})
    for flag in FLAGS:
        group, _, key = flag.key.partition(".")
        if group == "optimizer" and key and key not in config.optimizer:
            values = {
                option: OmegaConf.load(conf_dir / "optimizer" / f"{option}.yaml")[key]
                for option in optimizers_taking(conf_dir, key)
            }
            defaults[flag.key] = ", ".join(f"{value} for {option}" for option, value in values.items())
    if config.model.get("hidden_sizes"):
        layers = "-".join(str(size) for size in config.model.hidden_sizes)
        for key in SHAPE_KEYS:
            defaults[key] = f"{defaults[key]} with model=mlp; the default model {choices['model']} is {layers}"
    return defaults


#: Hydra's own options: those that take a value, the one that takes one optionally, those that take none.
HYDRA_OPTIONS_WITH_VALUE = (
    "--cfg",
    "-c",
    "--package",
    "-p",
    "--config-path",
    "-cp",
    "--config-name",
    "-cn",
    "--config-dir",
    "-cd",
    "--experimental-rerun",
)
HYDRA_INFO = ("--info", "-i")
HYDRA_SWITCHES = (
    "--help",
    "-h",
    "--hydra-help",
    "--version",
    "--resolve",
    "--run",
    "-r",
    MULTIRUN,
    "-m",
    "--shell-completion",
    "-sc",
)
HYDRA_OPTIONS = (*HYDRA_OPTIONS_WITH_VALUE, *HYDRA_INFO, *HYDRA_SWITCHES)


def hydra_options_first(tokens: list[str]) -> list[str]:
    """Hydra's options before the overrides: Hydra's parser rejects overrides on both sides of an option."""
    options, overrides, index = [], [], 0
    while index < len(tokens):
        token = tokens[index]
        if token.startswith("-"):
            takes_value = token in HYDRA_OPTIONS_WITH_VALUE or (
                token in HYDRA_INFO and index + 1 < len(tokens) and "=" not in tokens[index + 1]
            )
            options += tokens[index : index + 2] if takes_value else [token]
            index += 2 if takes_value else 1
        else:
            overrides.append(token)
            index += 1
    return options + overrides


def _item_key(item: tuple[Flag, str] | str) -> str:
    """The config key a flag or an override sets: ``-lr`` -> optimizer.lr, ``++model.dropout=0`` -> model.dropout."""
    return item[0].key if isinstance(item, tuple) else item.lstrip("+~").partition("=")[0]


def _sets_layer_shape(item: tuple[Flag, str] | str) -> bool:
    """A ``-nhl``/``-sz`` flag or a ``model.num_layers=``/``model.hidden_size=`` override."""
    return (isinstance(item, tuple) or "=" in item) and _item_key(item) in SHAPE_KEYS


def default_value(conf_dir: Path, key: str, chosen: dict[str, str] | None = None):
    """What ``python train.py`` runs for ``key``: a group's chosen option, or a value of config.yaml or of
    the chosen option's file (``model.dropout`` -> 0.2); ``chosen`` (group -> option) replaces the
    defaults' choices, as ``-o adamw`` does for ``optimizer.weight_decay``."""
    choices = {**default_choices(conf_dir), **(chosen or {})}
    if key in choices:
        return choices[key]
    value = OmegaConf.select(OmegaConf.load(conf_dir / "config.yaml"), key)
    group, _, rest = key.partition(".")
    if value is None and group in choices:
        value = OmegaConf.select(OmegaConf.load(conf_dir / group / f"{choices[group]}.yaml"), rest)
    return value


def extras_note(items: list[tuple[Flag, str] | str], conf_dir: Path) -> str | None:
    """One line naming the project's extras that assignment flags run on top of; None without a flag
    about training (``-wp``/``-we`` only say where to track) or with a preset. The extras are the settings of
    conf/experiment/assignment.yaml that the default config does differently and that the command line leaves
    alone."""
    typed = {_item_key(item) for item in items if isinstance(item, tuple) or "=" in item}
    trains = [item for item in items if isinstance(item, tuple) and not item[0].key.startswith("logger.")]
    if not trains or typed & set(PRESET_GROUPS):
        return None
    if typed & set(SHAPE_KEYS):
        typed.add("model")  # -nhl/-sz select model=mlp
    optimizers = [
        name for name in _chosen_optimizers(items, conf_dir) if (conf_dir / "optimizer" / f"{name}.yaml").is_file()
    ]
    chosen = {"optimizer": optimizers[0]} if len(optimizers) == 1 else {}
    group, name = PLAIN_PRESET
    plain = {
        key: value for key, value in preset_settings(conf_dir / group / f"{name}.yaml").items() if key not in typed
    }
    ours = {key: default_value(conf_dir, key, chosen) for key in plain}
    extras = [f"{key}={ours[key]}" for key, value in plain.items() if ours[key] != value]
    if not extras:
        return None
    return (
        f"note: the flags run on top of this project's extras ({' '.join(extras)}); "
        f"+{group}={name} turns them all off (the assignment's plain setting)"
    )


def rewrite_argv(argv: list[str], conf_dir: Path = CONF_DIR) -> list[str]:
    """``argv`` with every assignment flag replaced by its Hydra override (argv[0] kept)."""
    program, arguments = argv[0], list(argv[1:])
    if "--help" in arguments or "-h" in arguments:
        print(help_text(conf_dir))
        return [program, "--help"]
    items, in_multirun = _split_flags(arguments, conf_dir)
    check_pruning(items, in_multirun, conf_dir)
    # group overrides in their files' spelling first, so what follows reads `optimizer=adam`, `logger=none`
    items = [_checked_group_choice(item, conf_dir) if isinstance(item, str) else item for item in items]
    optimizers = _chosen_optimizers(items, conf_dir)
    needs_mlp = not any(isinstance(item, str) and item.lstrip("+").startswith(MODEL_CHOOSERS) for item in items)
    tracking_off = "logger=none" in items
    rewritten = []
    for item in items:
        if needs_mlp and _sets_layer_shape(item):
            rewritten.append("model=mlp")  # layer count/size describe an mlp; the default model lists its layers
            needs_mlp = False
        if isinstance(item, str):
            rewritten.append(item)
            continue
        flag, raw = item
        value = _values(flag, raw, in_multirun, conf_dir)
        if tracking_off and flag.key.startswith("logger."):
            print(f"warning: {flag.label} is not used with logger=none (no tracking); ignored", file=sys.stderr)
        elif flag.key.startswith("optimizer."):
            override = _optimizer_override(flag, value, optimizers, conf_dir)
            if override:
                rewritten.append(override)
        else:
            rewritten.append(f"{flag.key}={value}")
    note = extras_note(items, conf_dir)  # once every value is checked: no note before an error
    if note:
        print(note, file=sys.stderr)
    return [program, *hydra_options_first(rewritten)]
