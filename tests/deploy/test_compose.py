"""docker-compose.yaml, checked statically (Docker cannot run here): the services the code expects,
the environment names the code actually reads, mounts that exist, nothing unauthenticated published,
Celery on Redis, the FAB auth manager, one JWT secret everywhere."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / "docker" / ".env.example"
DOCKERFILE = ROOT / "docker" / "airflow.Dockerfile"
AIRFLOW_SERVICES = ("airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer", "airflow-worker")
VAR = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            values[k.strip()] = v.strip()
    return values


def interpolate(text: str, values: dict[str, str]) -> str:
    """Compose-style ${VAR}, ${VAR:-default}, ${VAR:?error} (enough for this file)."""

    def sub(m):
        name, op, arg = m.group(1), m.group(2), m.group(3)
        value = values.get(name, "")
        if op and op.endswith("?") and not value:
            raise KeyError(f"{name} is required: {arg}")
        if op and op.endswith("-") and not value:
            return arg
        return value

    return VAR.sub(sub, text.replace("$$", "\0")).replace("\0", "$")


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def interpolate_tree(node, values: dict[str, str]):
    """Compose parses the YAML first, then interpolates string values (so JSON stays a string)."""
    if isinstance(node, dict):
        return {k: interpolate_tree(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(v, values) for v in node]
    return interpolate(node, values) if isinstance(node, str) else node


@pytest.fixture(scope="module")
def compose() -> dict:
    """The file as docker compose would see it with docker/.env.example's values."""
    return interpolate_tree(yaml.safe_load(COMPOSE.read_text()), env_example())


def service_env(svc: dict) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def code_text() -> str:
    parts = []
    for folder in ("include", "plugins", "dags"):
        parts += [p.read_text(errors="replace") for p in (ROOT / folder).rglob("*.py")]
    return "\n".join(parts)


def test_yaml_is_valid_and_has_every_service(raw):
    services = set(raw["services"])
    assert {"postgres", "redis", "seaweedfs", *AIRFLOW_SERVICES} <= services, services
    # the stack uses only images that exist: official Airflow (via the Dockerfile), postgres, redis, seaweedfs
    assert raw["services"]["seaweedfs"]["image"].startswith("chrislusf/seaweedfs:")
    assert raw["services"]["postgres"]["image"].startswith("postgres:")
    assert raw["services"]["redis"]["image"].startswith("redis:")


def test_every_required_variable_is_in_the_env_example():
    example = env_example()
    required = {m.group(1) for m in VAR.finditer(COMPOSE.read_text()) if (m.group(2) or "").endswith("?")}
    assert required, "secrets should be required (${VAR:?...}), not silently empty"
    missing = required - set(example)
    assert not missing, f"docker/.env.example lacks {sorted(missing)}"
    # every secret in the template is a placeholder, never a real value
    for key in ("POSTGRES_PASSWORD", "AIRFLOW_JWT_SECRET", "SINERGI_ADMIN_PASSWORD", "SINERGI_S3_PIPELINE_SECRET_KEY"):
        assert "change-me" in example[key], key


def test_env_file_is_not_committed():
    ignore = (ROOT / "docker" / ".gitignore").read_text().split()
    assert ".env" in ignore
    assert not (ROOT / "docker" / ".env").exists() or ".env" in ignore


def test_airflow_image_is_the_official_one_with_requirements():
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM apache/airflow:3\.3\.2-python3\.11\s*$", text, re.M), "official image, pinned"
    assert "requirements.txt" in text and "pip install" in text
    assert "apache-airflow==3.3.2" in (ROOT / "requirements.txt").read_text(), "image and requirements agree"
    assert "PYTHONPATH=/opt/airflow/include" in text


def test_airflow_services_share_one_configuration(compose):
    envs = {name: service_env(compose["services"][name]) for name in AIRFLOW_SERVICES}
    for name, env in envs.items():
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:"), name
        assert env["AIRFLOW__CORE__AUTH_MANAGER"] == "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://"), name
        assert "@postgres:5432/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/", name
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false", name
    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API__SECRET_KEY"):
        values = {env.get(key) for env in envs.values()}
        assert len(values) == 1 and values != {""} and values != {None}, f"{key} must be set and shared: {values}"
    commands = {name: compose["services"][name].get("command") for name in AIRFLOW_SERVICES}
    assert commands["airflow-apiserver"] == "api-server"
    assert commands["airflow-scheduler"] == "scheduler"
    assert commands["airflow-dag-processor"] == "dag-processor"
    assert commands["airflow-triggerer"] == "triggerer"
    assert commands["airflow-worker"] == "celery worker"
    # scaling workers needs no fixed container name or host port on the worker
    worker = compose["services"]["airflow-worker"]
    assert "container_name" not in worker and not worker.get("ports")


