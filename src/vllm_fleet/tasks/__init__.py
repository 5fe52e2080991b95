"""vllm-fleet's invoke tasks (wired in tasks.py).

`invoke TASK --help` must print TASK's help. invoke 3.0.3's parser instead feeds ``--help`` to a
task whose positional arguments are not filled yet, so `invoke render --help` ran the task with
``target="--help"`` (pyinvoke/invoke#982; the upstream fix, pyinvoke/invoke#1078, is not
released). ``_help_first`` applies that fix's two parts until a release carries it: ``--help``
and ``-h`` after a task name are the help flag, never a positional value, and a context whose
help was asked for is not refused for its missing positional arguments.
"""

from __future__ import annotations

from invoke.parser.parser import ParseMachine

_HELP = ("--help", "-h")


def _help_first() -> None:
    handle, complete_context = ParseMachine.handle, ParseMachine.complete_context
    if getattr(handle, "_vllm_fleet", False):
        return

    def handle_help_first(self: ParseMachine, token: str) -> None:
        helping = (
            token in _HELP
            and self.context is not None
            and self.initial is not None
            and token in self.initial.flags
            and not self.waiting_for_flag_value
            and token not in self.context.flags
        )
        if helping:
            self.initial.flags[token].value = self.context.name
            return
        handle(self, token)

    def complete_context_after_help(self: ParseMachine) -> None:
        help_flag = self.initial.flags.get("--help") if self.initial else None
        if (
            help_flag is not None
            and self.context is not None
            and help_flag.value == self.context.name
        ):
            for arg in self.context.missing_positional_args:
                arg.set_value("", cast=False)  # never used: help is printed, nothing runs
        complete_context(self)

    handle_help_first._vllm_fleet = True  # type: ignore[attr-defined]
    ParseMachine.handle = handle_help_first  # type: ignore[method-assign]
    ParseMachine.complete_context = complete_context_after_help  # type: ignore[method-assign]


_help_first()
