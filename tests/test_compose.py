"""docker-compose.yml describes the production-like stack (acceptance 5).

No Docker engine runs here, so the file is checked for what `docker compose up` relies on:
the services, their health checks, the commands (and that gunicorn's app string really loads
the hub), and environment names the hub actually reads.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
COMPOSE_FILE = PROJECT_DIR / "docker-compose.yml"
HUB_SERVICES = ("web", "worker", "beat")
LONG_RUNNING = ("web", "worker", "beat", "postgres", "redis", "mailpit")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def _command(service: dict) -> list[str]:
    command = service["command"]
    return command.split() if isinstance(command, str) else list(command)


def _healthcheck_text(service: dict) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(test)


def test_the_stack_has_every_service_of_a_production_hub(services):
    assert set(LONG_RUNNING) | {"migrate"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert "mailpit" in services["mailpit"]["image"]


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_every_long_running_service_has_a_health_check(services, name):
    check = services[name].get("healthcheck")
    assert check and check.get("test"), f"{name} has no health check"
    assert check["test"][0] in ("CMD", "CMD-SHELL") if isinstance(check["test"], list) else True
    assert not check.get("disable")


def test_web_runs_gunicorn_on_the_production_app_factory(services):
    command = _command(services["web"])
    assert command[0] == "gunicorn"
    assert command[-1] == "hub:create_app('production')"


def test_gunicorns_app_string_loads_the_hub_and_refuses_to_start_without_a_secret_key(services, tmp_path):
    """The exact string from the compose file, through gunicorn's own loader."""
    app_string = _command(services["web"])[-1]
    load = ("import sys; from gunicorn.util import import_app; app = import_app(sys.argv[1]); "
            "print(app.name, app.config['SESSION_COOKIE_SECURE'], app.config['TESTING'])")
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "HUB_CONFIG", "REDIS_URL"}}
    env.update(HUB_INSTANCE_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'hub.sqlite'}")

    with_key = subprocess.run([sys.executable, "-c", load, app_string], env={**env, "SECRET_KEY": "s" * 64},
                              cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert with_key.returncode == 0, with_key.stderr
    assert with_key.stdout.split() == ["hub", "True", "False"]  # production: secure cookies

    without_key = subprocess.run([sys.executable, "-c", load, app_string], env=env,
                                 cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert without_key.returncode != 0
    assert "SECRET_KEY" in without_key.stderr


def test_web_health_check_asks_a_page_the_hub_serves_without_signing_in(services, client):
    path = re.search(r"http://127\.0\.0\.1:8000(/[^'\" ]*)", _healthcheck_text(services["web"])).group(1)
    response = client.get(path)
    assert response.status_code == 200


@pytest.mark.parametrize(("name", "subcommand"), [("worker", "worker"), ("beat", "beat")])
def test_worker_and_beat_run_celery_on_the_hub_worker_module(services, name, subcommand):
    command = _command(services[name])
    assert command[:4] == ["celery", "-A", "workers.worker", subcommand]


def test_worker_entry_point_exposes_the_celery_app_built_from_the_hub(tmp_path):
    # In a process of its own: importing workers.worker builds an app and makes its Celery app
    # the process default, which the suite's own app must keep.
    check = ("import workers.worker as w; assert w.celery_app is w.flask_app.extensions['celery']; "
             "print(w.celery_app.conf.task_acks_late)")
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "HUB_CONFIG"}}
    env["HUB_INSTANCE_DIR"] = str(tmp_path)
    result = subprocess.run([sys.executable, "-c", check], env=env, cwd=PROJECT_DIR,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"  # late acknowledgement: a lost worker loses no alert


def test_beat_health_check_watches_the_schedule_file_beat_writes(services):
    schedule = next(arg.split("=", 1)[1] for arg in _command(services["beat"]) if arg.startswith("--schedule="))
    assert schedule + "*" in _healthcheck_text(services["beat"])
    volume_targets = [volume.split(":")[1] for volume in services["beat"]["volumes"]]
    assert str(Path(schedule).parent) in volume_targets  # the schedule survives a restart


def test_migrations_run_once_before_the_hub_starts(services):
    assert _command(services["migrate"])[-2:] == ["db", "upgrade"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in HUB_SERVICES:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_hub_services_are_configured_for_postgres_redis_and_the_mail_catcher(services):
    for name in (*HUB_SERVICES, "migrate"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"].startswith("redis://redis:6379/")
        assert env["HUB_CONFIG"] == "production"
        assert env["HUB_BASE_URL"]
        assert env["HUB_SMTP_HOST"].endswith("mailpit}") and env["HUB_SMTP_PORT"].endswith("1025}")
        # The stack must not start with a made-up key: compose stops unless SECRET_KEY is set.
        assert re.fullmatch(r"\$\{SECRET_KEY:\?.+\}", env["SECRET_KEY"])


def _variables_the_hub_reads() -> set[str]:
    source = (PROJECT_DIR / "config.py").read_text() + (PROJECT_DIR / "hub" / "__init__.py").read_text()
    return {name for pair in re.findall(
        r"""os\.environ\.get\(\s*["']([A-Z0-9_]+)["']|_bool\(\s*["']([A-Z0-9_]+)["']""", source)
        for name in pair if name}


def test_every_hub_variable_in_the_compose_file_is_one_the_hub_reads(services):
    known = _variables_the_hub_reads()
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "HUB_CONFIG"} <= known
    for name in HUB_SERVICES:
        unknown = set(services[name]["environment"]) - known
        assert not unknown, f"{name}: the hub reads no variable named {sorted(unknown)}"


def test_readme_starts_with_the_two_commands_and_documents_every_variable():
    readme = (PROJECT_DIR / "README.md").read_text()
    first_block = re.search(r"```sh\n(.*?)```", readme, re.DOTALL).group(1)
    assert readme.index("```sh") < readme.index("\n## ")
    assert [line.split("#")[0].strip() for line in first_block.strip().splitlines()] == ["make run", "make test"]
    undocumented = {name for name in _variables_the_hub_reads() if f"`{name}`" not in readme}
    assert not undocumented, f"README.md does not explain {sorted(undocumented)}"


def test_variable_references_use_valid_compose_interpolation():
    """A stray `$` makes `docker compose` refuse the whole file."""
    text = "\n".join(line for line in COMPOSE_FILE.read_text().splitlines() if not line.lstrip().startswith("#"))
    without_escapes = text.replace("$$", "")
    references = re.findall(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-?][^}]*)?\}", without_escapes)
    assert without_escapes.count("$") == len(references)


def test_the_image_installs_the_requirements_and_runs_as_an_unprivileged_user():
    dockerfile = (PROJECT_DIR / "Dockerfile").read_text()
    assert "pip install -r requirements.txt" in dockerfile
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    ignored = (PROJECT_DIR / ".dockerignore").read_text().split()
    assert ".venv" in ignored and "instance" in ignored  # never bake a developer's state in


def test_evidence_lives_on_its_own_volume_in_the_web_service():
    compose = yaml.safe_load((Path(__file__).resolve().parents[1] / "docker-compose.yml").read_text())
    web = compose["services"]["web"]
    assert "evidence:/var/lib/hub/evidence" in web["volumes"]
    assert "evidence" in compose["volumes"]
    dockerfile = (Path(__file__).resolve().parents[1] / "Dockerfile").read_text()
    assert "/var/lib/hub/evidence" in dockerfile
