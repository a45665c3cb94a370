"""Reports: captions.txt golden file, JSON validated against the schema, CSV rows."""

from __future__ import annotations

import csv
import json
from dataclasses import fields
from pathlib import Path

import jsonschema
import pytest
from conftest import FakeCaptioner, FixtureServer, make_image

from options import AuditOptions
from pipeline import run_audit
from records import AuditReport
from reports import CSV_COLUMNS, SCHEMA_PATH, render_captions_txt, write_csv, write_json

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def report(server: FixtureServer) -> AuditReport:
    server.add("/r/a.png", make_image(300, 200, seed=1), content_type="image/png")
    server.add("/r/b.jpg", make_image(400, 300, "JPEG", seed=2), content_type="image/jpeg")
    server.add("/r/tiny.png", make_image(10, 10), content_type="image/png")
    server.add(
        "/r/page.html",
        '<html lang="fr"><title>Boutique</title><img src="a.png" alt="A"><img src="b.jpg">'
        '<img src="tiny.png"><img src="gone.png"><img src="vector.svg" width="300" height="300">',
    )
    server.add("/r/vector.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", content_type="image/svg+xml")
    return run_audit(
        [server.url("/r/page.html"), server.url("/r/missing.html")],
        AuditOptions(render="never", allow_private=True, batch_size=2),
        FakeCaptioner(),
    )


def test_captions_txt_matches_golden(report: AuditReport, server: FixtureServer) -> None:
    text = render_captions_txt(report).replace(server.base, "http://HOST")
    assert text == (GOLDEN / "captions.txt").read_text(encoding="utf-8")


def test_json_validates_against_schema(report: AuditReport, tmp_path: Path) -> None:
    path = write_json(report, tmp_path / "report.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(data, schema)
    page = data["pages"][0]
    assert page["lang"] == "fr" and page["title"] == "Boutique"
    assert [i["status"] for i in page["images"]] == ["captioned", "captioned", "skipped", "failed", "skipped"]
    assert data["summary"]["skipped_by_reason"] == {"svg_not_supported": 1, "too_small": 1}
    assert data["pages"][1]["status"] == "failed" and data["model"]["id"] == "fake"


def test_schema_rejects_a_caption_on_a_failed_image(report: AuditReport) -> None:
    data = report.to_dict()
    data["pages"][0]["images"][3]["caption"] = "error: 404"
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)


def test_csv_one_row_per_image(report: AuditReport, tmp_path: Path) -> None:
    path = write_csv(report, tmp_path / "report.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads accents right only with a byte-order mark
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == CSV_COLUMNS
    for column in (
        "alt_issues",
        "seo_issues",
        "suggested_alt",
        "suggested_filename",
        "alt_match_score",
        "caption_translated",
        "translation_lang",
        "page_title",
        "page_lang",
    ):
        assert column in rows[0]
    assert rows[0]["page_title"] == "Boutique" and rows[0]["page_lang"] == "fr"
    assert len(rows) == 6
    assert rows[-1]["status"] == "page_failed" and rows[-1]["reason"] == "http_error"
    assert {row["status"] for row in rows[:5]} == {"captioned", "skipped", "failed"}


def test_a_record_comes_back_from_the_state_as_it_went_in_and_an_older_state_still_reads() -> None:
    """The report is read back from the store: every field round-trips (the fast path for a complete
    state), and a state an older version wrote (a field missing, one since dropped) reads with defaults."""
    from records import ElementInfo, ImageRecord

    record = ImageRecord(source="https://shop.example/a.png", found_in=["img"], alt="A shoe", caption="a shoe")
    record.elements.append(ElementInfo(alt="A shoe"))
    record.thumbnail, record.alt_issues = b"\xff\xd8thumb", ["alt_too_long"]
    state = json.loads(json.dumps(record.to_state()))
    back = ImageRecord.from_state(state)
    assert back == record and back.to_state() == record.to_state() and back.elements is not record.elements
    older = {key: value for key, value in state.items() if key != "caption"} | {"dropped_field": 1}
    again = ImageRecord.from_state(older)
    assert again.caption is None and again.alt == "A shoe" and again.thumbnail == b"\xff\xd8thumb"
    element_state = {key: value for key, value in state["elements"][0].items() if key != "role"}
    assert ElementInfo.from_dict(element_state | {"dropped": 1}) == ElementInfo(alt="A shoe")  # an older element
    # the state and the report list fields in their declared order, however the record was built
    assert list(back.to_state()) == list(record.to_state()) == [f.name for f in fields(ImageRecord)]
    assert list(back.elements[0].to_dict()) == [f.name for f in fields(ElementInfo)]
