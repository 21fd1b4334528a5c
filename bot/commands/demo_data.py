"""`csbot demo-data`: write a large valid synthetic extract (for benchmarks)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.commands import Commands
from bot.config import Settings
from bot.demo.synthetic import generate, write_extract
from bot.errors import CommandError

MAX_PEOPLE = 100_000_000  # the synthetic SSN range (900000000 + i)


def register(commands: Commands) -> None:
    parser = commands.add_parser("demo-data", help="write a large valid synthetic extract (for benchmarks)")
    parser.add_argument("--cases", type=int, required=True)
    parser.add_argument("--months", type=int, default=12, help="months of payments per case")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    cases, months, seed, output = args.cases, args.months, args.seed, args.output
    if cases < 1:
        raise CommandError("--cases must be at least 1")
    if not 1 <= months <= 120:
        raise CommandError("--months must be between 1 and 120")
    if 2 * cases > MAX_PEOPLE:
        raise CommandError("--cases must be at most 50,000,000 (the synthetic SSN range)")
    if output is None:
        counts = write_extract(sys.stdout, cases=cases, months=months, seed=seed)
        sys.stdout.flush()
    else:
        try:
            counts = generate(output, cases=cases, months=months, seed=seed)
        except OSError as exc:
            raise CommandError(f"{output}: cannot be written ({exc.strerror or exc})") from None
    where = str(output) if output else "standard output"
    print(
        f"csbot demo-data: wrote {sum(counts.values()):,} records ({cases:,} cases, seed {seed}) to {where}",
        file=sys.stderr,
    )
    return 0
