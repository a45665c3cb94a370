"""Local photo libraries: index, rename plan, apply and undo, refusal to overwrite."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from conftest import FakeCaptioner
from PIL import Image
from test_cli import run_cli

from library import apply_renames, scan_folder, write_rename_plan
from options import AuditOptions
from pipeline import run_audit
from records import PageReport
from reports import render_captions_txt


def solid(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (300, 200), fmt: str = "PNG") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt)
    path.write_bytes(buffer.getvalue())


@pytest.fixture()
def library(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    solid(root / "IMG_0001.png", (200, 20, 20))
    solid(root / "DSC0002.jpg", (20, 20, 200), fmt="JPEG")
    solid(root / "holiday" / "IMG_0003.png", (20, 200, 20))
    solid(root / "holiday" / "IMG_0004.png", (20, 200, 21))  # same caption as IMG_0003: numbered
    solid(root / "red-barn-at-dawn.png", (201, 20, 20))  # already descriptive: no rename
    solid(root / "tiny.png", (0, 0, 0), (10, 10))
    (root / "notes.txt").write_text("not an image")
    (root / "vector.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (root / ".hidden").mkdir()
    solid(root / ".hidden" / "secret.png", (1, 2, 3))
    return root


def audit_folder(folder: Path, **kwargs: object) -> PageReport:
    options = AuditOptions(render="never", allow_local_folders=True, **kwargs)  # type: ignore[arg-type]
    return run_audit([str(folder)], options, FakeCaptioner()).pages[0]


def test_scan_is_recursive_and_filters(library: Path) -> None:
    names = [p.relative_to(library).as_posix() for p in scan_folder(library)]
    assert names == [
        "DSC0002.jpg",
        "IMG_0001.png",
        "red-barn-at-dawn.png",
        "tiny.png",
        "vector.svg",
        "holiday/IMG_0003.png",
        "holiday/IMG_0004.png",
    ]
    assert [p.name for p in scan_folder(library, "*.jpg")] == ["DSC0002.jpg"]


def test_folder_index_in_captions_txt(library: Path) -> None:
    page = audit_folder(library)
    assert page.kind == "folder" and page.status == "ok"
    from records import AuditReport

    text = render_captions_txt(AuditReport(pages=[page]))
    lines = text.splitlines()
    assert lines[0] == f"# Folder: {library}"
    assert "holiday/IMG_0003.png: a green picture 300x200" in lines
    assert "DSC0002.jpg: a blue picture 300x200" in lines
    statuses = {r.source: (r.status, r.reason) for r in page.images}
    assert statuses["tiny.png"] == ("skipped", "too_small") and statuses["vector.svg"] == (
        "skipped",
        "svg_not_supported",
    )


@pytest.mark.timeout(60)
def test_a_folder_named_relatively_is_audited_once(library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """'./photos/' is reported as 'photos': its row ends with its page (it used to be queued again, forever)."""
    monkeypatch.chdir(library.parent)
    options = AuditOptions(render="never", allow_local_folders=True)
    report = run_audit(["./photos/", "photos", "photos/"], options, FakeCaptioner())
    assert [(page.url, page.kind, page.status) for page in report.pages] == [("photos", "folder", "ok")]
    assert len(report.pages[0].images) == 7


def test_folder_flags_need_a_folder_and_a_folder_is_not_crawled(library: Path, tmp_path: Path) -> None:
    """Refused in one sentence before any work (no model is loaded: --model names nothing)."""
    cases = [
        (("http://127.0.0.1:9/", "--rename-plan", "plan.csv"), "--rename-plan works on a local folder"),
        (("http://127.0.0.1:9/", "--glob", "*.jpg"), "--glob works on a local folder"),
        ((str(library), "--crawl"), f"--crawl reads web pages, and {library} is a local folder"),
        ((str(library), "--dry-run"), f"--dry-run reads web pages, and {library} is a local folder"),
    ]
    for args, words in cases:
        result = run_cli(*args, "--allow-private", "--model", str(tmp_path / "no-model"), cwd=tmp_path)
        assert result.returncode == 2 and words in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "plan.csv").exists()


def test_folders_are_off_unless_allowed(library: Path) -> None:
    page = run_audit([str(library)], AuditOptions(render="never"), FakeCaptioner()).pages[0]
    assert page.status == "failed" and page.error_code == "unsupported_scheme"


def test_plan_apply_undo_round_trip(library: Path, tmp_path: Path) -> None:
    page = audit_folder(library)
    plan = tmp_path / "renames.csv"
    assert write_rename_plan(page, plan) == 4
    rows = list(csv.DictReader(plan.open()))
    targets = {Path(r["source"]).name: Path(r["target"]).name for r in rows}
    assert targets == {
        "DSC0002.jpg": "blue-picture-300x200.jpg",
        "IMG_0001.png": "red-picture-300x200.png",
        "IMG_0003.png": "green-picture-300x200.png",
        "IMG_0004.png": "green-picture-300x200-2.png",
    }
    before = {p.relative_to(library).as_posix(): p.read_bytes() for p in scan_folder(library)}
    outcomes, undo = apply_renames(plan)
    assert [o.status for o in outcomes] == ["renamed"] * 4
    assert (library / "holiday" / "green-picture-300x200-2.png").exists()
    assert not (library / "IMG_0001.png").exists()
    undo_outcomes, _ = apply_renames(undo, tmp_path / "redo.csv")
    assert [o.status for o in undo_outcomes] == ["renamed"] * 4
    after = {p.relative_to(library).as_posix(): p.read_bytes() for p in scan_folder(library)}
    assert after == before


def test_apply_never_overwrites_and_skips_changed_or_missing(library: Path, tmp_path: Path) -> None:
    page = audit_folder(library)
    plan = tmp_path / "renames.csv"
    write_rename_plan(page, plan)
    rows = {Path(r["source"]).name: r for r in csv.DictReader(plan.open())}
    occupied = Path(rows["IMG_0001.png"]["target"])
    occupied.write_bytes(b"someone else's file")
    solid(library / "DSC0002.jpg", (0, 0, 0), fmt="JPEG")  # changed since the plan
    (library / "holiday" / "IMG_0003.png").unlink()  # gone
    plan.write_bytes(b"\xef\xbb\xbf" + plan.read_bytes())  # reviewed and saved as Excel's "CSV UTF-8"
    outcomes, undo = apply_renames(plan)
    by_name = {Path(o.source).name: o.status for o in outcomes}
    assert by_name == {
        "DSC0002.jpg": "skipped_changed",
        "IMG_0001.png": "skipped_exists",
        "IMG_0003.png": "skipped_missing",
        "IMG_0004.png": "renamed",
    }
    assert occupied.read_bytes() == b"someone else's file"
    assert len(list(csv.DictReader(undo.open()))) == 1


def test_plan_targets_avoid_existing_files(library: Path, tmp_path: Path) -> None:
    solid(library / "red-picture-300x200.png", (1, 1, 1))
    page = audit_folder(library)
    plan = tmp_path / "renames.csv"
    write_rename_plan(page, plan)
    targets = [Path(r["target"]).name for r in csv.DictReader(plan.open())]
    assert "red-picture-300x200-2.png" in targets and "red-picture-300x200.png" not in targets


def test_cli_folder_mode_and_renames(library: Path, tmp_path: Path, tiny_blip_dir: Path) -> None:
    result = run_cli(
        str(library),
        "--model",
        str(tiny_blip_dir),
        "--quiet",
        "--max-new-tokens",
        "4",
        "--min-new-tokens",
        "2",
        "--rename-plan",
        "plan.csv",
        "--json",
        "r.json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    index = (tmp_path / "captions.txt").read_text().splitlines()
    assert index[0] == f"# Folder: {library}"
    assert any(line.startswith("holiday/IMG_0003.png: ") for line in index)
    rows = list(csv.DictReader((tmp_path / "plan.csv").open()))
    # a random caption made only of stop words gives no slug, hence no suggestion
    assert 1 <= len(rows) <= 4 and all(Path(r["source"]).name.startswith(("IMG", "DSC")) for r in rows)
    applied = run_cli("--apply-renames", "plan.csv", cwd=tmp_path)
    assert applied.returncode == 0 and f"{len(rows)} renamed" in applied.stderr
    assert (tmp_path / "plan.undo.csv").exists()
    assert all(not Path(r["source"]).exists() and Path(r["target"]).exists() for r in rows)


def test_a_plan_caption_never_runs_as_a_formula(tmp_path: Path) -> None:
    from records import ImageRecord

    photo = tmp_path / "IMG_1.jpg"
    photo.write_bytes(b"x")
    record = ImageRecord(source=str(photo), local_path=str(photo), suggested_filename="calc.jpg", sha256="ab",
                         caption="=cmd|' /C calc'!A0")  # fmt: skip
    write_rename_plan(PageReport(url=str(tmp_path), kind="folder", images=[record]), tmp_path / "plan.csv")
    rows = list(csv.DictReader((tmp_path / "plan.csv").open(encoding="utf-8")))
    assert rows[0]["caption"] == "'=cmd|' /C calc'!A0" and rows[0]["source"] == str(photo)
