"""The operator's view, in a real browser (Debian's Chromium, headless, driven by Playwright): log in
to the Airflow UI (shown in Asia/Jakarta time), find the Sinergi DAGs and their docs, unpause and
trigger the national DAG with the Trigger form untouched (its month is the run's data interval; the
datasets picker offers exactly the DAG's datasets), wait for it to succeed, find the published Assets
with their counts, and read the quarter on the Sinergi page — one dataset-month failed, with a link
to its Data Docs, served only to a logged-in user.

The test runs its own stack (``sinergi.local.localairflow.LocalStack``: a SeaweedFS store, simulated
sources for a quarter and ``airflow standalone``) on free ports in a temp dir, and stops it. The
quarter's first two months of p3mi and placements are run through the pipeline's steps directly (as
the DAG's tasks run them; placements' second month is stopped by a blanked column, with the failure
record the DAG's callback writes); the third month is the Airflow run triggered in the browser.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest

from sinergi import registry
from sinergi.local import localairflow
from sinergi.local.process import free_port
from sinergi.local.store import EmbeddedStore
from sinergi.months import JAKARTA, Month
from support import CHROMIUM, AirflowAPI, airflow_api, chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DAG_ID = "sinergi_national_monthly"
ROOT = Path(__file__).resolve().parents[2]


def data_interval_month(now: dt.datetime | None = None) -> Month:
    """The month of a run triggered now with the form's default logical date (now): the monthly
    timetable's interval (1st, 03:00 WIB) before the latest tick."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(JAKARTA)
    tick = Month(now.year, now.month)
    if now < dt.datetime(now.year, now.month, 1, 3, tzinfo=JAKARTA):
        tick = tick.add(-1)
    return tick.add(-1)


MONTH = str(data_interval_month())
QUARTER = [str(Month.parse(MONTH).add(i)) for i in (-2, -1, 0)]
FAILED = QUARTER[1]  # placements is stopped in the quarter's second month
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
                                 first_month=QUARTER[0], months=3, scale="demo", seed=11)
    try:
        st.up()
        state["earlier"] = run_earlier_months(st)
        yield st
    finally:
        st.down()
    assert st.airflow.pid() is None and not st.store.status().running, "the stack stopped everything it started"


def _blank_column(folder: Path, prefix: str, header: str) -> None:
    """Blank one column of an export (CSV or spreadsheet, as the simulator wrote it this month) in
    every row: the dataset's null-rate gate stops the month."""
    path = next(p for p in folder.iterdir() if p.name.startswith(prefix))
    if path.suffix == ".csv":  # the simulator varies encoding and delimiter like real exports do
        raw = path.read_bytes()
        encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            encoding, text = "cp1252", raw.decode("cp1252")
        dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=";,\t|")
        rows = list(csv.reader(io.StringIO(text, newline=""), dialect))
        i = [c.strip().upper() for c in rows[0]].index(header)
        for row in rows[1:]:
            row[i] = ""
        out = io.StringIO(newline="")
        csv.writer(out, dialect).writerows(rows)
        path.write_bytes(out.getvalue().encode(encoding))
        return
    import openpyxl

    book = openpyxl.load_workbook(path)
    sheet = book.active
    for row in sheet.iter_rows():
        names = [str(c.value or "").strip().upper() for c in row]
        if header in names:
            column, first = names.index(header) + 1, row[0].row + 1
            break
    else:
        raise AssertionError(f"{path}: no column {header}")
    for r in range(first, sheet.max_row + 1):
        sheet.cell(row=r, column=column).value = None
    book.save(path)


