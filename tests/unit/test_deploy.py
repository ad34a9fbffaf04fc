"""deploy/: the compose file, the systemd units, the env example and the proxy examples
say only what mailer does (every MAILER_* a real setting, every role a real role)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mailer.config import load_settings, settings_reference
from mailer.env_example import PRODUCTION, render_env_example
from mailer.metrics import Metrics
from mailer.runtime.serve import Role
from mailer.settings_fields import READ_ELSEWHERE

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
NAME = re.compile(r"\bMAILER_[A-Z0-9_]*[A-Z0-9]\b")
DECLARED = {doc.env for doc in settings_reference()}
UNITS = ("mailer-web.service", "mailer-worker@.service", "mailer-bounces.service")


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return loaded


def test_the_env_example_is_generated_from_the_declarations() -> None:
    """Run `python -m mailer.env_example > deploy/.env.example` after changing a setting."""
    assert (DEPLOY / ".env.example").read_text() == render_env_example()


def test_the_env_example_lists_every_setting_and_sets_only_real_ones() -> None:
    text = (DEPLOY / ".env.example").read_text()
    listed = re.findall(r"^(?:# )?(MAILER_[A-Z0-9_]+)=", text, flags=re.MULTILINE)
    assert sorted(listed) == sorted(DECLARED)
    assert len(listed) == len(set(listed))
    assert set(PRODUCTION) <= DECLARED
    set_lines = dict(re.findall(r"^(MAILER_[A-Z0-9_]+)=(.*)$", text, flags=re.MULTILINE))
    assert set_lines == PRODUCTION


@pytest.mark.parametrize(
    "name",
    ["docker-compose.yml", "Caddyfile", "nginx.conf", ".env.example"]
    + [f"systemd/{unit}" for unit in UNITS],
)
def test_every_variable_a_deploy_file_names_is_a_setting(name: str) -> None:
    named = set(NAME.findall((DEPLOY / name).read_text()))
    assert named - DECLARED - READ_ELSEWHERE == set()


def test_compose_runs_the_database_and_every_role_with_healthchecks_and_volumes() -> None:
    spec = compose()
    services = spec["services"]
    assert {"db", "web", "worker", "bounces"} <= set(services)
    volumes = set(spec["volumes"])
    for name, service in services.items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            assert source.startswith("./") or source in volumes, (name, mount)
        if service.get("profiles"):
            continue  # the optional proxy
        check = service["healthcheck"]["test"]
        assert check[0] == "CMD" and len(check) > 1, name
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]
    roles = {str(role) for role in Role}
    for role in ("web", "worker", "bounces"):
        service = services[role]
        command = service["command"]
        assert command[:2] == ["serve", "--role"] and command[2] == role
        assert command[2] in roles
        assert service["env_file"] == ".env"
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
        assert "mailer-data:/var/lib/mailer" in service["volumes"]
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    assert (DEPLOY / services["proxy"]["volumes"][0].split(":")[0]).exists()


def test_compose_variables_are_in_the_env_example_or_have_defaults() -> None:
    text = (DEPLOY / "docker-compose.yml").read_text()
    example = (DEPLOY / ".env.example").read_text()
    for name, rest in re.findall(r"\$\{([A-Z0-9_]+)([^}]*)\}", text):
        assert rest.startswith((":-", ":?")) or re.search(rf"^{name}=", example, re.M), name
    assert re.search(r"^POSTGRES_PASSWORD=", example, re.MULTILINE)
    database_url = PRODUCTION["MAILER_DATABASE_URL"]
    password = re.search(r"^POSTGRES_PASSWORD=(.*)$", example, re.MULTILINE)
    assert password is not None and f":{password.group(1)}@db:" in database_url


def test_compose_config_when_docker_compose_is_here(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if (
        docker is None
        or subprocess.run(
            [docker, "compose", "version"], capture_output=True, check=False
        ).returncode
    ):
        pytest.skip("no docker compose here; the structural tests above stand in for it")
    folder = tmp_path / "deploy"
    folder.mkdir()
    for name in ("docker-compose.yml", "Caddyfile"):
        shutil.copy(DEPLOY / name, folder / name)
    shutil.copy(DEPLOY / ".env.example", folder / ".env")  # what an operator starts from
    run = subprocess.run(
        [docker, "compose", "-f", str(folder / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        cwd=folder,
    )
    assert run.returncode == 0, run.stderr


def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """systemd-analyze reports unknown keys and bad values; it also wants the ExecStart
    binary to exist, so the copies under test point at /bin/true instead of /opt/mailer."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing (Debian's systemd package)"
    paths = []
    for unit in UNITS:
        text = (DEPLOY / "systemd" / unit).read_text()
        assert "/opt/mailer/bin/mailer serve --role " in text
        role = re.search(r"serve --role (\w+)", text)
        assert role is not None and role.group(1) in {str(r) for r in Role}
        assert "EnvironmentFile=/etc/mailer/mailer.env" in text
        (tmp_path / unit).write_text(text.replace("/opt/mailer/bin/mailer", "/bin/true"))
        paths.append(str(tmp_path / unit.replace("@.", "@1.")))
    run = subprocess.run(
        [analyze, "verify", *paths], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip() == ""


def test_the_proxies_terminate_tls_pass_the_client_address_and_hide_metrics() -> None:
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert "listen 443 ssl" in nginx and "ssl_certificate " in nginx
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in nginx
    assert "$proxy_add_x_forwarded_for;" not in nginx  # a client could choose the first entry
    assert "proxy_set_header X-Request-Id $request_id;" in nginx
    assert "location = /metrics { return 404; }" in nginx
    assert "MAILER_TRUST_PROXY=true" in nginx
    caddy = (DEPLOY / "Caddyfile").read_text()
    assert "reverse_proxy web:8080" in caddy
    assert "header_up X-Request-Id" in caddy
    assert "@internal path /metrics" in caddy and "trusted_proxies" not in caddy.split("(no")[0]
    assert "MAILER_TRUST_PROXY=true" in caddy


def exposed_names() -> set[str]:
    """Every sample name a mailer process exposes (counters with _total, histograms' parts)."""
    names = set()
    for family in Metrics().registry.collect():
        names.add(family.name)
        for suffix in ("_total", "_bucket", "_count", "_sum", "_created"):
            names.add(family.name + suffix)
    return names


METRIC = re.compile(r"\b(?:mailer|process)_[a-z_]+\b")


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: `make test` installs it (Debian's prometheus package)"
    return found


def dashboard_exprs() -> list[str]:
    board = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    return [t["expr"] for panel in board["panels"] for t in panel["targets"]]


def test_the_alert_rules_pass_promtool_and_name_only_real_metrics() -> None:
    rules = DEPLOY / "prometheus-alerts.yml"
    run = subprocess.run(
        [promtool(), "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    groups = yaml.safe_load(rules.read_text())["groups"]
    exprs = [rule["expr"] for group in groups for rule in group["rules"]]
    assert len(exprs) >= 10
    names = {n for e in exprs for n in METRIC.findall(e)}
    assert names - exposed_names() == set()


def test_every_dashboard_query_parses_and_names_only_real_metrics(tmp_path: Path) -> None:
    """Each panel's PromQL becomes a recording rule, which promtool parses."""
    exprs = dashboard_exprs()
    assert len(exprs) >= 15
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:panel{i}", "expr": e} for i, e in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(rules))
    run = subprocess.run(
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    named = {n for e in exprs for n in METRIC.findall(e)}
    assert named - exposed_names() == set()
    # The list: each is on the board.
    for wanted in (
        "mailer_http_requests_total",
        "mailer_http_request_duration_seconds_bucket",
        "mailer_queue_depth",
        "mailer_deliveries_total",
        "mailer_smtp_send_seconds_bucket",
        "mailer_smtp_replies_total",
        "mailer_bounces_last_hour",
        "mailer_feed_polls_total",
        "mailer_scheduler_lag_seconds",
        "mailer_webhook_attempts_total",
        "mailer_db_pool_connections",
        "process_cpu_seconds_total",
    ):
        assert wanted in named, wanted


def test_the_env_example_as_it_stands_is_a_valid_production_configuration() -> None:
    """Read the way `serve` reads it (MAILER_DOTENV): every value parses, nothing ignored."""
    settings = load_settings({"MAILER_DOTENV": str(DEPLOY / ".env.example")})
    assert settings.is_production
    assert settings.trust_proxy
    assert settings.ignored == ()


def test_nginx_accepts_the_example(tmp_path: Path) -> None:
    """`nginx -t` on the example, with a throwaway certificate and paths under tmp_path."""
    nginx, openssl = shutil.which("nginx"), shutil.which("openssl")
    assert nginx and openssl, "nginx or openssl is missing: `make test` installs nginx-light"
    key, cert = str(tmp_path / "key.pem"), str(tmp_path / "cert.pem")
    subject = ["-subj", "/CN=news.example.org", "-keyout", key, "-out", cert]
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", *subject],
        capture_output=True,
        check=True,
    )
    text = (DEPLOY / "nginx.conf").read_text()
    swaps = {
        "/etc/letsencrypt/live/news.example.org/fullchain.pem": tmp_path / "cert.pem",
        "/etc/letsencrypt/live/news.example.org/privkey.pem": tmp_path / "key.pem",
        "/run/nginx.pid": tmp_path / "nginx.pid",
        "/var/log/nginx/access.log": tmp_path / "access.log",
    }
    for original, replacement in swaps.items():
        assert original in text
        text = text.replace(original, str(replacement))
    (tmp_path / "nginx.conf").write_text(text)
    run = subprocess.run(
        [nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "[warn]" not in run.stderr and "[emerg]" not in run.stderr


def test_caddy_accepts_the_example(tmp_path: Path) -> None:
    """`caddy validate` on the example: site `localhost` (Caddy's own CA, no ACME) and the
    upstream on loopback, so that validating contacts nothing beyond this machine."""
    caddy = shutil.which("caddy")
    assert caddy, "caddy is missing: `make test` installs it (Debian's caddy package)"
    text = (DEPLOY / "Caddyfile").read_text()
    assert "reverse_proxy web:8080" in text
    (tmp_path / "Caddyfile").write_text(text.replace("web:8080", "127.0.0.1:9"))
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path),
        "SITE_ADDRESS": "localhost",
    }
    run = subprocess.run(
        [caddy, "validate", "--config", str(tmp_path / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "Valid configuration" in run.stdout + run.stderr
