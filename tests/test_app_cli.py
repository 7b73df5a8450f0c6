"""``pianodiff-app`` / ``python -m pianodiff.app``: its options, one line for each bad one,
and the one line that names the extra when Gradio is not installed."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from system_parts import INSTALL, browser_missing, skip_reason
from test_generate import make_export

import pianodiff
from pianodiff.app import EXTRA_HINT
from pianodiff.app.cli import main, options, parse_values, parser

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(pianodiff.__file__).resolve().parent
# Gradio hidden as if the app extra were not installed (an import of it raises ImportError).
WITHOUT_GRADIO = "import sys; sys.modules['gradio'] = None; sys.modules['gradio_client'] = None; "


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_without_the_extra_the_command_names_it_in_one_line(tmp_path):
    done = _run(WITHOUT_GRADIO + "from pianodiff.app.cli import main; main([])", tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {EXTRA_HINT}" and "pianodiff[app]" in done.stderr


def test_without_the_extra_everything_else_imports(tmp_path):
    """Only the page and its server import Gradio; the rest of the package, the studio
    included, imports and runs without it."""
    importers = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in ("gradio", "gradio_client") for n in names):
                importers.add(path.relative_to(PACKAGE).as_posix())
    assert importers == {"app/page.py", "app/server.py"}
    code = WITHOUT_GRADIO + (
        "import pianodiff.app.studio, pianodiff.app.cli, pianodiff.api, pianodiff.generate; "
        "print('ok')"
    )
    done = _run(code, tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_the_console_script_and_the_extra_are_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["pianodiff-app"] == "pianodiff.app.cli:main"
    assert any(dep.startswith("gradio") for dep in project["optional-dependencies"]["app"])
    assert "app:" in (ROOT / "Makefile").read_text()


def test_options_and_their_defaults(tmp_path):
    make_export(tmp_path / "models" / "tiny")
    args = parser().parse_args(["--models", str(tmp_path / "models")])
    assert (args.host, args.port, args.share) == ("127.0.0.1", 7860, False)  # loopback only
    opts = options(args)
    assert opts.model is None and opts.models == tmp_path / "models"
    assert opts.outputs == Path("outputs") / "app" and opts.limits.upload_mb == 20.0
    values = parse_values(["geometry.window_seconds=2.5", "bf16=false", "harmony.cut=0.5"])
    assert values == {"geometry.window_seconds": 2.5, "bf16": False, "harmony.cut": 0.5}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "0"], "--port 0 is not a port"),
        (["--models", "{tmp}/none"], "is not a folder"),
        (["--models", "{tmp}"], "no export folder in"),
        (["--model", "{tmp}"], "is not an export folder"),
        (["--max-seconds", "-1", "--model", "{tmp}/models/tiny"], "seconds must be a number > 0"),
        (["--set", "nosuch=1", "--model", "{tmp}/models/tiny"], "no such key"),
        (["--set", "seed=1", "--model", "{tmp}/models/tiny"], "the page sets seed"),
        (["--set", "bf16", "--model", "{tmp}/models/tiny"], "write KEY=VALUE"),
    ],
)
def test_a_bad_option_is_one_error_line_and_exit_2(tmp_path, capsys, argv, message):
    make_export(tmp_path / "models" / "tiny")
    with pytest.raises(SystemExit) as stop:
        main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and err.startswith("error: ") and "\n" not in err
    assert message in err


def test_help_names_the_limits_and_the_address(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pianodiff.app", "--help"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0
    for option in ("--port", "--models", "--model", "--outputs", "--max-upload-mb", "--share"):
        assert option in done.stdout
    assert "127.0.0.1" in done.stdout


def test_the_browser_skip_names_the_parts_and_the_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no programs at all
    missing = browser_missing()
    assert missing == ["chromium not found", "chromedriver not found"]
    reason = skip_reason(missing)
    assert "chromium not found, chromedriver not found" in reason and reason.endswith(INSTALL)
