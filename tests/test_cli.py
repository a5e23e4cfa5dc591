"""The command-line contract: `flask --app hub <command>`, also installed as `hub <command>`.

Other tools script against these commands, so names, options, output and exit codes are
tested exactly as an operator types them.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from hub.accounts.models import ApiToken, Organisation, SharingGroup, User

from hub.principal import OrgKind, Role
from hub.accounts.services import authenticate
from hub.demo import DEMO_PASSWORD
from hub.extensions import db
from hub.intel.models import SharedItem

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _ok(runner, *args):
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, f"{args} failed:\n{result.output}"
    return result


def _fails(runner, *args):
    result = runner.invoke(args=list(args))
    assert result.exit_code != 0, f"{args} should have failed:\n{result.output}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{args} crashed instead of explaining: {result.exception!r}"
    )
    return result


def _org(slug: str) -> Organisation | None:
    return db.session.scalar(select(Organisation).where(Organisation.slug == slug))


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- orgs ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", [k.value for k in OrgKind])
def test_orgs_create_accepts_every_organisation_kind(runner, kind):
    result = _ok(runner, "orgs", "create", "member-1", "--name", "Member One", "--kind", kind,
                 "--country", "cz")
    assert "member-1" in result.output
    org = _org("member-1")
    assert (org.name, org.kind, org.country) == ("Member One", OrgKind(kind), "CZ")


def test_orgs_create_rejects_an_unknown_kind_and_writes_nothing(runner):
    result = _fails(runner, "orgs", "create", "acme", "--name", "Acme", "--kind", "pharmacy",
                    "--country", "CZ")
    assert "pharmacy" in result.output and "hospital" in result.output
    assert _org("acme") is None


def test_orgs_create_rejects_a_duplicate_slug(runner):
    _ok(runner, "orgs", "create", "fn-brno", "--name", "FN Brno", "--kind", "hospital", "--country", "CZ")
    result = _fails(runner, "orgs", "create", "fn-brno", "--name", "Other", "--kind", "vendor",
                    "--country", "DE")
    assert "fn-brno already exists" in result.output
    assert _org("fn-brno").name == "FN Brno"


@pytest.mark.parametrize(
    ("slug", "country", "message"),
    [("Bad Slug!", "CZ", "invalid slug"), ("good-slug", "Czechia", "invalid country")],
)
def test_orgs_create_explains_invalid_input(runner, slug, country, message):
    result = _fails(runner, "orgs", "create", slug, "--name", "X", "--kind", "hospital",
                    "--country", country)
    assert message in result.output
    assert _count(Organisation) == 0


# --- users --------------------------------------------------------------------------------------

def test_users_create_with_a_password_signs_in_with_it(runner, make):
    org = make.make_org("hospital", slug="fn-brno")
    result = _ok(runner, "users", "create", "Analyst@FN-Brno.cz", "--org", org.slug, "--role",
                 "analyst", "--password", "a-long-enough-password")
    assert "analyst@fn-brno.cz" in result.output
    assert "password:" not in result.output  # the operator chose it; never echo it back
    user = authenticate("analyst@fn-brno.cz", "a-long-enough-password")
    assert user is not None and user.role is Role.analyst and user.org.slug == "fn-brno"


def test_users_create_without_a_password_prints_a_generated_one_that_works(runner, make):
    make.make_org("national_cert", slug="cert-cz")
    result = _ok(runner, "users", "create", "admin@cert.cz", "--org", "cert-cz", "--role", "admin")
    printed = [line for line in result.stdout.splitlines() if line.startswith("password: ")]
    assert len(printed) == 1
    password = printed[0].removeprefix("password: ")
    assert len(password) >= 12
    assert authenticate("admin@cert.cz", password).role is Role.admin
    stored = db.session.scalar(select(User.password_hash).where(User.email == "admin@cert.cz"))
    assert password not in stored and stored.startswith("$argon2")


@pytest.mark.parametrize("role", ["admin", "analyst", "viewer"])
def test_users_create_accepts_each_role(runner, make, role):
    make.make_org(slug="fn-brno")
    _ok(runner, "users", "create", f"{role}@fn.cz", "--org", "fn-brno", "--role", role)
    assert db.session.scalar(select(User.role).where(User.email == f"{role}@fn.cz")) is Role(role)


def test_users_create_refuses_an_unknown_organisation(runner):
    result = _fails(runner, "users", "create", "someone@nowhere.cz", "--org", "nowhere", "--role", "viewer")
    assert "no organisation nowhere" in result.output
    assert _count(User) == 0


def test_users_create_refuses_an_unknown_role_a_duplicate_and_a_short_password(runner, make):
    make.make_org(slug="fn-brno")
    assert "superuser" in _fails(runner, "users", "create", "a@fn.cz", "--org", "fn-brno",
                                 "--role", "superuser").output
    _ok(runner, "users", "create", "a@fn.cz", "--org", "fn-brno", "--role", "viewer")
    assert "already exists" in _fails(runner, "users", "create", "A@fn.cz", "--org", "fn-brno",
                                      "--role", "admin").output
    assert "password too short" in _fails(runner, "users", "create", "b@fn.cz", "--org", "fn-brno",
                                          "--role", "viewer", "--password", "short").output
    assert _count(User) == 1


# --- groups -------------------------------------------------------------------------------------

def test_groups_create_names_its_member_organisations(runner, make):
    for slug in ("fn-brno", "fn-ostrava", "cert-cz"):
        make.make_org(slug=slug)
    result = _ok(runner, "groups", "create", "cz-health", "--name", "CZ hospitals + CERT-CZ",
                 "--orgs", "fn-brno,fn-ostrava,cert-cz")
    assert "cz-health" in result.output
    group = db.session.scalar(select(SharingGroup).where(SharingGroup.slug == "cz-health"))
    assert group.name == "CZ hospitals + CERT-CZ"
    assert sorted(org.slug for org in group.orgs) == ["cert-cz", "fn-brno", "fn-ostrava"]


def test_groups_create_refuses_an_unknown_member_and_a_duplicate_slug(runner, make):
    make.make_org(slug="fn-brno")
    result = _fails(runner, "groups", "create", "cz-health", "--name", "CZ", "--orgs", "fn-brno,ghost")
    assert "no organisation ghost" in result.output
    assert _count(SharingGroup) == 0
    _ok(runner, "groups", "create", "cz-health", "--name", "CZ", "--orgs", "fn-brno")
    assert "already exists" in _fails(runner, "groups", "create", "cz-health", "--name", "Again",
                                      "--orgs", "fn-brno").output


# --- tokens -------------------------------------------------------------------------------------

def test_tokens_create_prints_only_the_token_and_stores_only_its_hash(runner, make, client):
    user = make.make_user(make.make_org("hospital", slug="fn-brno"), "analyst", email="analyst@fn-brno.cz")
    result = _ok(runner, "tokens", "create", "analyst@fn-brno.cz")
    assert result.stdout.count("\n") == 1, "the token must be alone on stdout, for $(hub tokens create ...)"
    token = result.stdout.strip()
    assert len(token) >= 32 and " " not in token

    stored = db.session.scalars(select(ApiToken)).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    with db.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM api_token")).mappings().one()
    assert not any(token in str(value) for value in row.values()), "plaintext token in api_token"

    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert (me.json["email"], me.json["org"], me.json["role"]) == (user.email, "fn-brno", "analyst")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}x"}).status_code == 401


def test_tokens_create_refuses_an_unknown_user(runner):
    result = _fails(runner, "tokens", "create", "ghost@nowhere.cz")
    assert "no user ghost@nowhere.cz" in result.output
    assert result.stdout == ""  # nothing a script could mistake for a token
    assert _count(ApiToken) == 0


# --- demo ---------------------------------------------------------------------------------------

def _world() -> dict[str, int]:
    return {model.__name__: _count(model) for model in (Organisation, User, SharingGroup, SharedItem)}


def test_demo_seeds_the_story_organisations_and_prints_working_logins(runner):
    result = _ok(runner, "demo")
    orgs = db.session.scalars(select(Organisation)).all()
    kinds = sorted((org.kind.value, org.country) for org in orgs)
    for expected in [("hospital", "CZ"), ("national_cert", "CZ"), ("hospital", "BR"),
                     ("national_cert", "BR"), ("law_enforcement", "CZ")]:
        assert expected in kinds
    assert kinds.count(("hospital", "CZ")) >= 2
    assert any(kind == "vendor" for kind, _ in kinds)

    assert DEMO_PASSWORD in result.output
    logins = [line.split()[0] for line in result.output.splitlines() if "@" in line]
    assert len(logins) == _count(User)
    for email in logins:
        assert authenticate(email, DEMO_PASSWORD) is not None, email


def test_demo_is_idempotent(runner):
    _ok(runner, "demo")
    first = _world()
    assert first["SharedItem"] > 0
    _ok(runner, "demo")
    assert _world() == first


# --- the real commands, as separate processes ---------------------------------------------------

def _command_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "TEST_DATABASE_URL", "TEST_REDIS_URL",
                        "HUB_CONFIG", "FLASK_APP", "RATELIMIT_STORAGE_URI"}}
    env["HUB_INSTANCE_DIR"] = str(tmp_path / "instance")
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    return env


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)


def test_db_upgrade_and_demo_run_as_real_commands_on_a_fresh_sqlite_file(tmp_path):
    env = _command_env(tmp_path)
    hub_script = Path(sys.executable).with_name("hub")
    assert hub_script.exists(), "the `hub` console script is missing: `make test` installs the project (pip install -e .)"

    upgraded = _run([sys.executable, "-m", "flask", "--app", "hub", "db", "upgrade"], env)
    assert upgraded.returncode == 0, upgraded.stderr
    demo = _run([str(hub_script), "demo"], env)
    assert demo.returncode == 0, demo.stderr
    assert "analyst@fn-brno.demo" in demo.stdout and DEMO_PASSWORD in demo.stdout

    engine = create_engine(env["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            counts = {table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                      for table in ("organisation", "user_account", "sharing_group", "shared_item")}
    finally:
        engine.dispose()
    assert counts["organisation"] == 7 and counts["sharing_group"] == 1
    assert counts["user_account"] == len([line for line in demo.stdout.splitlines() if "@" in line])

    bad = _run([str(hub_script), "orgs", "create", "acme", "--name", "Acme", "--kind", "pharmacy",
                "--country", "CZ"], env)
    assert bad.returncode != 0
    assert "pharmacy" in bad.stderr and "Traceback" not in bad.stderr


def test_organisations_get_their_countrys_time_zone_or_the_one_given(runner):
    from hub.accounts.services import org_by_slug

    assert runner.invoke(args=["orgs", "create", "hc-rio", "--name", "HC Rio", "--kind", "hospital",
                               "--country", "BR"]).exit_code == 0
    assert org_by_slug("hc-rio").timezone == "America/Sao_Paulo"
    manaus = runner.invoke(args=["orgs", "create", "hc-manaus", "--name", "HC Manaus", "--kind", "hospital",
                                 "--country", "BR", "--timezone", "America/Manaus"])
    assert manaus.exit_code == 0 and "America/Manaus" in manaus.output
    assert org_by_slug("hc-manaus").timezone == "America/Manaus"
    bad = runner.invoke(args=["orgs", "create", "hc-x", "--name", "X", "--kind", "hospital",
                              "--country", "BR", "--timezone", "Mars/Olympus"])
    assert bad.exit_code != 0 and "timezone" in bad.output
