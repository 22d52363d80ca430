"""GracefulStop: real signals sent to this process only set a flag, and are handed on afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fmnist.runs.signals import GracefulStop


@pytest.fixture
def restore_handlers():
    saved = {
        signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2)
    }
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM", "SIGUSR1", "SIGUSR2"])
def test_a_stop_signal_only_records_its_name_until_the_trainer_asks(restore_handlers, name):
    with GracefulStop() as stop:
        assert stop.reason() is None
        os.kill(os.getpid(), getattr(signal, name))
        assert name in stop.reason()  # and the process is still here
    assert signal.getsignal(getattr(signal, name)) is not stop._handle  # handlers put back on exit


def test_a_second_ctrl_c_raises_at_once(restore_handlers):
    with GracefulStop() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert stop.reason() == "Ctrl-C (SIGINT)"


def test_pass_on_hands_the_signal_to_the_handler_installed_before_then_exits(restore_handlers):
    received = []
    signal.signal(signal.SIGUSR2, lambda signum, frame: received.append(signum))  # as submitit's requeue handler
    with GracefulStop() as stop:
        os.kill(os.getpid(), signal.SIGUSR2)
    assert received == []  # not during training
    with pytest.raises(SystemExit) as exit_info:
        stop.pass_on()
    assert received == [signal.SIGUSR2] and exit_info.value.code == 128 + signal.SIGUSR2


def test_ctrl_c_exits_130_without_raising_keyboard_interrupt(restore_handlers):
    with GracefulStop() as stop:
        os.kill(os.getpid(), signal.SIGINT)
    with pytest.raises(SystemExit) as exit_info:
        stop.pass_on()
    assert exit_info.value.code == 130


def test_sigterm_stays_with_a_python_handler_that_was_there_first(restore_handlers):
    received = []
    signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))  # as submitit's "bypass"
    with GracefulStop() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert received == [signal.SIGTERM] and stop.reason() is None


def test_in_a_run_a_wandb_agent_started_sigterm_is_named_as_the_agents(restore_handlers, capfd):
    """The agent starts runs with WANDB_SWEEP_ID and WANDB_RUN_ID set; its SIGTERM is how the sweep stops one."""
    from fmnist.sweeps.wandb_agent import signal_senders

    environ = {"WANDB_SWEEP_ID": "sweep7", "WANDB_RUN_ID": "run42"}
    with GracefulStop(senders=signal_senders(environ)) as stop:
        os.kill(os.getpid(), signal.SIGTERM)
    assert stop.reason() == "SIGTERM from the wandb sweep agent (sweep sweep7, run run42)"
    assert (
        "SIGTERM from the wandb sweep agent (sweep sweep7, run run42) received: stopping after this batch"
        in capfd.readouterr().err
    )
    with GracefulStop(senders=signal_senders({})) as outside_a_sweep:
        os.kill(os.getpid(), signal.SIGTERM)
    assert outside_a_sweep.reason() == "SIGTERM"


def test_a_signal_from_a_known_sender_ends_the_process_as_the_signal_would():
    """The wandb agent counts exit codes above 0 as failed runs (and shuts down after five); a run it stopped
    dies of the SIGTERM instead, which the agent sees as -15."""
    code = (
        "import os, signal\nfrom fmnist.runs.signals import GracefulStop\n"
        "with GracefulStop(senders={signal.SIGTERM: 'the wandb sweep agent'}) as stop:\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "print('stopped by', stop.reason(), flush=True)\nstop.pass_on()\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert finished.stdout == "stopped by SIGTERM from the wandb sweep agent\n"
    assert finished.returncode == -signal.SIGTERM
