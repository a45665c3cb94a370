"""The REST API on a real server on loopback: submit, poll, every report format, cancel, delete, errors."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import FakeCaptioner, FixtureServer, make_image, serving
from test_fix_exports import attachment_alts

from options import AuditOptions
from service import Service
from service.jobs import Limits
from service.keys import KeyRing, read_key_file
from service.submit import AuditRequest

API = "/api/v1/audits"


def serve_site(server: FixtureServer, prefix: str, pages: int = 2, delay_s: float = 0.0) -> str:
    """A home page linking ``pages`` pages, each with its own photo and the shared logo."""
    server.add(f"{prefix}/logo.png", make_image(300, 120, seed=70), content_type="image/png")
    links = "".join(f'<a href="{prefix}/p{i}">Page {i}</a>' for i in range(pages))
    for i in range(pages):
        server.add(f"{prefix}/p{i}.jpg", make_image(320, 200, "JPEG", seed=71 + i), content_type="image/jpeg")
        server.add(
            f"{prefix}/p{i}",
            f"<html><title>P{i}</title><body><img src='{prefix}/logo.png' alt='Logo'>"
            f"<img src='{prefix}/p{i}.jpg' alt='Photo {i}'></body></html>",
            delay_s=delay_s,
        )
    return server.add(f"{prefix}/", f"<html><body><img src='{prefix}/logo.png' alt='Logo'>{links}</body></html>")


def make_service(tmp_path: Path, **kwargs: Any) -> Service:
    defaults = kwargs.pop("defaults", AuditOptions(render="never", allow_private=True))
    return Service(defaults=defaults, data_dir=tmp_path / "data", captioner=FakeCaptioner(), **kwargs)


@pytest.fixture()
def api(tmp_path: Path) -> Iterator[str]:
    with serving(make_service(tmp_path, max_site_pages=20)) as base:
        yield base


def wait_for(base: str, job_id: str, states: tuple[str, ...] = ("done", "failed", "cancelled"), **kw: Any) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = requests.get(f"{base}{API}/{job_id}", timeout=10, **kw).json()
        if job["state"] in states:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never reached {states}: {job}")


def submit(base: str, body: dict, **kw: Any) -> requests.Response:
    return requests.post(f"{base}{API}", json=body, timeout=30, **kw)


def download(url: str) -> str:
    """A CSV the service serves, decoded as a spreadsheet would (it starts with a byte-order mark)."""
    body = requests.get(url, timeout=10).content
    assert body.startswith(b"\xef\xbb\xbf")
    return body.decode("utf-8-sig")


def test_submit_poll_and_every_report_format(api: str, server: FixtureServer) -> None:
    start = serve_site(server, "/api-site")
    answer = submit(api, {"urls": [start], "crawl": True, "options": {"max_pages": 10}})
    assert answer.status_code == 202
    job = answer.json()
    assert job["state"] == "queued" and answer.headers["Location"] == job["links"]["self"]
    done = wait_for(api, job["id"])
    assert done["state"] == "done" and done["progress"]["pages_done"] == 3 == done["progress"]["pages_known"]
    assert done["progress"]["images_done"] == done["progress"]["images_known"] == 5  # logo on each page + 2 photos
    assert done["summary"]["captioned"] == 5 and done["summary"]["site"]["unique_images"] == 3
    assert done["options"]["max_pages"] == 10 and done["started_at"] and done["finished_at"]

    links = done["links"]
    report = requests.get(api + links["report_json"], timeout=10).json()
    assert report["summary"]["pages"] == 3 and report["site"]["pages_audited"] == 3
    rows = list(csv.DictReader(io.StringIO(download(api + links["report_csv"]))))
    assert len(rows) == 5 and {row["status"] for row in rows} == {"captioned"}
    page = requests.get(api + links["report_html"], timeout=10)
    assert page.headers["content-type"].startswith("text/html") and 'id="site-summary"' in page.text
    captions = requests.get(api + links["captions_txt"], timeout=10).text
    assert captions.startswith("# Page: ") and "logo.png" in captions
    pages = list(csv.DictReader(io.StringIO(download(api + links["pages_csv"]))))
    assert len(pages) == 3
    sheet = requests.get(api + links["report_xlsx"], timeout=10)
    assert sheet.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    from openpyxl import load_workbook

    assert load_workbook(io.BytesIO(sheet.content)).sheetnames == ["Review", "Images", "Pages", "Issues"]

    listed = requests.get(f"{api}{API}", params={"site": "127.0.0.1"}, timeout=10).json()["audits"]
    assert [item["id"] for item in listed] == [job["id"]]
    assert requests.get(f"{api}{API}", params={"site": "elsewhere.test"}, timeout=10).json() == {"audits": []}
    assert requests.get(f"{api}/api/v1/health", timeout=10).json()["jobs"] == {"done": 1}


def test_a_page_audit_has_no_pages_csv_and_unknown_jobs_are_404(api: str, server: FixtureServer) -> None:
    start = serve_site(server, "/api-page")
    job = wait_for(api, submit(api, {"urls": [start]}).json()["id"])
    assert job["state"] == "done" and "pages_csv" not in job["links"]
    missing = requests.get(f"{api}{API}/{job['id']}/pages.csv", timeout=10)
    assert missing.status_code == 404 and "pages.csv exists for whole-site audits" in missing.json()["error"]
    # not a Shopify, WordPress or Webflow site: those exports are neither written nor linked, and the summary says why
    assert {"shopify-alt-text_csv", "shopify-alt-text_py", "wp-alt-text_sh", "wp-alt-text_py",
            "webflow-alt-text_py"}.isdisjoint(job["links"])
    assert job["summary"]["not_written"] == {
        "shopify-alt-text.csv": "no audited page is a Shopify product page (a /products/HANDLE address)",
        "wp-alt-text.sh": "no audited image is a WordPress attachment (class wp-image-ID, or a file of "
        "/wp-content/uploads/)",
        "wp-alt-text.py": "no audited image is a WordPress attachment (class wp-image-ID, or a file of "
        "/wp-content/uploads/)",
        "webflow-alt-text.py": "no audited image is a Webflow site's (an address on Webflow's CDN: "
        "cdn.prod.website-files.com/SITE/FILE_…)",
        "shopify-alt-text.py": "no audited image is a Shopify store's (an address under /cdn/shop/ or on "
        "cdn.shopify.com)",
    }
    shopify = requests.get(f"{api}{API}/{job['id']}/shopify-alt-text.csv", timeout=10)
    assert shopify.status_code == 404 and shopify.json()["error"] == (
        "This audit has no shopify-alt-text.csv: no audited page is a Shopify product page (a /products/HANDLE "
        "address)."
    )
    unknown = requests.get(f"{api}{API}/0123456789abcdef/report.json", timeout=10)
    assert unknown.status_code == 404 and unknown.json() == {"error": "There is no audit with that id."}


def test_comparison_with_the_previous_audit_of_the_site(api: str, server: FixtureServer) -> None:
    start = serve_site(server, "/api-compare")
    first = wait_for(api, submit(api, {"urls": [start], "crawl": True}).json()["id"])
    assert "comparison" not in first["summary"]
    server.add("/api-compare/p0", "<html><body><img src='/api-compare/p0.jpg'></body></html>")  # alt removed
    second = wait_for(api, submit(api, {"urls": [start], "crawl": True}).json()["id"])
    assert second["summary"]["comparison"]["new"] >= 1
    report = requests.get(api + second["links"]["report_json"], timeout=10).json()
    assert report["comparison"]["previous_job"] == first["id"]


def test_cancel_and_delete(tmp_path: Path, server: FixtureServer) -> None:
    slow = serve_site(server, "/api-slow", pages=6, delay_s=1.0)
    with serving(make_service(tmp_path, workers=1)) as base:
        running = submit(base, {"urls": [slow], "crawl": True}).json()
        waiting = submit(base, {"urls": [slow], "crawl": True}).json()
        wait_for(base, running["id"], ("running",))
        early = requests.get(f"{base}{API}/{running['id']}/report.json", timeout=10)
        assert early.status_code == 409 and "not finished yet (running)" in early.json()["error"]
        early = requests.get(base + running["links"]["suggestions"], timeout=10)
        assert early.status_code == 409 and early.json()["error"].endswith("this one is running.")

        cancelled = requests.post(f"{base}{API}/{waiting['id']}/cancel", timeout=10).json()
        assert cancelled["state"] == "cancelled"  # a queued job ends at once
        requests.post(f"{base}{API}/{running['id']}/cancel", timeout=10)
        stopped = wait_for(base, running["id"])
        assert stopped["state"] == "cancelled" and stopped["progress"]["pages_done"] < 7
        gone = requests.get(f"{base}{API}/{running['id']}/report.csv", timeout=10)
        assert gone.status_code == 409 and "ended cancelled" in gone.json()["error"]

        folder = tmp_path / "data" / "jobs" / running["id"]
        assert (folder / "state.db").exists()
        assert requests.delete(f"{base}{API}/{running['id']}", timeout=30).status_code == 204
        assert not folder.exists()
        assert requests.get(f"{base}{API}/{running['id']}", timeout=10).status_code == 404

        again = submit(base, {"urls": [slow], "crawl": True}).json()  # deleting a running job stops it first
        wait_for(base, again["id"], ("running",))
        assert requests.delete(f"{base}{API}/{again['id']}", timeout=30).status_code == 204
        assert not (tmp_path / "data" / "jobs" / again["id"]).exists()


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ('{"urls": ["http://a.test/"', 400, "The request body is not valid JSON."),
        ("{}", 422, "The field 'urls' is required."),
        ('{"urls": []}', 422, "The field 'urls' is not valid: list should have at least 1 item"),
        ('{"urls": ["http://a.test/"], "depth": 3}', 422, "Unknown field 'depth'"),
        ('{"urls": ["http://a.test/"], "options": {"colour": "red"}}', 422, "Unknown field 'options.colour'"),
        ('{"urls": ["http://a.test/"], "options": {"num_beams": 99}}', 422, "less than or equal to 8"),
        ('{"urls": ["http://a.test/"], "options": {"max_pages": 0}}', 422, "greater than or equal to 1"),
        ('{"urls": ["http://a.test/"], "crawl": true, "options": {"max_pages": 21}}', 400, "at most 20 pages"),
        ('{"urls": ["http://a.test/"], "options": {"model": "/etc"}}', 400, "not offered by this server"),
        ('{"urls": ["http://a.test/"], "crawl": true, "options": {"include": ["("]}}', 400, "not a valid regular"),
        ('{"urls": ["http://a.test/"], "options": {"max_pages": 5}}', 400,
         "'max_pages' applies to a crawl: send \"crawl\": true beside 'urls' to audit the whole site, or leave "
         "'max_pages' out."),
        ('{"urls": ["http://a.test/"], "options": {"include": ["/shop/"]}}', 400, "'include' applies to a crawl"),
        ('{"urls": ["http://a.test/"], "options": {"render": "sometimes"}}', 422, "'options.render' is not valid"),
        ('{"urls": ["http://a.test/"], "options": {"ocr": "on"}}', 422, "'options.ocr' is not valid"),
        ('{"urls": ["ftp://a.test/"]}', 400, "only http:// and https:// pages can be audited."),
        ('{"urls": ["javascript:alert(1)"]}', 400, "only http:// and https://"),
        ('{"urls": ["http://exa mple.com/"]}', 400, "'http://exa mple.com/' is not a web address"),
        ('{"urls": ["http:/a.test/shop"]}', 400, "'http:/a.test/shop' is not a web address; give it as http://a.test/shop."),
        ('{"urls": ["http://a.test/"], "crawl": "yes"}', 422, "'crawl' is not valid"),
        ('{"urls": ["http://a.test/"], "options": {"max_images": "5"}}', 422, "'options.max_images' is not valid"),
        ('{"urls": "http://a.test/"}', 422, "'urls' is a list of addresses: send \"urls\": [\"https://"),
        ('{"url": "http://a.test/"}', 422, "Unknown field 'url'; did you mean 'urls'?"),
        ('{"urls": ["http://a.test/"], "max_images": 3}', 422, "'max_images' is an option: send it inside 'options'"),
        ('{"urls": ["http://a.test/"], "options": {"max_image": 3}}', 422, "did you mean 'options.max_images'?"),
        ('{"urls": ["http://a.test/"], "options": {"crawl": true}}', 422, "'crawl' is not an option: send it beside"),
        ("[1, 2]", 422, "is not valid"),
    ],
)
def test_bad_requests_get_one_sentence(api: str, body: str, status: int, message: str) -> None:
    answer = requests.post(f"{api}{API}", data=body, headers={"Content-Type": "application/json"}, timeout=10)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert message in error and "Traceback" not in error and "\n" not in error


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/",
        "http://10.1.2.3/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:192.168.0.1]/",
        "http://localhost/",
        "http://printer.localhost/",
    ],
)
def test_private_addresses_are_refused(tmp_path: Path, url: str) -> None:
    with serving(make_service(tmp_path, defaults=AuditOptions(render="never"))) as base:
        answer = submit(base, {"urls": [url], "crawl": True})
        assert answer.status_code == 400
        error = answer.json()["error"]
        assert error == (
            f"{url} is refused for safety; it points to a private, local or internal network, which this server "
            "does not audit."
        )
        assert requests.get(f"{base}{API}", timeout=10).json() == {"audits": []}


def test_full_queue_answers_429_at_once(tmp_path: Path, server: FixtureServer) -> None:
    slow = serve_site(server, "/api-busy", pages=4, delay_s=1.0)
    with serving(make_service(tmp_path, workers=1, limits=Limits(max_queued=2))) as base:
        first = submit(base, {"urls": [slow], "crawl": True}).json()
        wait_for(base, first["id"], ("running",))
        assert [submit(base, {"urls": [slow]}).status_code for _ in range(2)] == [202, 202]
        started = time.monotonic()
        refused = submit(base, {"urls": [slow]})
        assert time.monotonic() - started < 5
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
        assert refused.json()["error"].startswith("The server is busy: 2 audits are waiting")
        for job in requests.get(f"{base}{API}", timeout=10).json()["audits"]:
            requests.delete(f"{base}{API}/{job['id']}", timeout=30)


def test_api_keys(tmp_path: Path, server: FixtureServer) -> None:
    slow = serve_site(server, "/api-keys", pages=6, delay_s=1.0)
    key_file = tmp_path / "keys.txt"
    key_file.write_text(
        "# name key [limits]\nalice alice-key-0123456789abcdef queued=1\nbob bob-key-0123456789abcdef\n"
    )
    keys = KeyRing(read_key_file(key_file, Limits()))
    with serving(make_service(tmp_path, workers=2, keys=keys)) as base:
        assert submit(base, {"urls": [slow]}).status_code == 401
        wrong = submit(base, {"urls": [slow]}, headers={"Authorization": "Bearer nope-0123456789abcdef"})
        assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
        assert wrong.json()["error"] == "An API key is required: send 'Authorization: Bearer KEY'."
        assert requests.get(f"{base}{API}", timeout=10).status_code == 401

        alice = {"Authorization": "Bearer alice-key-0123456789abcdef"}
        bob = {"X-API-Key": "bob-key-0123456789abcdef"}
        running = submit(base, {"urls": [slow], "crawl": True}, headers=alice).json()
        wait_for(base, running["id"], ("running",), headers=alice)
        queued = submit(base, {"urls": [slow], "crawl": True}, headers=alice)
        assert queued.status_code == 202
        time.sleep(1.0)  # a second worker is free, but alice may run one job at a time
        state = requests.get(f"{base}{API}/{queued.json()['id']}", headers=alice, timeout=10).json()["state"]
        assert (state, wait_for(base, running["id"], ("running",), headers=alice)["state"]) == ("queued", "running")
        over = submit(base, {"urls": [slow]}, headers=alice)
        assert over.status_code == 429 and "This API key already has 1 audits waiting" in over.json()["error"]

        assert requests.get(f"{base}{API}/{running['id']}", headers=bob, timeout=10).status_code == 404
        assert requests.get(f"{base}{API}", headers=bob, timeout=10).json() == {"audits": []}
        mine = submit(base, {"urls": [slow]}, headers=bob)
        assert mine.status_code == 202
        assert wait_for(base, mine.json()["id"], headers=bob)["state"] == "done"  # bob runs beside alice
        assert wait_for(base, queued.json()["id"], headers=alice)["state"] == "done"
        listed = requests.get(f"{base}{API}", headers=alice, timeout=10).json()["audits"]
        assert {job["id"] for job in listed} == {running["id"], queued.json()["id"]}


def test_openapi_documents_the_api(api: str) -> None:
    schema = requests.get(f"{api}/openapi.json", timeout=10).json()
    paths = schema["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/audits"])
    assert {"get", "delete"} <= set(paths["/api/v1/audits/{job_id}"])
    for name in ("report.json", "report.csv", "report.html", "captions.txt", "pages.csv"):
        assert f"/api/v1/audits/{{job_id}}/{name}" in paths
    assert "AuditRequest" in json.dumps(schema["components"])
    docs = requests.get(f"{api}/docs", timeout=10)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert requests.get(f"{api}/", timeout=10).status_code == 200  # the web form beside it


def test_the_web_routes_expose_no_store_files(tmp_path: Path, server: FixtureServer) -> None:
    """Gradio serves files of the job folders only: never the job database; API jobs have no web report."""
    start = serve_site(server, "/api-files")
    service = make_service(tmp_path)
    with serving(service) as base:
        job = wait_for(base, submit(base, {"urls": [start]}).json()["id"])
        database = service.store.path.resolve()
        for name in (database, Path(f"{database}-wal"), database.parent):
            assert requests.get(f"{base}/gradio_api/file={name}", timeout=10).status_code == 403
        # An open API's job opens on the form by its link (a key's job would not: tests/test_first_hour.py).
        assert requests.get(f"{base}/jobs/{job['id']}/report.html", timeout=10).status_code == 200
        web = service.submit(AuditRequest(urls=[start]), "web")
        wait_for(base, web.id)
        page = requests.get(f"{base}/jobs/{web.id}/report.html", timeout=10)
        assert page.status_code == 200 and "AltScout alt-text audit" in page.text


def test_a_review_saved_with_the_job_changes_its_exports(tmp_path: Path, server: FixtureServer) -> None:
    """Issue 28: decisions through the API are kept with the job (a restart keeps them) and every
    report is written again: an edit replaces the suggestion, a rejected one is not exported."""
    for i in (5, 6):
        server.add(f"/wp/img{i}.jpg", make_image(330 + i, 200, "JPEG", seed=80 + i), content_type="image/jpeg")
    page = server.add("/wp/post", "<html><body><img class='wp-image-5' src='/wp/img5.jpg'>"
                                  "<img class='wp-image-6' src='/wp/img6.jpg'></body></html>")  # fmt: skip
    with serving(make_service(tmp_path)) as base:
        job = wait_for(base, submit(base, {"urls": [page]}).json()["id"])
        links = job["links"]
        script = requests.get(base + links["wp-alt-text_sh"], timeout=10).text
        assert set(attachment_alts(script)) == {"5", "6"}
        decisions = [
            {"url": server.url("/wp/img5.jpg"), "decision": "reject"},
            {"url": server.url("/wp/img6.jpg"), "decision": "edit", "text": "Edited by the SEO team"},
        ]
        bad = requests.put(base + links["decisions"],
                           json={"decisions": [{"url": "x", "decision": "?"}]}, timeout=10)  # fmt: skip
        assert bad.status_code == 422 and bad.json()["error"].startswith("decisions, entry 1: decision must be")
        stranger = {"url": "https://other.test/a.jpg", "decision": "accept"}
        elsewhere = requests.put(base + links["decisions"], json={"decisions": [*decisions, stranger]}, timeout=30)
        assert elsewhere.status_code == 422 and elsewhere.json()["error"] == (
            "1 decision(s) name no image with a suggestion in this audit, e.g. https://other.test/a.jpg; nothing was "
            "saved."
        )
        assert requests.get(base + links["decisions"], timeout=10).json()["decisions"] == []
        offered = requests.get(base + links["suggestions"], timeout=10).json()["suggestions"]
        assert [(item["url"], item["page"], item["decision"]) for item in offered] == [
            (server.url("/wp/img5.jpg"), page, None), (server.url("/wp/img6.jpg"), page, None)
        ]  # fmt: skip
        assert all(item["text"] and item["replaces"] is None for item in offered)  # no alt to replace
        saved = requests.put(base + links["decisions"], json={"decisions": decisions}, timeout=30)
        assert saved.status_code == 200 and len(saved.json()["decisions"]) == 2
        offered = requests.get(base + links["suggestions"], timeout=10).json()["suggestions"]
        assert [(item["decision"], item["text"]) for item in offered] == [
            ("rejected", offered[0]["text"]), ("edited", "Edited by the SEO team")
        ]  # fmt: skip
        script = requests.get(base + links["wp-alt-text_sh"], timeout=10).text
        assert attachment_alts(script) == {"6": "Edited by the SEO team"}  # 5 rejected
        report = requests.get(base + links["report_json"], timeout=10).json()
        assert {image["decision"] for image in report["pages"][0]["images"]} == {"rejected", "edited"}
    with serving(make_service(tmp_path)) as base:  # the service restarted: the review is still there
        kept = requests.get(f"{base}{API}/{job['id']}/decisions", timeout=10).json()["decisions"]
        assert [entry["decision"] for entry in kept] == ["reject", "edit"]


def test_a_reviewed_sheet_is_the_review(tmp_path: Path, server: FixtureServer) -> None:
    """The job's own CSV or XLSX report, its decision column filled, PUT back as the review: the exports
    follow it; a sheet that cannot be used is 422 with one sentence, and nothing is saved."""
    from openpyxl import load_workbook

    for i in (7, 8):
        server.add(f"/wp/sheet{i}.jpg", make_image(330 + i, 200, "JPEG", seed=90 + i), content_type="image/jpeg")
    page = server.add("/wp/sheet", "<html><body><img class='wp-image-7' src='/wp/sheet7.jpg'>"
                                   "<img class='wp-image-8' src='/wp/sheet8.jpg'></body></html>")  # fmt: skip
    with serving(make_service(tmp_path)) as base:
        links = wait_for(base, submit(base, {"urls": [page]}).json()["id"])["links"]
        sheet_url = base + links["decisions"] + "/sheet"
        bad = requests.put(sheet_url, data=b"url,decision\nhttp://x/a.jpg,maybe\n", timeout=30,
                           headers={"Content-Type": "text/csv"})  # fmt: skip
        assert bad.status_code == 422
        assert bad.json()["error"] == "the reviewed sheet, row 2: decision must be accept, edit or reject, got 'maybe'."
        assert requests.get(base + links["decisions"], timeout=10).json()["decisions"] == []
        huge = requests.put(sheet_url, data=b"x" * 10_000_001, timeout=30)
        assert huge.status_code == 413 and huge.json()["error"] == "The reviewed sheet is over 10 MB."
        text = requests.get(base + links["report_csv"], timeout=10).content.decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        for row in rows:
            row["decision"] = "reject" if row["url"].endswith("sheet7.jpg") else ""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        saved = requests.put(sheet_url, data=out.getvalue().encode(), headers={"Content-Type": "text/csv"}, timeout=30)
        assert saved.status_code == 200 and [d["decision"] for d in saved.json()["decisions"]] == ["reject"]
        script = requests.get(base + links["wp-alt-text_sh"], timeout=10).text
        assert set(attachment_alts(script)) == {"8"}  # 7 rejected

        book = load_workbook(io.BytesIO(requests.get(base + links["report_xlsx"], timeout=10).content))
        sheet = book["Images"]
        header = [cell.value for cell in sheet[1]]
        for cells in sheet.iter_rows(min_row=2):
            if str(cells[header.index("url")].value).endswith("sheet8.jpg"):
                cells[header.index("decision")].value = "edit"
                cells[header.index("suggested_alt")].value = "Edited in the spreadsheet"
        data = io.BytesIO()
        book.save(data)
        saved = requests.put(sheet_url, data=data.getvalue(), timeout=30)
        assert saved.status_code == 200 and [d["decision"] for d in saved.json()["decisions"]] == ["reject", "edit"]
        script = requests.get(base + links["wp-alt-text_sh"], timeout=10).text
        assert attachment_alts(script) == {"8": "Edited in the spreadsheet"}



def test_an_unreachable_page_says_why_in_the_fetchers_words() -> None:
    from service.submit import friendly

    detail = "could not connect to shop.example: the connection was refused (nothing listens on that port)"
    assert friendly("connection_error", detail) == (
        "The page could not be reached: the connection was refused (nothing listens on that port)."
    )
    assert friendly("connection_error", None) == "The page could not be reached."
    assert friendly("http_error", "HTTP 404 for https://shop.example/") == "The page answered with HTTP 404."


def test_a_crawl_that_audits_nothing_is_a_failed_job_that_says_why(tmp_path: Path, fresh_server: FixtureServer) -> None:
    """A site whose robots.txt disallows everything: the crawl job audits no page. It was "done" with nothing
    in it; now it fails with the reason, in the service's words."""
    fresh_server.add("/robots.txt", "User-agent: *\nDisallow: /\n", content_type="text/plain")
    fresh_server.add("/", "<html><body><img src='/a.png'></body></html>")
    with serving(make_service(tmp_path)) as base:
        job = wait_for(base, submit(base, {"urls": [fresh_server.url("/")], "crawl": True}).json()["id"])
    assert job["state"] == "failed"
    assert job["error"] == "The site's robots.txt does not allow AltScout to read this page."
