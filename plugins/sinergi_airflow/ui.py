"""The "Sinergi" page in the Airflow UI: party × dataset × month (sinergi.status), as an Airflow 3
plugin — a FastAPI app mounted by the api-server at ``/sinergi`` and an external view that embeds
it in the navigation (``/plugin/sinergi``).

Everything goes through Airflow's login (the JWT cookie the UI already holds) and needs read access
to the monthly DAGs. The page reads only bookkeeping objects through the pipeline identity, and
serves the objects its links point to (Data Docs, feedback workbooks, reports, manifests — nothing
else, sinergi.status.servable), since the store itself is not reachable from a browser.
"""

# no `from __future__ import annotations`: FastAPI must see the endpoints' real annotations (local names)

import mimetypes
from urllib.parse import quote

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/sinergi"
MAX_MONTHS = 36


def _lookup(conn_id: str):
    """A Connection from Airflow's secrets backends (env, metadata DB, ...), None if undefined."""
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection as AirflowConnection

    try:
        return AirflowConnection.get_connection_from_secrets(conn_id)
    except AirflowNotFoundException:
        return None


def _store():
    from sinergi.s3 import S3ObjectStore
    from sinergi.settings import Settings

    return S3ObjectStore(Settings(lookup=_lookup).pipeline_s3(), attempts=2, backoff=0.3)


def _policy():
    from sinergi.policy import load_policy

    return load_policy()


def _model(months: list[str] | None, last: int) -> dict:
    from fastapi import HTTPException

    from sinergi import status
    from sinergi.errors import SinergiError
    from sinergi.months import Month, MonthError

    try:
        chosen = [Month.parse(m) for m in months] if months else None
    except MonthError as e:
        raise HTTPException(400, str(e)) from None
    try:
        return status.build_matrix(_store(), _policy(), chosen, last=max(1, min(last, MAX_MONTHS)))
    except SinergiError as e:  # the store is down, a credential is missing: say so, not a stack trace
        raise HTTPException(503, f"cannot read the Sinergi records: {e}") from None


def run_url(scope: str, dataset: str, run_id: str) -> str:
    """The run in the Airflow grid (the UI's own route)."""
    from sinergi.local.localairflow import DAG_IDS

    return f"/dags/{DAG_IDS[scope]}/runs/{quote(run_id, safe='')}"


def build_app():
    """The FastAPI app (built on the first request: plugins are loaded by every Airflow component,
    only the api-server serves it)."""
    from typing import Annotated

    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    from airflow.api_fastapi.core_api.security import GetUserDep
    from fastapi import Depends, FastAPI, HTTPException, Query, Request
    from fastapi.responses import HTMLResponse, JSONResponse, Response

    from sinergi import status
    from sinergi.local.localairflow import DAG_IDS
    from sinergi.objectstore import ObjectNotFound, StoreError

    def reader(user: GetUserDep):
        """A logged-in user (Airflow's JWT cookie or bearer token) allowed to read the monthly DAGs' runs."""
        manager = get_auth_manager()
        for dag_id in (DAG_IDS["national"], DAG_IDS["provincial"]):
            if not manager.is_authorized_dag(method="GET", access_entity=DagAccessEntity.RUN,
                                             details=DagDetails(id=dag_id), user=user):
                raise HTTPException(403, f"the Sinergi page needs read access to {dag_id} and its runs")
        return user

    Reader = Annotated[object, Depends(reader)]
    Months = Annotated[list[str] | None, Query(description="YYYY-MM, repeatable")]
    api = FastAPI(title="Sinergi", docs_url=None, redoc_url=None, openapi_url=None)

    def file_url(request: Request, bucket: str, key: str) -> str:
        return f"{request.scope.get('root_path', '')}/files/{quote(bucket)}/{quote(key)}"

    @api.get("/", response_class=HTMLResponse)
    def page(request: Request, user: Reader, month: Months = None, months: int = 3) -> HTMLResponse:
        model = _model(month, months)
        body = status.render_html(model, file_url=lambda b, k: file_url(request, b, k), run_url=run_url)
        return HTMLResponse(body, headers={"Cache-Control": "no-store"})

    @api.get("/api/matrix")
    def matrix(user: Reader, month: Months = None, months: int = 3) -> JSONResponse:
        return JSONResponse(_model(month, months), headers={"Cache-Control": "no-store"})

    @api.get("/files/{bucket}/{key:path}")
    def serve(bucket: str, key: str, user: Reader) -> Response:
        if not status.servable(bucket, key, [p.bucket for p in _policy().parties.values()]):
            raise HTTPException(404, "not an object this page serves")
        try:
            data = _store().get_bytes(bucket, key)
        except ObjectNotFound:
            raise HTTPException(404, f"s3://{bucket}/{key} does not exist") from None
        except StoreError as e:
            raise HTTPException(503, str(e)) from None
        ctype = mimetypes.guess_type(key)[0] or "application/octet-stream"
        headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
        if not ctype.startswith(("text/", "application/json", "image/", "application/javascript", "font/")):
            headers["Content-Disposition"] = f"attachment; filename=\"{key.rsplit('/', 1)[-1]}\""
        return Response(data, media_type=ctype, headers=headers)

    return api


