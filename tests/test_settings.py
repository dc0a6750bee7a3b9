"""Settings come only from the environment and fail with one readable line."""

import subprocess
import sys

import pytest

from idmx.settings import Settings, SettingsError


def test_defaults_use_sqlite_under_var_and_keep_a_generated_secret(tmp_path):
    env = {"IDMX_VAR_DIR": str(tmp_path)}
    first = Settings.from_env(env)
    assert first.database_url == f"sqlite:///{tmp_path / 'idmx.sqlite3'}"
    assert len(first.secret_key) >= 32
    assert Settings.from_env(env).secret_key == first.secret_key  # generated once, then kept
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0  # readable by the owner only


def test_postgres_urls_use_psycopg(tmp_path):
    s = Settings.from_env({"IDMX_VAR_DIR": str(tmp_path), "IDMX_DATABASE_URL": "postgres://u@h/db"})
    assert s.database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"IDMX_ENV": "production"}, "IDMX_SECRET_KEY is required when IDMX_ENV=production"),
        ({"IDMX_ENV": "staging"}, "IDMX_ENV must be one of development, test, production"),
        ({"IDMX_PORT": "eighty"}, "IDMX_PORT must be a whole number"),
        ({"IDMX_PORT": "70000"}, "IDMX_PORT must be between 1 and 65535"),
        ({"IDMX_DATABASE_URL": "mysql://x/y"}, "IDMX_DATABASE_URL must be a sqlite:/// or postgresql:// URL"),
        ({"IDMX_SECRET_KEY": "short"}, "IDMX_SECRET_KEY must be at least 32 characters long"),
    ],
)
def test_bad_settings_raise_one_line(tmp_path, env, message):
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"IDMX_VAR_DIR": str(tmp_path), **env})
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_cli_prints_one_line_not_a_traceback(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "IDMX_ENV": "production", "IDMX_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "idmx", "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["Error: IDMX_SECRET_KEY is required when IDMX_ENV=production"]
    assert "Traceback" not in result.stderr


def test_cli_help_documents_every_command():
    from click.testing import CliRunner

    from idmx.cli import main

    runner = CliRunner()
    top = runner.invoke(main, ["--help"])
    assert top.exit_code == 0
    for name, command in main.commands.items():
        assert name in top.output
        assert command.help, f"`idmx {name}` has no help text"
        sub = runner.invoke(main, [name, "--help"])
        assert sub.exit_code == 0 and command.help.split("\n")[0][:30] in sub.output
