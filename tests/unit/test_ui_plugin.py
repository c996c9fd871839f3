"""The Sinergi UI plugin's registration and its WIB middleware (the page itself: tests/ui)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ui():
    sys.path.insert(0, str(ROOT / "plugins"))
    try:
        from sinergi_airflow import ui as module

        yield module
    finally:
        sys.path.remove(str(ROOT / "plugins"))


def test_the_plugin_mounts_the_app_and_puts_the_page_in_the_navigation(ui):
    plugin = ui.SinergiPlugin
    assert plugin.fastapi_apps == [{"app": ui.app, "url_prefix": "/sinergi", "name": "Sinergi"}]
    view = plugin.external_views[0]
    assert view["href"] == "/sinergi/" and view["url_route"] == "sinergi" and view["destination"] == "nav"
    assert plugin.fastapi_root_middlewares[0]["middleware"] is ui.JakartaTimeMiddleware


def _call(middleware, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> tuple[list, bytes]:
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body[:10], "more_body": True})
        await send({"type": "http.response.body", "body": body[10:]})

    sent: list = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request"}

    asyncio.run(middleware(app)({"type": "http", "method": "GET", "path": path}, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["headers"], b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


SPA = b'<!doctype html><html><head><meta charset="UTF-8" /></head><body><div id="root"></div></body></html>'


def test_the_ui_page_gets_jakarta_as_the_default_time_zone(ui, monkeypatch):
    monkeypatch.delenv("SINERGI_UI_TIMEZONE", raising=False)
    headers, body = _call(ui.JakartaTimeMiddleware, "/dags", SPA, [(b"content-type", b"text/html; charset=utf-8")])
    script = body[body.index(b"<script>") + 8:body.index(b"</script>")].decode()
    assert "if(!localStorage.getItem('timezone'))" in script  # a user's own choice is kept
    stored = script.split("localStorage.setItem('timezone',", 1)[1].rsplit(")}catch", 1)[0]
    assert json.loads(json.loads(stored)) == "Asia/Jakarta"
    assert dict(headers)[b"content-length"] == str(len(body)).encode()
    assert body.replace(body[body.index(b"<script>"):body.index(b"</script>") + 9], b"") == SPA


def test_other_responses_pass_untouched(ui):
    for path, headers, body in (
        ("/api/v2/dags", [(b"content-type", b"application/json")], b'{"dags": []}'),
        ("/dags", [(b"content-type", b"text/html"), (b"content-encoding", b"gzip")], b"\x1f\x8b compressed bytes"),
        ("/sinergi/", [(b"content-type", b"text/html")], SPA),
        ("/auth/login", [(b"content-type", b"text/html")], b"<html><head></head><body>login form</body></html>"),
    ):
        _, out = _call(ui.JakartaTimeMiddleware, path, body, headers)
        assert out == body, path
