"""`make run`'s progress and final summary, through Airflow (``airflow dags test``) on a real store:
one line per finished dataset with its counts as the run goes; the summary's counts per dataset and
party come from the manifests; a dataset this run failed for shows the earlier run's publication,
marked as such."""

from __future__ import annotations

import json
import shutil

import pytest

from sinergi import registry
from sinergi.local import localairflow
from sinergi.local.progress import Progress
from sinergi.local.report import publication_rows, summary_text
from sinergi.policy import load_policy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def weed(own_store):
    """This module's own store (overrides the session's): its months' references, volumes and key history
    must be its own, not those other tests left in the session store."""
    return own_store


MONTH = "2025-08"


@pytest.fixture(scope="module")
def runs(weed, tmp_path_factory):
    from sinergi.simulate import simulate

    sources = tmp_path_factory.mktemp("sources")
    simulate(sources, month=MONTH, months=1, scale="demo", seed=11)
    env = localairflow.airflow_env(weed.home)
    env["SINERGI_HOME"] = str(weed.home)  # this module's store, not the session's (airflow_env keeps a set one)
    env["SINERGI_EXPORTS_DIR"] = str(sources)
    env["SINERGI_DISNAKER_DB_URL"] = f"sqlite:///{sources / 'disnaker.sqlite'}"
    log = weed.home / "logs" / "progress.log"
    localairflow.migrate(env, log)
    policy = load_policy()
    datasets = ["p3mi", "placements"]
    recipients = {ds: policy.recipients(ds) for ds in registry.names("national")}

    first_lines: list[str] = []
    first = Progress(recipients, out=first_lines.append)
    localairflow.dags_test("national", MONTH, env, log, datasets=datasets, on_line=first.feed)

    # the second run: the placements export is gone, so this run fails for placements only
    broken = tmp_path_factory.mktemp("broken-sources")
    shutil.copytree(sources, broken, dirs_exist_ok=True)
    gone = list((broken / "siskop2mi" / MONTH).glob("PENEMPATAN_PMI_*"))  # the placements export
    assert gone
    for f in gone:
        f.unlink()
    env["SINERGI_EXPORTS_DIR"] = str(broken)
    second_lines: list[str] = []
    second = Progress(recipients, out=second_lines.append)
    with pytest.raises(localairflow.AirflowRunError):
        localairflow.dags_test("national", MONTH, env, log, datasets=datasets, on_line=second.feed)
    return {"first": first, "first_lines": first_lines, "second": second, "second_lines": second_lines,
            "policy": policy, "home": weed.home}


def test_one_progress_line_per_finished_dataset_with_counts(runs):
    lines = runs["first_lines"]
    assert [line.split()[0] for line in lines] == ["p3mi", "placements"], lines  # p3mi first: placements references it
    placements = next(line for line in lines if line.split()[0] == "placements")
    for party in runs["policy"].recipients("placements"):
        assert f"{party} " in placements and " published" in placements
    assert "extracted " in placements and "quarantined " in placements
    assert runs["first"].state == "success" and len(runs["first"].run_ids) == 1


def test_progress_names_the_failed_step(runs):
    lines = runs["second_lines"]
    failed = next(line for line in lines if line.split()[0] == "placements")
    assert "FAILED at extract: SourceNotFoundError: placements" in failed
    assert any(line.split()[0] == "p3mi" and "published" in line for line in lines)


def test_summary_counts_come_from_the_manifests(runs, weed):
    policy, home = runs["policy"], runs["home"]
    first_run = next(iter(runs["first"].run_ids))
    for party in policy.recipients("placements"):
        bucket = policy.parties[party].bucket
        row = next(r for r in publication_rows(party, bucket, MONTH, home, ["placements"]))
        pointer = json.loads(weed.pipeline.get_bytes(bucket, f"_manifests/placements/{MONTH}/_current.json"))
        assert row["published"] == pointer["rows"] and row["run_id"] == first_run
        # every extracted row is published, filtered out, suppressed or quarantined
        assert row["extracted"] == row["quarantined"] + row["filtered_out"] + row["suppressed"] + row["published"]
        assert row["quarantined"] > 0 and row["top_rules"], row  # the demo month has injected defects
        assert row["top_rules"] == sorted(row["top_rules"], key=lambda kv: (-kv[1], kv[0]))


def test_summary_says_when_a_shown_publication_is_an_earlier_runs(runs):
    second = runs["second"]
    failed = {ds: f"{step}: {reason}" for ds, (step, reason) in second.failed.items()}
    text = summary_text(MONTH, runs["home"], this_runs=second.run_ids, failed=failed)
    party = runs["policy"].recipients("placements")[0]
    section = text.split(f"== {party} ", 1)[1].split("\n== ", 1)[0]
    header = next(line for line in section.splitlines() if "extracted" in line and "top quarantine rules" in line)
    assert "quarantined" in header and "filtered out" in header and "suppressed" in header and "published" in header
    first_run = next(iter(runs["first"].run_ids))
    assert f"* placements: shown is an earlier run's publication ({first_run}" in section
    assert "this run failed for it (extract: SourceNotFoundError" in section
    assert any(line.split()[0] == "placements" and line.split()[1] == "*" for line in section.splitlines()
               if line.strip() and not line.strip().startswith("*"))
    # p3mi was published by this run: not marked
    for party in runs["policy"].recipients("p3mi"):
        section = text.split(f"== {party} ", 1)[1].split("\n== ", 1)[0]
        p3mi = next(line for line in section.splitlines() if line.split() and line.split()[0] == "p3mi")
        assert "*" not in p3mi
