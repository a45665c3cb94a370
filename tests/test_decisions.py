"""A review before export (issue 28, ``--decisions``): edits replace a suggestion, rejected ones are
never exported, and a file that cannot be used is one sentence."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import CaptionsByWidth, FixtureServer
from test_fix_exports import CAPTIONS, serve

from options import AuditOptions
from pipeline import run_audit
from reports.decisions import DecisionsError, apply_decisions, read_decisions
from reports.fixes import write_shopify_csv, write_wp_cli


def test_decisions_from_json_and_csv(tmp_path: Path) -> None:
    as_json = tmp_path / "d.json"
    as_json.write_text(json.dumps({"decisions": [
        {"url": "http://h/a.jpg", "decision": "Accept"},
        {"url": "http://h/b.jpg", "decision": "edit", "text": " New  alt "},
    ]}))  # fmt: skip
    as_csv = tmp_path / "d.csv"
    as_csv.write_text("\ufeffurl,decision,text\nhttp://h/c.jpg,reject,\n", encoding="utf-8")
    decided = read_decisions(as_json) | read_decisions(as_csv)
    assert {url: (d.decision, d.text) for url, d in decided.items()} == {
        "http://h/a.jpg": ("accept", None), "http://h/b.jpg": ("edit", "New alt"), "http://h/c.jpg": ("reject", None),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("content", "sentence"),
    [
        ('[{"url": "http://h/a.jpg", "decision": "maybe"}]', "entry 1: decision must be accept, edit or reject"),
        ("[{\"url\": \"http://h/a.jpg\", \"decision\": \"edit\"}]", "entry 1: an edit needs the new text (text)"),
        ("[{\"decision\": \"accept\"}]", "entry 1: the image URL (url) is missing"),
        ("{\"decisions\": 3}", "expected a list of decisions"),
        ("[{\"url\": 1,", "is not valid JSON"),
    ],
)
def test_a_decisions_file_that_cannot_be_used_is_one_sentence(content: str, sentence: str, tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text(content)
    with pytest.raises(DecisionsError) as caught:
        read_decisions(path)
    assert sentence in str(caught.value) and "\n" not in str(caught.value)


def test_exports_follow_the_review(fresh_server: FixtureServer, tmp_path: Path) -> None:
    serve(fresh_server)
    urls = [fresh_server.url(path) for path in ("/products/creme-brogue", "/blog/post")]
    report = run_audit(urls, AuditOptions(render="never", allow_private=True, ocr="off"), CaptionsByWidth(CAPTIONS))
    decisions = tmp_path / "d.json"
    decisions.write_text(json.dumps([
        {"url": fresh_server.url("/cdn/shop/products/brogue_600x.jpg?v=123&width=600"), "decision": "edit",
         "text": "Tan brogue, side view"},
        {"url": fresh_server.url("/wp-content/uploads/2024/hostile.jpg"), "decision": "reject"},
    ]))  # fmt: skip
    assert apply_decisions(report, read_decisions(decisions)) == 2
    rows = list(csv.DictReader(write_shopify_csv(report, tmp_path / "s.csv").open(encoding="utf-8-sig")))
    assert [row["Image Alt Text"] for row in rows] == ["Tan brogue, side view"]
    script = write_wp_cli(report, tmp_path / "w.sh").read_text()
    assert "update 42 " not in script and "update 7 " in script  # rejected: not exported
