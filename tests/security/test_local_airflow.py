"""The embedded Airflow (``airflow standalone`` as ``make up`` starts it), checked on the running
processes: nothing listens beyond loopback (Airflow 3.3's log servers would bind every interface),
and the generated admin password is in a 0600 file and in no log."""

from __future__ import annotations

import stat

import psutil
import pytest

from sinergi.local import localairflow
from sinergi.local.process import free_port
from support import airflow_api

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-sec")
    af = localairflow.Standalone(home, free_port())
    try:
        af.start(timeout=420)
        yield af
    finally:
        af.stop()


def listeners(pid: int) -> list[tuple[str, int, str]]:
    root = psutil.Process(pid)
    out = []
    for p in (root, *root.children(recursive=True)):
        try:
            out += [(c.laddr.ip, c.laddr.port, p.name()) for c in p.net_connections(kind="inet")
                    if c.status == psutil.CONN_LISTEN]
        except psutil.NoSuchProcess:
            pass
    return out


def test_nothing_listens_beyond_loopback(standalone):
    found = listeners(standalone.pid())
    assert any(port == standalone.port for _, port, _ in found), found  # the api-server is among them
    open_wide = [(ip, port, name) for ip, port, name in found if not ip.startswith("127.") and ip != "::1"]
    assert not open_wide, f"listening on all interfaces: {open_wide}"
    env = standalone.env()
    for option in ("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"):
        assert int(env[option]) not in {port for _, port, _ in found}, f"{option} log server is running"


def test_admin_password_is_private_and_never_logged(standalone):
    password = standalone.password()
    assert password and len(password) >= 16
    assert stat.S_IMODE(standalone.password_file.stat().st_mode) == 0o600
    for path in (standalone.log_file, standalone.env_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert password not in path.read_text(errors="replace"), f"the admin password is in {path}"
    assert password not in str(standalone.status())
    airflow_api(standalone)  # control: the password in the file is the one that logs in