def test_init_creates_fab_users_and_buckets(compose):
    init = compose["services"]["airflow-init"]
    script = ROOT / "docker" / "init.sh"
    mounted = [v for v in init["volumes"] if v.startswith("./docker/init.sh:")]
    assert mounted and script.exists() and os.access(script, os.X_OK)
    text = script.read_text()
    assert "airflow db migrate" in text
    assert "airflow users create" in text and "--role" in text
    assert "ensure_bucket" in text
    # the heavy-task pool, with its slots from the same variable the code reads (sinergi.settings)
    from sinergi.settings import DEFAULT_HEAVY_POOL_SLOTS, HEAVY_POOL

    assert f'airflow pools set {HEAVY_POOL} "${{SINERGI_HEAVY_POOL_SLOTS:-{DEFAULT_HEAVY_POOL_SLOTS}}}"' in text
    assert text.index("airflow db migrate") < text.index("airflow pools set")
    env = service_env(init)
    assert env["SINERGI_HEAVY_POOL_SLOTS"] == str(DEFAULT_HEAVY_POOL_SLOTS)
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg2://")
    for name in AIRFLOW_SERVICES[1:]:
        dep = compose["services"][name]["depends_on"]["airflow-init"]
        assert dep["condition"] == "service_completed_successfully", name


def test_connections_match_what_the_code_reads(compose, monkeypatch):
    from sinergi import secrets, settings
    from sinergi.extract.sources import DISNAKER_CONN_ID, SourceConfig

    expected = {
        f"AIRFLOW_CONN_{settings.S3_CONN_ID.upper()}",
        f"AIRFLOW_CONN_{DISNAKER_CONN_ID.upper()}",
        secrets.CONN_ENV,
        "SINERGI_EXPORTS_DIR",
    }
    for name in AIRFLOW_SERVICES:
        env = service_env(compose["services"][name])
        assert expected <= set(env), f"{name} lacks {sorted(expected - set(env))}"
    env = service_env(compose["services"]["airflow-worker"])
    # the core parses these exactly as the workers will see them
    for key in list(os.environ):
        if key.startswith(("AIRFLOW_CONN_", "SINERGI_", "AWS_")):
            monkeypatch.delenv(key)
    for key in expected:
        monkeypatch.setenv(key, env[key])
    monkeypatch.setenv("SINERGI_EXPORTS_DIR", env["SINERGI_EXPORTS_DIR"])
    s3 = settings.Settings().pipeline_s3()
    assert s3.endpoint == "http://seaweedfs:8333" and s3.access_key == env_example()["SINERGI_S3_PIPELINE_ACCESS_KEY"]
    src = SourceConfig.from_env()
    assert src.exports_dir == Path("/opt/airflow/exports")
    assert src.disnaker_db_url.startswith("mysql+pymysql://sinergi_ro:")
    assert settings.Settings().connection(secrets.CONN_ID).value.password == "hex:change-me-to-64-hex-digits"
    json.loads(env[f"AIRFLOW_CONN_{settings.S3_CONN_ID.upper()}"])  # valid JSON after interpolation


def test_every_sinergi_variable_set_is_one_the_code_reads(compose):
    """A typo in an env name would silently fall back to a default; catch it here."""
    code = code_text()
    for name in AIRFLOW_SERVICES:
        for key in service_env(compose["services"][name]):
            if key.startswith("SINERGI_") and key not in ("SINERGI_ADMIN_USER", "SINERGI_ADMIN_PASSWORD",
                                                          "SINERGI_VIEWER_USER", "SINERGI_VIEWER_PASSWORD"):
                assert f'"{key}"' in code, f"{name}: {key} is set but no code reads it"
    init = (ROOT / "docker" / "init.sh").read_text()
    for key in ("SINERGI_ADMIN_USER", "SINERGI_ADMIN_PASSWORD", "SINERGI_VIEWER_USER"):
        assert key in init


def test_mounts_point_at_real_folders_where_the_code_expects_them(raw):
    common = raw["x-airflow-common"]
    mounts = dict(v.split(":")[:2] for v in common["volumes"] if v.startswith("./"))
    assert mounts == {
        "./dags": "/opt/airflow/dags",
        "./plugins": "/opt/airflow/plugins",
        "./include": "/opt/airflow/include",
        "./expectations": "/opt/airflow/expectations",
    }
    for host in mounts:
        assert (ROOT / host).is_dir(), host
    # sinergi.settings.project_root() is include/..: the expectations and dags must be its siblings there
    assert (ROOT / "include" / "sinergi" / "settings.py").exists()
    assert {Path(c).parent for c in mounts.values()} == {Path("/opt/airflow")}
    assert common["environment"]["PYTHONPATH"] == "/opt/airflow/include"
    for svc in raw["services"].values():
        for v in svc.get("volumes") or []:
            if v.startswith("./"):
                assert (ROOT / v.split(":")[0]).exists(), v