def run_earlier_months(st: localairflow.LocalStack) -> dict:
    """The quarter's first two months of p3mi and placements through the pipeline's steps, with the
    stack's identity, home and sources (as the DAG's tasks would run them)."""
    from sinergi.errors import DatasetStopped
    from sinergi.pipeline import RunContext, extract_step, publish_step, recipients, share_step, validate_step
    from sinergi.s3 import S3ObjectStore
    from sinergi.settings import Settings

    env = {"SINERGI_HOME": str(st.home), "SINERGI_EXPORTS_DIR": str(st.sources)}
    ctx = RunContext(store=S3ObjectStore(st.store.credentials("pipeline")), home=st.home, settings=Settings(environ=env))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    runs = {}
    _blank_column(st.sources / "siskop2mi" / FAILED, "PENEMPATAN_PMI_", "JABATAN")
    for month in QUARTER[:2]:
        for dataset in ("p3mi", "placements"):
            run_id = runs[(dataset, month)] = f"manual__{month}-{dataset}-{stamp}"
            try:
                ref = validate_step(extract_step(dataset, month, run_id, ctx), ctx)
            except DatasetStopped as e:
                assert (dataset, month) == ("placements", FAILED), e
                _record_failure(ctx.store, dataset, month, run_id, e)
                continue
            for party in recipients(dataset, ctx):
                publish_step(share_step(ref, party, ctx), ctx)
    return runs


def _record_failure(store, dataset: str, month: str, run_id: str, exc: Exception) -> None:
    """The failure record the DAG's failure callback writes (sinergi_airflow.callbacks)."""
    sys.path.insert(0, str(ROOT / "plugins"))
    try:
        from sinergi_airflow import callbacks
    finally:
        sys.path.remove(str(ROOT / "plugins"))
    ti = SimpleNamespace(task_id=f"{dataset}.validate", map_index=-1, dag_id=DAG_ID, try_number=1)
    callbacks.write_failure_record(callbacks.failure_record(
        {"ti": ti, "params": {"month": month}, "run_id": run_id, "exception": exc}), store)


@pytest.fixture(scope="module")
def api(stack) -> AirflowAPI:
    client = airflow_api(stack.airflow)
    client.wait_for_dag(DAG_ID, timeout=300)
    return client


@pytest.fixture(scope="module")
def page(stack, api):
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        pg = context.new_page()
        pg.set_default_timeout(UI_TIMEOUT_MS)
        try:
            yield pg
        finally:
            context.close()


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
    # Month and Datasets are optional: nothing typed, the Trigger button is enabled
    month = dialog.locator("#element_month")
    month.wait_for()
    assert month.input_value() == ""
    trigger = dialog.get_by_role("button", name="Trigger", exact=True)
    assert trigger.is_enabled(), "the Trigger button is enabled with the form untouched"
    # Datasets is a picker offering exactly the DAG's datasets
    dialog.locator("#element_datasets").click()
    options = page.get_by_role("option")
    options.first.wait_for()
    assert options.all_inner_texts() == registry.names("national")
    month.click()  # closes the menu, selecting nothing
    options.first.wait_for(state="detached")
    with page.expect_response(lambda r: r.url.endswith(f"/dags/{DAG_ID}/dagRuns") and r.request.method == "POST"
                              and r.status == 200) as response:
        trigger.click()
    run = response.value.json()
    assert not run["conf"].get("month") and not run["conf"].get("datasets"), run["conf"]
    # the run's month is its data interval's
    assert str(Month.from_data_interval(dt.datetime.fromisoformat(run["data_interval_start"]))) == MONTH, run
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


def test_the_ui_shows_jakarta_time(stack, page):
    """Airflow 3.3 shows the browser's zone unless the user picked one: the plugin makes WIB the choice."""
    page.goto(f"{stack.airflow.url}/dags/{DAG_ID}")
    page.get_by_role("button", name="Trigger Dag").wait_for()
    assert page.evaluate("localStorage.getItem('timezone')") == '"Asia/Jakarta"'
    # a user's own choice is kept
    page.evaluate("localStorage.setItem('timezone', JSON.stringify('UTC'))")
    page.reload()
    page.get_by_role("button", name="Trigger Dag").wait_for()
    assert page.evaluate("localStorage.getItem('timezone')") == '"UTC"'
    page.evaluate("localStorage.setItem('timezone', JSON.stringify('Asia/Jakarta'))")


