"""``sinergi`` command line: the embedded store, the simulator, and the monthly run on local defaults.

    sinergi store up|down|status         embedded SeaweedFS S3 store under .local/store
    sinergi store rotate <identity>      new key pair for a party (or 'pipeline'); restart to apply
    sinergi simulate --month 2025-07 --out DIR [...]
    sinergi run --month 2025-07          simulate (or use --exports-dir) and run the DAGs via Airflow
    sinergi summary --month 2025-07      what each party received, and how to read it
    sinergi report --month 2025-07       the monthly indicators and report of each party (from the trusted zone)
    sinergi report --year 2025           the yearly monitoring and evaluation report of each party (MoU Art. 7)
    sinergi up [--months 3]              store + simulated sources + Airflow UI on 127.0.0.1:8080
    sinergi down                         stop Airflow and the store
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from sinergi import settings
from sinergi.months import Month, MonthError


def _month(value: str) -> str:
    try:
        return str(Month.parse(value))
    except MonthError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def cmd_store(args) -> int:
    from sinergi.local.store import EmbeddedStore, StoreStartError

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
    from sinergi import registry
    from sinergi.local import localairflow, report
    from sinergi.local.progress import Progress
    from sinergi.local.store import EmbeddedStore, StoreStartError
    from sinergi.policy import load_policy

    home = settings.home()
    try:
        status = EmbeddedStore(s3_port=args.port).up()
    except StoreStartError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"[1/5] object store: {status}")
    if args.exports_dir:
        exports = Path(args.exports_dir).resolve()
        if not exports.is_dir():
            print(f"error: --exports-dir {exports} is not a directory", file=sys.stderr)
            return 2
        print(f"[2/5] sources: using the exports you provided in {exports}")
    else:
        from sinergi.simulate import simulate

        exports = home / "sources"
        result = simulate(exports, month=args.month, months=1, scale=args.scale, seed=args.seed)
        total = sum(result.rows.values())
        print(f"[2/5] sources: simulated {total} rows for {args.month} into {exports} (seed {args.seed}, scale {args.scale})")
    env = localairflow.airflow_env(home)
    # the exports of this run, whatever else the environment says (sinergi.settings: a Connection would win)
    env.pop(settings.conn_env(settings.EXPORTS_CONN_ID), None)
    env["SINERGI_EXPORTS_DIR"] = str(exports)
    env.setdefault("SINERGI_DISNAKER_DB_URL", f"sqlite:///{exports / 'disnaker.sqlite'}")
    log_path = home / "logs" / f"run-{args.month}.log"
    log_path.unlink(missing_ok=True)
    print(f"[3/5] airflow: metadata in {env['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN']}; log {log_path}")
    localairflow.migrate(env, log_path)
    policy = load_policy()
    failures = []
    this_runs: set[str] = set()
    failed: dict[str, str] = {}
    for scope in args.scopes:
        print(f"      {localairflow.DAG_IDS[scope]}: running (one line per dataset as it finishes)", flush=True)
        progress = Progress({ds: policy.recipients(ds) for ds in registry.names(scope)},
                            out=lambda line: print(line, flush=True))
        try:
            localairflow.dags_test(scope, args.month, env, log_path, on_line=progress.feed)
            print(f"      {localairflow.DAG_IDS[scope]}: success")
        except localairflow.AirflowRunError as e:
            failures.append(str(e))
            print(f"      {localairflow.DAG_IDS[scope]}: FAILED\n{e}", file=sys.stderr)
        this_runs |= progress.run_ids
        failed.update({ds: f"{step}: {reason[:120]}" for ds, (step, reason) in progress.failed.items()})
    # the indicators DAG is scheduled on the monthly Assets; here it runs once, after both syncs
    indicators = Progress({}, out=print)  # no task groups; its run id marks its own publications
    try:
        localairflow.dags_test("indicators", args.month, env, log_path, on_line=indicators.feed)
        print(f"      {localairflow.DAG_IDS['indicators']}: success")
    except localairflow.AirflowRunError as e:
        failures.append(str(e))
        print(f"      {localairflow.DAG_IDS['indicators']}: FAILED\n{e}", file=sys.stderr)
    this_runs |= indicators.run_ids
    print("[4/5] published:")
    print(report.summary_text(args.month, home, this_runs=this_runs or None, failed=failed))
    print("[5/5] reports and validation results:")
    print(report.local_outputs_text(args.month, home))
    return 1 if failures else 0


def cmd_up(args) -> int:
    from sinergi.local import localairflow
    from sinergi.local.store import StoreStartError

    stack = localairflow.LocalStack(
        settings.home(), api_port=args.airflow_port, s3_port=args.port, first_month=args.month, months=args.months,
        scale=args.scale, seed=args.seed, schedule=args.schedule,
        exports_dir=Path(args.exports_dir) if args.exports_dir else None,
    )
    try:
        print(f"[1/3] object store: {stack.store.up()}")
        sim = stack.simulate()
        what = (f"simulated {sim['rows']} rows for {', '.join(sim['months'])}" if sim
                else "using the sources already there" if not args.exports_dir else "using the exports you provided")
        print(f"[2/3] sources in {stack.sources}: {what}")
        print(f"[3/3] airflow: starting (log {stack.airflow.log_file}) …", flush=True)
        status = stack.airflow.start()
    except (StoreStartError, localairflow.AirflowStartError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    months = stack.months_list
    print(f"""