class LazyApp:
    """An ASGI app that builds :func:`build_app` on its first request."""

    def __init__(self):
        self._app = None

    async def __call__(self, scope, receive, send):
        if self._app is None:
            self._app = build_app()
        await self._app(scope, receive, send)

    def __repr__(self) -> str:
        return f"{__name__}.LazyApp"


app = LazyApp()


class JakartaTimeMiddleware:
    """Shows the Airflow UI in Asia/Jakarta time (WIB) unless the user picked another time zone.

    Airflow 3.3 has no server setting for the UI's time zone (``[webserver] default_ui_timezone`` is
    gone): the UI takes the browser's zone unless the user chose one (kept in the browser's
    ``localStorage["timezone"]``, JSON). This root middleware adds one line to the UI's HTML page
    that sets that choice to ``SINERGI_UI_TIMEZONE`` (default Asia/Jakarta) when there is none yet;
    the user's own choice in the UI is kept."""

    def __init__(self, app, timezone: str | None = None):
        import json
        import os

        from sinergi.months import TIMEZONE

        self.app = app
        zone = timezone or os.environ.get("SINERGI_UI_TIMEZONE") or TIMEZONE
        self.script = ("<script>try{if(!localStorage.getItem('timezone'))localStorage.setItem('timezone',"
                       + json.dumps(json.dumps(zone)).replace("<", "\\u003c") + ")}catch(e){}</script>").encode()

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] != "http" or scope.get("method") != "GET" or path.startswith(
                ("/api/", "/static/", "/execution", URL_PREFIX + "/", "/auth/token")):
            await self.app(scope, receive, send)
            return
        start: dict = {}
        chunks: list[bytes] = []

        async def capture(message):
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                if not headers.get(b"content-type", b"").startswith(b"text/html") or b"content-encoding" in headers:
                    start["pass"] = True
                    await send(message)
                    return
                start.update(message)
                return
            if start.get("pass"):
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            if b'<div id="root"' in body and b"<head>" in body:
                body = body.replace(b"<head>", b"<head>" + self.script, 1)
            headers = [(k, v) for k, v in start.get("headers") or [] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


class SinergiPlugin(AirflowPlugin):
    name = "sinergi"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "Sinergi"}]
    external_views = [{
        "name": "Sinergi",
        "href": f"{URL_PREFIX}/",
        "url_route": "sinergi",  # shown at /plugin/sinergi, the page embedded in the UI
        "destination": "nav",
        "nav_top_level": True,
    }]
    fastapi_root_middlewares = [{"middleware": JakartaTimeMiddleware, "args": [], "kwargs": {}, "name": "Sinergi: UI in WIB"}]