def test_the_sinergi_page_shows_the_quarter(stack, page):
    run_id = state.get("run_id")
    assert run_id, "no run was triggered"
    page.goto(f"{stack.airflow.url}/plugin/sinergi")
    frame = page.frame_locator("iframe")

    def cell(month: str, party: str, dataset: str):
        return frame.locator(f"td[data-month='{month}'][data-party='{party}'][data-dataset='{dataset}']")

    # the failed dataset-month, in both parties' columns, with the stop reason
    failed = cell(FAILED, "lampung", "placements")
    failed.wait_for()
    assert failed.get_attribute("data-state") == "failed"
    assert cell(FAILED, "kp2mi", "placements").get_attribute("data-state") == "failed"
    assert "job_title" in failed.inner_text()
    # the months around it were published; the Airflow run's month links to its run in the grid
    assert cell(QUARTER[0], "lampung", "placements").get_attribute("data-state") == "published"
    assert cell(FAILED, "lampung", "p3mi").get_attribute("data-state") == "published"
    mine = cell(MONTH, "lampung", "placements")
    assert mine.get_attribute("data-state") == "published"
    text = mine.inner_text()
    assert "published" in text and "quarantined" in text and "WIB" in text and run_id in text
    assert mine.locator("a.l-run").get_attribute("href") == f"/dags/{DAG_ID}/runs/{quote(run_id, safe='')}"
    assert mine.locator("a.l-manifest").count() == 1 and mine.locator("a.l-docs").count() == 1

    # follow the failed month's Data Docs link: the validation page, served by the plugin, in the frame
    link = failed.locator("a.l-docs")
    href = link.get_attribute("href")
    assert href.startswith(f"/sinergi/files/sinergi-quarantine/data-docs/placements/{FAILED}/"), href
    link.click()
    frame.get_by_text("Expectation Validation Result").first.wait_for()
    docs = next(f for f in page.frames if f != page.main_frame)
    assert docs.url == stack.airflow.url + href, docs.url
    assert "job_title" in docs.locator("body").inner_text()
    # back on the page, a run link moves the Airflow UI itself to the run in the grid
    page.goto(f"{stack.airflow.url}/plugin/sinergi")
    cell(MONTH, "lampung", "placements").locator("a.l-run").click()
    page.wait_for_url(f"**/dags/{DAG_ID}/runs/**")
    assert quote(run_id, safe="") in page.url or run_id in page.url, page.url
    page.get_by_text("success", exact=False).first.wait_for()


def test_the_sinergi_page_needs_a_login_and_serves_no_data(stack, page):
    url = stack.airflow.url
    for path in ("/sinergi/", "/sinergi/api/matrix", f"/sinergi/files/sinergi-quarantine/_failures/{FAILED}/x.json"):
        try:
            urllib.request.urlopen(url + path, timeout=30)
            pytest.fail(f"{path} answered without a login")
        except urllib.error.HTTPError as e:
            assert e.code in (401, 403), (path, e.code)
    # logged in (the page's cookie): bookkeeping yes, data no
    matrix = page.request.get(f"{url}/sinergi/api/matrix?months=3")
    assert matrix.ok and [m["month"] for m in matrix.json()["months"]] == QUARTER
    for bucket, key in (("lampung-share", f"placements/{Month.parse(MONTH).hive_path}/part-0.parquet"),
                        ("sinergi-trusted", f"placements/{Month.parse(MONTH).hive_path}/part-0.parquet"),
                        ("sinergi-landing", f"siskop2mi/placements/{MONTH}/_latest.json")):
        assert page.request.get(f"{url}/sinergi/files/{bucket}/{key}").status == 404, (bucket, key)
