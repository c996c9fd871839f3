"""``sinergi`` command line: the embedded store, the simulator, and the monthly run on local defaults.

    sinergi store up|down|status         embedded SeaweedFS S3 store under .local/store
    sinergi store rotate <identity>      new key pair for a party (or 'pipeline'); restart to apply
    sinergi simulate --month 2025-07 --out DIR [...]
    sinergi run --month 2025-07          simulate (or use --exports-dir) and run the DAGs via Airflow
    sinergi summary --month 2025-07      what each party received, and how to read it
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from pathlib import Path

from sinergi import settings


def _month(value: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise argparse.ArgumentTypeError(f"month must look like YYYY-MM, got {value!r}")
    return value


def cmd_store(args) -> int:
    from sinergi.store import EmbeddedStore, StoreStartError

    store = EmbeddedStore(s3_port=args.port)
    if args.action == "up":
        try:
            print(store.up())
        except StoreStartError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"credentials: {settings.credentials_dir(store.home)}/<party>.env  (pipeline.env for the pipeline)")
    elif args.action == "down":
        print("store stopped" if store.down() else "store was not running")
    elif args.action == "status":
        status = store.status()
        print(status)
        return 0 if status.running else 3
    elif args.action == "rotate":
        if not args.identity:
            print("error: name the identity to rotate (a party or 'pipeline')", file=sys.stderr)
            return 2
        store.rotate(args.identity)
        running = store.status().running
        if running:
            store.down()
            store.up()
        print(f"new credentials for {args.identity!r} written to {settings.credentials_dir(store.home) / (args.identity + '.env')}"
              + (" (store restarted)" if running else " (apply with `sinergi store up`)"))
    return 0


def cmd_run(args) -> int:
    from sinergi import localairflow, report
    from sinergi.store import EmbeddedStore, StoreStartError

    home = settings.home()
    try:
        status = EmbeddedStore(s3_port=args.port).up()
    except StoreStartError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"[1/4] object store: {status}")
    if args.exports_dir:
        exports = Path(args.exports_dir).resolve()
        if not exports.is_dir():
            print(f"error: --exports-dir {exports} is not a directory", file=sys.stderr)
            return 2
        print(f"[2/4] sources: using the exports you provided in {exports}")
    else:
        from sinergi.simulate import simulate

        exports = home / "sources"
        result = simulate(exports, month=args.month, months=1, scale=args.scale, seed=args.seed)
        total = sum(result.rows.values())
        print(f"[2/4] sources: simulated {total} rows for {args.month} into {exports} (seed {args.seed}, scale {args.scale})")
    env = localairflow.airflow_env(home)
    env["SINERGI_EXPORTS_DIR"] = str(exports)
    env.setdefault("SINERGI_DISNAKER_DB_URL", f"sqlite:///{exports / 'disnaker.sqlite'}")
    log_path = home / "logs" / f"run-{args.month}.log"
    log_path.unlink(missing_ok=True)
    print(f"[3/4] airflow: metadata in {env['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN']}; log {log_path}")
    localairflow.migrate(env, log_path)
    failures = []
    for scope in args.scopes:
        try:
            localairflow.dags_test(scope, args.month, env, log_path)
            print(f"      {localairflow.DAG_IDS[scope]}: success")
        except localairflow.AirflowRunError as e:
            failures.append(str(e))
            print(f"      {localairflow.DAG_IDS[scope]}: FAILED\n{e}", file=sys.stderr)
    print("[4/4] published:")
    print(report.summary_text(args.month, home))
    return 1 if failures else 0


def cmd_summary(args) -> int:
    from sinergi import report

    print(report.summary_text(args.month, settings.home()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sinergi", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("store", help="manage the embedded object store")
    p.add_argument("action", choices=["up", "down", "status", "rotate"])
    p.add_argument("identity", nargs="?", help="for rotate: a party name or 'pipeline'")
    p.add_argument("--port", type=int, default=None, help="S3 port (default SINERGI_S3_PORT or 8333)")
    p.set_defaults(func=cmd_store)

    try:
        from sinergi.simulate import cli as simulate_cli

        simulate_cli.register(sub)
    except ImportError:  # pragma: no cover - simulator not installed
        pass

    p = sub.add_parser("run", help="run the monthly DAGs for a month on the embedded defaults")
    p.add_argument("--month", type=_month, default=os.environ.get("MONTH") or "2025-07")
    p.add_argument("--exports-dir", default=os.environ.get("EXPORTS_DIR") or None,
                   help="use these export files instead of simulated ones")
    p.add_argument("--scale", default="demo", help="simulator scale (demo|lampung|national|<rows>)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--scope", dest="scopes", action="append", choices=["national", "provincial"],
                   help="which DAG(s) to run (default: both)")
    p.add_argument("--port", type=int, default=None, help="S3 port of the embedded store")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("summary", help="what each party received for a month, and how to read it")
    p.add_argument("--month", type=_month, default=os.environ.get("MONTH") or "2025-07")
    p.set_defaults(func=cmd_summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    if getattr(args, "command", None) == "run" and not args.scopes:
        args.scopes = ["national", "provincial"]
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
