"""Where reports go: ``-`` is standard output for a report flag and ``--fix-patch`` (the report whole on
stdout, everything else on stderr; refusals before any work, in one sentence), and a folder gets the
report's own file name inside it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FixtureServer, make_image

import cli
from options.preflight import InputError, standard_output

ROOT = Path(__file__).resolve().parent.parent
PAGE = '<html><head><title>Shop</title></head><body><img src="/sd/shoe.jpg" width="200" height="150"></body></html>\n'


@pytest.fixture()
def shop(server: FixtureServer) -> str:
    server.add("/sd/", PAGE)
    server.add("/sd/shoe.jpg", make_image(200, 150, "JPEG", seed=5), content_type="image/jpeg")
    return server.url("/sd/")


def _args(url: str, model: Path, tmp_path: Path) -> list[str]:
    return [url, "--model", str(model), "--allow-private", "--render", "never", "--max-new-tokens", "4",
            "--min-new-tokens", "2", "--out", str(tmp_path / "c.txt")]  # fmt: skip


def test_json_to_standard_output(
    shop: str, tiny_blip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main([*_args(shop, tiny_blip_dir, tmp_path), "--json", "-"]) == 0
    out, err = capfd.readouterr()
    report = json.loads(out)  # nothing but the report
    assert report["summary"]["captioned"] == 1 and report["pages"][0]["url"] == shop
    assert "-> " in err and "standard output" in err and not (tmp_path / "-").exists()


def test_a_folder_given_for_a_report_gets_the_reports_own_name(
    shop: str, tiny_blip_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "existing").mkdir()
    out = tmp_path / "new"
    args = [
        *_args(shop, tiny_blip_dir, tmp_path),
        "--json",
        f"{out}/",
        "--csv",
        f"{out}/",
        "--html",
        str(tmp_path / "existing"),
    ]
    assert cli.main(args) == 0
    assert json.loads((out / "report.json").read_text())["summary"]["captioned"] == 1
    assert (out / "report.csv").is_file() and (tmp_path / "existing" / "report.html").is_file()
    assert f"{out}/report.json" in capsys.readouterr().err


def test_fix_patch_to_standard_output_applies(
    shop: str, tiny_blip_dir: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    (site / "sd").mkdir(parents=True)
    (site / "sd" / "index.html").write_text(PAGE, encoding="utf-8")
    assert (
        cli.main([*_args(shop, tiny_blip_dir, tmp_path), "--quiet", "--fix-patch", "-", "--source-dir", str(site)]) == 0
    )
    patch, _ = capfd.readouterr()
    assert patch.startswith("# AltScout") and "+++ b/sd/index.html" in patch
    subprocess.run(["git", "apply", "-"], input=patch, text=True, cwd=site, check=True, capture_output=True)
    assert '<img alt="' in (site / "sd" / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("extra", "sentence"),
    [
        (["--json", "-", "--csv", "-"], "--json and --csv both ask for standard output (-)"),
        (["--state", "-"], "--state needs a file name: standard output (-) is for reports"),
        (["--shard-dir", "shards", "--json", "-"], "--json -: --shard-dir runs write their reports as files"),
    ],
)
def test_refusals_are_one_sentence_before_any_work(
    extra: list[str], sentence: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["http://127.0.0.1:9/", "--allow-private", "--model", "fake", *extra]) == 2
    err = capsys.readouterr().err
    assert sentence in err and len(err.strip().splitlines()) == 1


def test_a_spreadsheet_is_not_printed_on_a_terminal() -> None:
    with pytest.raises(InputError, match="binary spreadsheet on the terminal"):
        standard_output([("--xlsx", Path("-"))], sharded=False, terminal=True)
    standard_output([("--xlsx", Path("-")), ("--json", Path("r.json"))], sharded=False, terminal=False)


def test_a_pipe_closed_early_is_a_report_not_written(shop: str, tiny_blip_dir: Path, tmp_path: Path) -> None:
    """``| head`` that exits first: exit 4 and one line, no Python traceback."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(ROOT / "cli.py"), *_args(shop, tiny_blip_dir, tmp_path), "--quiet", "--csv", "-"]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=240) == 4
    assert "altscout: error: --csv - was not written: Broken pipe" in err and "Traceback" not in err
    assert "Exception ignored" not in err
