"""The operator's view, in a real browser (Debian's Chromium, headless, driven by Playwright): log in
to the Airflow UI, find the Sinergi DAGs and their docs, unpause and trigger the national DAG for a
month, wait for it to succeed, and find the published Assets with their counts.

The test runs its own stack (``sinergi.local.localairflow.LocalStack``: a SeaweedFS store, simulated
sources for one month and ``airflow standalone``) on free ports in a temp dir, and stops it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sinergi.local import localairflow
from sinergi.local.process import free_port
from sinergi.local.store import EmbeddedStore
from support import AirflowAPI, airflow_api

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync"]
DAG_ID = "sinergi_national_monthly"
MONTH = "2025-07"
COUNT_KEYS = {"extracted", "valid", "quarantined", "suppressed", "published"}
# a generous bound: on a loaded 2-core box one national month takes several minutes
RUN_TIMEOUT = 1500
UI_TIMEOUT_MS = 120_000

state: dict = {}


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[localairflow.LocalStack]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `make chromium` installs it (apt-get install chromium)"
    home = tmp_path_factory.mktemp("ui-stack")
    st = localairflow.LocalStack(home, api_port=free_port(), s3_port=EmbeddedStore._free_port(),
                                 first_month=MONTH, months=1, scale="demo", seed=11)
    try:
        st.up()
        yield st
    finally:
        st.down()
    assert st.airflow.pid() is None and not st.store.status().running, "the stack stopped everything it started"


@pytest.fixture(scope="module")
def api(stack) -> AirflowAPI:
    client = airflow_api(stack.airflow)
    client.wait_for_dag(DAG_ID, timeout=300)
    return client


@pytest.fixture(scope="module")
def page(stack, api):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        pg = context.new_page()
        pg.set_default_timeout(UI_TIMEOUT_MS)
        try:
            yield pg
        finally:
            context.close()
            browser.close()


def test_login_and_see_the_sinergi_dags(stack, page):
    url = stack.airflow.url
    page.goto(url + "/")
    page.wait_for_url("**/auth/login**")  # the UI requires a login
    page.get_by_label("Username").fill(localairflow.ADMIN_USER)
    page.get_by_label("Password").fill(stack.airflow.password())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/", timeout=UI_TIMEOUT_MS)
    page.goto(url + "/dags?tags=sinergi")
    for dag_id in localairflow.DAG_IDS.values():
        page.get_by_text(dag_id, exact=True).first.wait_for()


def test_dag_docs_are_shown(stack, page):
    page.goto(f"{stack.airflow.url}/dags/{DAG_ID}")
    page.get_by_role("button", name="Dag Docs").click()
    docs = page.get_by_role("dialog")
    docs.get_by_text("National monthly sync").first.wait_for()
    text = docs.inner_text()
    for needle in ("Re-run a month", "Backfill", "SINERGI FAILURE", "extracted / valid / quarantined"):
        assert needle in text, f"DAG docs lack {needle!r}"
    page.keyboard.press("Escape")
    docs.wait_for(state="hidden")


def test_unpause_and_trigger_a_month_in_the_ui(stack, page, api):
    page.goto(f"{stack.airflow.url}/dags/{DAG_ID}")
    page.get_by_role("button", name="Trigger Dag").wait_for()
    assert api.get(f"/dags/{DAG_ID}")["is_paused"] is True, "DAGs start paused"
    page.locator("[data-scope='switch'][data-part='control']").first.click()
    deadline = time.monotonic() + 60
    while api.get(f"/dags/{DAG_ID}")["is_paused"] and time.monotonic() < deadline:
        time.sleep(1)
    assert api.get(f"/dags/{DAG_ID}")["is_paused"] is False, "the pause switch unpaused the DAG"

    page.get_by_role("button", name="Trigger Dag").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("#element_month").fill(MONTH)
    with page.expect_response(lambda r: r.url.endswith(f"/dags/{DAG_ID}/dagRuns") and r.request.method == "POST"
                              and r.status == 200) as response:
        dialog.get_by_role("button", name="Trigger", exact=True).click()
    run = response.value.json()
    assert run["conf"]["month"] == MONTH
    state["run_id"] = run["dag_run_id"]


def test_the_triggered_run_succeeds(stack, page, api):
    run_id = state.get("run_id")
    assert run_id, "no run was triggered"
    final = api.wait_run(DAG_ID, run_id, timeout=RUN_TIMEOUT)
    if final != "success":
        details = []
        for ti in api.failed_tasks(DAG_ID, run_id)[:5]:
            if ti["state"] == "failed":
                log = api.task_log(DAG_ID, run_id, ti["task_id"], ti["map_index"], max(ti["try_number"], 1))
                lines = [ln for ln in log.splitlines() if "SINERGI FAILURE" in ln or "Error" in ln][-5:]
                details.append(f"{ti['task_id']}[{ti['map_index']}]: " + " | ".join(lines))
        pytest.fail(f"{DAG_ID} {MONTH} ended {final}:\n" + "\n".join(details))
    # the UI shows the run as successful
    page.goto(f"{stack.airflow.url}/dags/{DAG_ID}/runs/{run_id}")
    page.get_by_text("success", exact=False).first.wait_for()


def test_asset_events_with_counts_are_visible(stack, page, api):
    run_id = state.get("run_id")
    assert run_id, "no run was triggered"
    events = api.asset_events(source_dag_id=DAG_ID, source_run_id=run_id)
    published = {e["name"]: e["extra"] for e in events}
    assert "sinergi.lampung.placements" in published, sorted(published)
    for name, extra in published.items():
        assert name.startswith("sinergi.") and COUNT_KEYS <= set(extra), (name, extra)
        assert extra["month"] == MONTH
        assert extra["valid"] + extra["quarantined"] == extra["extracted"], (name, extra)
        assert extra["published"] + extra["suppressed"] + extra.get("filtered_out", 0) == extra["valid"], (name, extra)
    placements = published["sinergi.lampung.placements"]
    assert placements["published"] > 0

    # in the UI: the asset's page lists the event, from this DAG, with its counts
    asset_id = next(e["asset_id"] for e in events if e["name"] == "sinergi.lampung.placements")
    page.goto(f"{stack.airflow.url}/assets/{asset_id}")
    page.get_by_text("Source:").first.wait_for()
    page.get_by_text(DAG_ID).first.wait_for()
    # The extra is shown as JSON in a folded code editor. The page may re-render (and fold again) after
    # a refetch, so unfold and read until every count is on screen, or time out with what was seen.
    text, missing = "", set(COUNT_KEYS)
    deadline = time.monotonic() + 60
    while missing and time.monotonic() < deadline:
        folded = page.locator(".codicon-folding-collapsed")
        if folded.count():
            folded.first.click()
        page.wait_for_timeout(500)
        text = page.locator("body").inner_text()
        missing = {key for key in COUNT_KEYS if f'"{key}"' not in text}
    assert not missing, f"{sorted(missing)} not shown in the asset event; page text: {text[-400:]!r}"
    assert str(placements["published"]) in text
