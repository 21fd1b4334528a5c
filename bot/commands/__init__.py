"""One module per `csbot` verb. Each has `register(commands)`, which adds its parser and sets
`run` as its default, and `run(args, settings) -> int`. `bot.cli` only assembles the parser,
calls `args.run` and prints the errors (`bot.errors`) they raise."""

from __future__ import annotations

import argparse
from typing import TypeAlias

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
