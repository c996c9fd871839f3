"""``sinergi simulate``: generate synthetic source data, with a ledger of every injected defect.

SISKOP2MI exports, Dinkes/Dinsos files and the Disnaker database; ``register`` adds the subcommand to
the ``sinergi`` CLI.

Also runnable on its own: ``python -m sinergi.simulate.cli --month 2025-07 --out .local/exports``.
"""

from __future__ import annotations

import argparse
import sys
import time

from .core import simulate


def _scale(text: str) -> str | int:
    if text.isdigit():
        return int(text)
    if text not in ("demo", "lampung", "national"):
        raise argparse.ArgumentTypeError("use demo, lampung, national or a placement row count")
    return text


def _month(text: str) -> str:
    from .model import parse_month

    try:
        parse_month(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def _rate(text: str) -> float:
    v = float(text)
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError("defect rate must be between 0 and 1")
    return v


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--month", required=True, type=_month, help="first month to generate (YYYY-MM)")
    p.add_argument("--months", type=int, default=1, help="number of consecutive months (default 1)")
    p.add_argument("--scale", type=_scale, default="demo",
                   help="demo (~300 placements/month), lampung (~2,000), national (~25,000) or a row count")
    p.add_argument("--seed", type=int, default=42, help="random seed (same seed and arguments: identical files)")
    p.add_argument("--out", required=True, help="output directory (exports, disnaker.sqlite, _defects.jsonl)")
    p.add_argument("--dinas-db", dest="dinas_db", default=None,
                   help="SQLAlchemy URL of the Disnaker database (default sqlite:///<out>/disnaker.sqlite)")
    p.add_argument("--defect-rate", dest="defect_rate", type=_rate, default=0.03,
                   help="share of rows with an injected defect (default 0.03; 0 gives clean data)")
    p.add_argument("--malformed-files", dest="malformed_files", action="store_true",
                   help="also damage some exports as real ones are (trailing delimiters, a stray quote or a "
                        "missing field on a line, an understated XLSX dimension), with ledger entries")
    p.add_argument("--format", dest="formats", action="append", default=[], metavar="DATASET=csv|xlsx",
                   help="force a file format for a dataset (repeatable)")


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``simulate`` subcommand to an argparse subparsers object."""
    p = subparsers.add_parser("simulate", help="generate synthetic source data (SISKOP2MI exports, dinas sources)",
                              description=__doc__.splitlines()[0])
    add_arguments(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    formats = {}
    for item in args.formats or []:
        name, _, fmt = item.partition("=")
        if fmt not in ("csv", "xlsx"):
            print(f"--format {item!r}: expected DATASET=csv or DATASET=xlsx", file=sys.stderr)
            return 2
        formats[name] = fmt
    t0 = time.perf_counter()
    res = simulate(args.out, month=args.month, months=args.months, scale=args.scale, seed=args.seed,
                   defect_rate=args.defect_rate, dinas_db_url=args.dinas_db, formats=formats or None,
                   malformed_files=args.malformed_files)
    elapsed = time.perf_counter() - t0
    print(f"simulated {len(res.months)} month(s) {res.months[0]}..{res.months[-1]}: {res.total_rows:,} rows, "
          f"{len(res.files)} files, {res.defects} ledger entries in {elapsed:.1f} s")
    print(f"  files under {res.out_dir}; database {res.dinas_db_url.split('@')[-1]}; ledger {res.ledger_path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="sinergi simulate", description=__doc__.splitlines()[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