def test_only_the_ui_and_s3_are_published_and_only_on_loopback(compose):
    published = {}
    for name, svc in compose["services"].items():
        for p in svc.get("ports") or []:
            published[name] = [*published.get(name, []), str(p)]
    assert set(published) == {"airflow-apiserver", "seaweedfs"}, published
    for name, ports in published.items():
        for p in ports:
            assert p.startswith("127.0.0.1:"), f"{name} publishes {p} beyond loopback"
    assert [p.rsplit(":", 1)[1] for p in published["seaweedfs"]] == ["8333"], "S3 only (the filer does not authenticate)"
    assert [p.rsplit(":", 1)[1] for p in published["airflow-apiserver"]] == ["8080"]


def test_seaweedfs_always_authenticates(compose, tmp_path, monkeypatch):
    svc = compose["services"]["seaweedfs"]
    env = service_env(svc)
    assert not any(k.startswith(("AWS_", "SINERGI_S3_", "WEED_")) for k in env), "weed gets no keys from its environment"
    script = (ROOT / "docker" / "seaweedfs" / "entrypoint.sh").read_text()
    assert 'exec env -i "$WEED"' in script, "weed starts with an empty environment (AWS_* would add an Admin)"
    for flag in ("-s3.config=", "-s3.port=8333", "-disableHttp", "-filer.disableHttp", "-ip.bind=127.0.0.1",
                 "-config_dir=", "-master.telemetry=false", "-s3.autoCreateBucket=false"):
        assert flag in script, flag
    assert "-volume.port=8080" not in script and "-volume.port=" in script, "8080 is the api-server's port"
    assert any(v.startswith("seaweedfs-conf:/etc/sinergi") and v.endswith(":ro") for v in svc["volumes"])
    # the rendered identities (docker/seaweedfs/render_config.py): pipeline without Admin, each party
    # read-only on its own bucket, a provisioner scoped to the Sinergi buckets
    import importlib.util

    spec = importlib.util.spec_from_file_location("render_config", ROOT / "docker" / "seaweedfs" / "render_config.py")
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    keys = {f"SINERGI_S3_{w}_{k}_KEY": f"{w}-{k}-0123456789abcdef" for w in ("PIPELINE", "KP2MI", "LAMPUNG")
            for k in ("ACCESS", "SECRET")}
    ids = render.render(tmp_path / "conf", env=keys, cert_dir="/etc/sinergi/pki")["identities"]
    by_name = {i["name"]: i["actions"] for i in ids}
    assert not any(a.split(":")[0] == "Admin" for a in by_name["pipeline"])
    assert all(a.startswith("Admin:") for a in by_name["provisioner"])
    from sinergi.local.store import default_parties

    for party, bucket in default_parties().items():
        assert sorted(by_name[party]) == sorted([f"Read:{bucket}", f"List:{bucket}"]), party
    assert '"/etc/sinergi/pki/ca.crt"' in (tmp_path / "conf" / "security.toml").read_text()


def test_nothing_starts_before_the_secrets_are_checked(raw):
    services = raw["services"]
    pre = services["sinergi-preflight"]
    assert "check_secrets.py" in pre["command"][-1] and "render_config.py" in pre["command"][-1]
    assert pre["command"][-1].index("check_secrets.py") < pre["command"][-1].index("render_config.py")
    assert pre.get("network_mode") == "none"

    def needs_preflight(name: str, seen=()) -> bool:
        deps = services[name].get("depends_on") or {}
        if "sinergi-preflight" in deps:
            return deps["sinergi-preflight"]["condition"] == "service_completed_successfully"
        return bool(deps) and all(needs_preflight(d, (*seen, name)) for d in deps if d not in seen)

    for name in services:
        if name != "sinergi-preflight":
            assert needs_preflight(name), f"{name} may start before the secrets are checked"


def test_the_stores_internal_ports_stay_on_an_internal_network(raw):
    assert raw["networks"]["store"]["internal"] is True
    weed = raw["services"]["seaweedfs"]
    assert set(weed["networks"]) == {"store", "edge"}
    assert all(str(p).startswith("127.0.0.1:") and str(p).endswith(":8333") for p in weed["ports"])
    for name in AIRFLOW_SERVICES:
        assert "store" in raw["x-airflow-common"]["networks"], name
    text = (ROOT / "docker" / "seaweedfs" / "entrypoint.sh").read_text()
    assert "-ip.bind=0.0.0.0" not in text and 'S3_BIND="${SINERGI_WEED_S3_BIND:-0.0.0.0}"' in text