Airflow UI:  {status.url}
login:       {status.username}; password in {stack.airflow.password_file} (readable only by you; never printed)
DAGs:        {', '.join(localairflow.DAG_IDS.values())} (paused; simulated months {months[0]} … {months[-1]})
Run a month: open a DAG → Trigger → config {{"month": "{months[0]}"}} (unpause it first), or
             airflow backfill create --dag-id sinergi_national_monthly --from-date {months[0]}-01T00:00+07:00 --to-date {months[-1]}-01T03:00+07:00
             (in a shell after `source {stack.airflow.env_file}`; the scheduler of `make up` runs it)
Scheduled:   {"on (monthly, catchup from 2025-07)" if args.schedule else "off — runs only when triggered or backfilled (--schedule turns the monthly schedule on)"}
Stop:        make down   (or `sinergi down`)""")
    return 0


def cmd_down(args) -> int:
    from sinergi.local import localairflow

    stack = localairflow.LocalStack(settings.home())
    airflow_was, store_was = stack.down()
    print("airflow stopped" if airflow_was else "airflow was not running")
    print("store stopped" if store_was else "store was not running")
    return 0


def cmd_summary(args) -> int:
    from sinergi.local import report

    print(report.summary_text(args.month, settings.home()))
    return 0


def cmd_report(args) -> int:
    """The monthly indicators + report (--month) or the yearly evaluation (--year) of each party, on
    the configured object store (the embedded one is started when nothing else is configured)."""
    from sinergi.errors import SinergiError
    from sinergi.indicators.run import read_trusted_tables, run_for_party
    from sinergi.indicators.yearly import run_yearly
    from sinergi.local.store import EmbeddedStore, StoreStartError
    from sinergi.objectstore import StoreError
    from sinergi.pipeline import RunContext

    conf = settings.Settings()
    if conf.connection(settings.S3_CONN_ID) is None and not conf.env.get("SINERGI_S3_ACCESS_KEY"):
        try:
            EmbeddedStore(s3_port=args.port).up()  # the embedded default: make sure it runs
        except StoreStartError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    ctx = RunContext.from_env()
    parties = args.parties or sorted(ctx.policy.parties)
    unknown = [p for p in parties if p not in ctx.policy.parties]
    if unknown:
        print(f"error: unknown part{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)}; the policy has "
              f"{', '.join(sorted(ctx.policy.parties))}", file=sys.stderr)
        return 2
    try:
        if args.year:
            trusted = read_trusted_tables(ctx.store, f"{args.year}-12")
            for party in parties:
                out = run_yearly(ctx.store, party, args.year, ctx.policy, ctx.home, trusted=trusted)
                print(f"yearly evaluation {args.year} for {party:<10} {out['report_path']}  "
                      f"(s3://{out['bucket']}/{out['report_key']}; {len(out['months'])} validated months)")
        else:
            trusted = read_trusted_tables(ctx.store, args.month)
            if not trusted:
                print(f"error: the trusted zone has no validated month up to {args.month}: run the month first "
                      "(`sinergi run` / the monthly DAGs)", file=sys.stderr)
                return 1
            for party in parties:
                out = run_for_party(ctx.store, party, args.month, ctx.policy, ctx.home, trusted=trusted,
                                    run_id=f"cli-indicators-{args.month}")
                print(f"monthly report {args.month} for {party:<10} {out['report_path']}  "
                      f"(s3://{out['bucket']}/{out['report_key']}; {out['rows']} indicator rows)")
    except (SinergiError, StoreError) as e:
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


def _year(value: str) -> int:
    if not value.isdigit() or not 2000 <= int(value) <= 2999:
        raise argparse.ArgumentTypeError(f"not a year: {value!r} (expected YYYY, e.g. 2025)")
    return int(value)


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

    p = sub.add_parser("up", help="start the store, simulate sources and run the Airflow UI in the background")
    p.add_argument("--month", type=_month, default=os.environ.get("MONTH") or "2025-07", help="first simulated month")
    p.add_argument("--months", type=int, default=int(os.environ.get("MONTHS") or 3), help="how many months to simulate")
    p.add_argument("--exports-dir", default=os.environ.get("EXPORTS_DIR") or None,
                   help="use these export files instead of simulated ones")
    p.add_argument("--scale", default="demo", help="simulator scale (demo|lampung|national|<rows>)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--schedule", action="store_true",
                   help="let the scheduler create the monthly runs itself (catchup from 2025-07) once a DAG is unpaused")
    p.add_argument("--port", type=int, default=None, help="S3 port of the embedded store (default SINERGI_S3_PORT or 8333)")
    p.add_argument("--airflow-port", type=int, default=None,
                   help="api-server/UI port (default SINERGI_AIRFLOW_PORT or 8080)")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("down", help="stop Airflow and the store started by `sinergi up`")
    p.set_defaults(func=cmd_down)

    p = sub.add_parser("report", help="the monthly report (--month) or the yearly evaluation (--year) of each party")
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--month", type=_month, help="YYYY-MM: compute and publish the indicators and the monthly report")
    when.add_argument("--year", type=_year, help="YYYY: the yearly monitoring and evaluation report (MoU Art. 7)")
    p.add_argument("--party", dest="parties", action="append", help="only this party (repeatable; default: all)")
    p.add_argument("--port", type=int, default=None, help="S3 port of the embedded store")
    p.set_defaults(func=cmd_report)

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
