"""axe-core's own fixtures for its seven image rules: AltScout's verdict on every element axe judges.

The fixture pages and axe's verdicts are read from ``../shared/peers/axe-core/`` (never copied
here). Each page is served as it is, except that every ``img`` and image button gets an image of
its own (the fixtures point them all at one missing ``img.jpg``), and audited without a browser
and in Chromium. A verdict is a violation when one of the element's findings names the rule.
"""

from __future__ import annotations

import re

import pytest
from conftest import FakeCaptioner, FixtureServer, make_image

from auditing.registry import ISSUES
from bench import axe_fixtures
from bench.axe_fixtures import RULES
from options import AuditOptions
from pipeline import run_audit
from records import ElementInfo, ImageRecord

STATIC_AGREEMENT = 0.95  # the issue's floor without a browser; each difference must be one the record explains


def serve(server: FixtureServer, rule: str) -> str:
    """Serve the rule's fixture page and its images; return the page URL."""
    document, paths = axe_fixtures.page(rule)
    for seed, path in enumerate(paths):
        server.add(path, make_image(120, 120, seed=seed), content_type="image/png")
    return server.add(axe_fixtures.page_path(rule), document)


def elements_by_id(records: list[ImageRecord]) -> dict[str, tuple[ImageRecord, ElementInfo]]:
    """Each element with an id selector (``#id``), with its record."""
    found: dict[str, tuple[ImageRecord, ElementInfo]] = {}
    for record in records:
        for element in record.elements:
            if element.selector and re.fullmatch(r"#[\w-]+", element.selector):
                found[element.selector] = (record, element)
    return found


def violates(element: ElementInfo, rule: str) -> bool:
    """AltScout's verdict: one of the element's findings is the rule's."""
    return any(ISSUES[slug].axe_rule == rule for slug in element.issues)


@pytest.fixture(scope="module")
def audits(server: FixtureServer, chromium: str) -> dict[str, dict[str, list[ImageRecord]]]:
    """Every fixture page audited without a browser and in Chromium (one audit per mode)."""
    if not axe_fixtures.available():
        pytest.skip(f"axe-core fixtures not found at {axe_fixtures.AXE_RULES_DIR} (../shared beside the project)")
    urls = {rule: serve(server, rule) for rule in RULES}
    out: dict[str, dict[str, list[ImageRecord]]] = {}
    for mode in ("never", "always"):
        options = AuditOptions(render=mode, browser_path=chromium, allow_private=True, ocr="off")
        report = run_audit(list(urls.values()), options, FakeCaptioner())
        out[mode] = {rule: page.images for rule, page in zip(RULES, report.pages, strict=True)}
        assert all(page.status == "ok" for page in report.pages)
    return out


def verdicts(records: list[ImageRecord], rule: str) -> tuple[int, int, list[str]]:
    """(agreements, elements judged, the selectors of the differences)."""
    found = elements_by_id(records)
    agree, differences = 0, []
    judged = axe_fixtures.expected(rule).items()
    for selector, violation in judged:
        assert selector in found, f"{rule}: {selector} is not in the report"
        if violates(found[selector][1], rule) == violation:
            agree += 1
        else:
            differences.append(selector)
    return agree, len(judged), differences


@pytest.mark.parametrize("rule", RULES)
def test_agrees_with_axe_on_every_element_in_the_browser(audits: dict, rule: str) -> None:
    agree, judged, differences = verdicts(audits["always"][rule], rule)
    assert differences == [], f"{rule}: AltScout differs from axe-core on {differences}"
    assert agree == judged > 0


def test_agrees_with_axe_without_a_browser_and_names_every_difference(audits: dict) -> None:
    agree = judged = 0
    for rule in RULES:
        got, total, differences = verdicts(audits["never"][rule], rule)
        agree, judged = agree + got, judged + total
        found = elements_by_id(audits["never"][rule])
        for selector in differences:  # the only excuse: a name that depends on styles, said in the record
            assert found[selector][1].name_note, f"{rule}: {selector} differs without a note"
    assert judged == 99 and agree / judged >= STATIC_AGREEMENT


@pytest.mark.parametrize("mode", ["never", "always"])
def test_every_judged_element_has_a_record_with_status_reason_and_selector(audits: dict, mode: str) -> None:
    for rule in RULES:
        found = elements_by_id(audits[mode][rule])
        for selector in axe_fixtures.expected(rule):
            record, element = found[selector]
            assert record.status in ("captioned", "skipped", "failed")
            assert (record.reason is None) == (record.status == "captioned"), (rule, selector, record.reason)
            assert element.selector == selector


def test_svg_images_without_a_name_get_a_caption_based_suggestion_in_the_browser(audits: dict) -> None:
    found = elements_by_id(audits["always"]["svg-img-alt"])
    record, element = found["#violation1"]  # <svg role="img"> at its default 300x150
    assert "svg_no_name" in element.issues and "screenshot" in record.found_in
    assert record.status == "captioned" and record.suggested_alt and record.suggestion_for == "aria-label"
    static, _ = elements_by_id(audits["never"]["svg-img-alt"])["#violation1"]
    assert static.status == "skipped" and static.reason == "needs_browser"
