"""The deploy recipes are checked by the tools that will run them: `systemd-analyze verify` on
the units (with the install paths pointed at this checkout) and `nginx -t` on the site, and
both recipes run the same three commands as the Procfile."""

import os
import shutil
import subprocess

import pytest
from dotenv import dotenv_values

from bench.slow_clients import DEPLOY, nginx_binary, nginx_config
from helpers import SECRET_KEYS
from scheduler.config import Settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNITS = os.path.join(ROOT, "deploy", "systemd")
INSTALLED = "/opt/scheduler"
ENV_FILE = "/etc/scheduler/scheduler.env"
SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def unit(name):
    """A unit file as {key: [values]} over all its sections."""
    values = {}
    with open(os.path.join(UNITS, name)) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", "[")):
                key, _, value = line.partition("=")
                values.setdefault(key, []).append(value)
    return values


def procfile():
    with open(os.path.join(ROOT, "Procfile")) as f:
        return dict(line.strip().split(": ", 1) for line in f if line.strip())


@pytest.fixture
def units_here(tmp_path):
    """The units with /opt/scheduler and the env file pointed at this checkout and a temp file."""
    env_file = tmp_path / "scheduler.env"
    env_file.write_text("APP_ENV=production\nPUBLIC_BASE_URL=https://book.example.com\n")
    for name in os.listdir(UNITS):
        if name.endswith(".service"):
            with open(os.path.join(UNITS, name)) as f:
                text = f.read()
            assert INSTALLED in text and ENV_FILE in text
            (tmp_path / name).write_text(text.replace(INSTALLED, ROOT).replace(ENV_FILE, str(env_file)))
    return tmp_path


def test_systemd_units_verify(units_here):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing (Debian: systemd)"
    names = sorted(str(path) for path in units_here.glob("*.service"))
    assert len(names) == 3
    result = subprocess.run([analyze, "verify", *names], capture_output=True, text=True, timeout=60)
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if "scheduler-" in line]
    assert result.returncode == 0 and complaints == [], result.stdout + result.stderr


def test_web_and_worker_start_only_after_the_migration():
    migrate = unit("scheduler-migrate.service")
    assert migrate["Type"] == ["oneshot"] and migrate["RemainAfterExit"] == ["yes"]
    for name in ("scheduler-web.service", "scheduler-worker.service"):
        service = unit(name)
        assert "scheduler-migrate.service" in service["Requires"] and "scheduler-migrate.service" in service["After"][0]
        assert service["Restart"] == ["always"]


def test_the_units_run_what_the_procfile_runs():
    commands = {name: unit(f"scheduler-{name}.service")["ExecStart"][0].replace(f"{INSTALLED}/.venv/bin/", "")
                for name in ("migrate", "web", "worker")}
    assert procfile() == {"release": commands["migrate"], "web": commands["web"], "worker": commands["worker"]}


def test_web_listens_only_for_nginx_and_trusts_one_proxy():
    environment = " ".join(unit("scheduler-web.service")["Environment"])
    assert "HOST=127.0.0.1" in environment and "PORT=8000" in environment and "TRUSTED_PROXIES=1" in environment
    with open(os.path.join(DEPLOY, "scheduler.conf")) as f:
        assert "server 127.0.0.1:8000;" in f.read()


def test_the_example_environment_file_starts_in_production_once_its_secrets_are_filled_in():
    """It names every setting production requires (a missing one would refuse to start)."""
    values = dotenv_values(os.path.join(UNITS, "scheduler.env.example"))
    settings = Settings.from_mapping(values | {"JWT_SECRET": "s" * 40, "SECRET_KEYS": SECRET_KEYS})
    assert settings.production and settings.public_base_url == "https://book.example.com"
    with open(os.path.join(DEPLOY, "scheduler.conf")) as f:
        assert "server_name book.example.com;" in f.read()  # the site serves that host


def test_the_nginx_site_as_shipped_passes_nginx_t(tmp_path):
    """The site file unchanged, in a minimal main config (nginx -t binds no ports)."""
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n    access_log off;\n    include {DEPLOY}/scheduler.conf;\n}}\n")
    check(tmp_path, tmp_path / "nginx.conf")


def test_the_nginx_main_config_and_site_pass_nginx_t(tmp_path):
    """deploy/nginx/nginx.conf with the site, as the slow-client test runs them."""
    check(tmp_path, nginx_config(str(tmp_path), 8080, 8000))


def check(directory, config):
    result = subprocess.run([nginx_binary(), "-t", "-p", str(directory), "-c", str(config),
                             "-e", f"{directory}/error.log"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "[warn]" not in result.stderr and "[emerg]" not in result.stderr, result.stderr
