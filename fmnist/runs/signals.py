"""Stopping a run at a batch boundary when asked, instead of wherever the signal lands.

Ctrl-C (SIGINT), SIGTERM (``kill``; SLURM at a time limit or preemption) and SIGUSR1/SIGUSR2 (the
warning signals SLURM sends ahead of a time limit with ``--signal``; submitit asks for USR2) only
set a flag while :class:`GracefulStop` is active. The trainer reads the flag after each batch,
stops, and the run ends normally: files written, status ``interrupted``. A second Ctrl-C raises
KeyboardInterrupt at once. :meth:`GracefulStop.pass_on` then hands the signal to the handler that
was installed before (submitit's, which requeues the job) or exits with 128 + the signal number.

SIGTERM is taken over only when nothing in the process handles it yet: submitit ignores it on purpose
(SLURM sends it to every process of a preempted job) and acts on the USR2 that comes with it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGUSR1", "SIGUSR2") if hasattr(signal, name)
)
#: Signals left to a Python handler that is already installed (see the module docstring).
LEFT_TO_EXISTING_HANDLERS = (signal.SIGTERM,)


class GracefulStop:
    """Context manager: while active, the signals of :data:`STOP_SIGNALS` ask to stop (``reason()``)."""

    def __init__(self, senders: dict[signal.Signals, str] | None = None):
        self.received: signal.Signals | None = None
        self.previous_handlers: dict = {}
        self.senders = senders or {}  # who sends a signal, where that is known (fmnist.sweeps.wandb_agent)

    def __enter__(self) -> "GracefulStop":
        if threading.current_thread() is threading.main_thread():  # Python handles signals there only
            for signum in STOP_SIGNALS:
                if signum in LEFT_TO_EXISTING_HANDLERS and callable(signal.getsignal(signum)):
                    continue
                self.previous_handlers[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self.previous_handlers.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame) -> None:
        if self.received is not None:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt  # a second Ctrl-C: the user means now
            return
        self.received = signal.Signals(signum)
        hint = " (Ctrl-C again to stop at once)" if signum == signal.SIGINT else ""
        # os.write, not print: a signal handler may run in the middle of another write to stderr
        os.write(sys.stderr.fileno(), f"\n{self.reason()} received: stopping after this batch{hint}\n".encode())

    def reason(self) -> str | None:
        """The name of the signal that asked to stop (with "Ctrl-C" for SIGINT) and who sent it if that is
        known ("SIGTERM from the wandb sweep agent (sweep ..., run ...)"), or None."""
        if self.received is None:
            return None
        name = "Ctrl-C (SIGINT)" if self.received == signal.SIGINT else self.received.name
        sender = self.senders.get(self.received)
        return f"{name} from {sender}" if sender else name

    def pass_on(self) -> None:
        """Give the signal to the handler that was there before ours, then exit with 128 + its number; or,
        for a signal from a known sender, end the process as the signal's default action would.

        The wandb agent counts a run whose exit code is above 0 as failed and shuts down after five of those,
        while a run that died of its SIGTERM (exit code -15 to the agent) is a stopped run.
        """
        if self.received in self.senders:
            signal.signal(self.received, signal.SIG_DFL)
            os.kill(os.getpid(), self.received)
        handler = self.previous_handlers.get(self.received)
        if callable(handler) and handler is not signal.default_int_handler:
            handler(self.received, None)  # e.g. submitit's: requeues the job and exits
        sys.exit(128 + int(self.received))
