"""Accessible names and roles: each source, precedence, hidden labels, presentational conflicts,
whitespace and aria-hidden, computed from HTML (no browser) and read from Chromium's AX tree."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from conftest import FakeCaptioner, FixtureServer, make_image

from auditing.a11y import element_findings, naming_rule
from options import AuditOptions
from pipeline import run_audit
from records import ElementInfo
from scraper.accname import computed_role, explicit_role, is_focusable
from scraper.discover import find_images, parse_page
from scraper.elements import ElementReader, drawn_elements, is_image_data
from scraper.render_ax import ShotBudget, ax_facts, name_source, shot_decision, wants_screenshot
from scraper.rendered import chromium_role, element_from_item

PAGE = """<html><head><style>.x{}</style></head><body>
<div id="label">Fresh <b>bread</b></div>
<div id="hidden-label" style="display:none">Banana bombs</div>
<div id="hidden-inside">Visible <span hidden>secret</span> text</div>
{body}
</body></html>"""


def info(body: str, selector: str = "#t") -> ElementInfo:
    """The element matching ``selector`` in a page made of ``body``, as computed without a browser."""
    soup = BeautifulSoup(PAGE.replace("{body}", body), "lxml")
    tag = soup.select_one(selector)
    assert tag is not None
    return ElementReader(soup).info(tag)


@pytest.mark.parametrize(
    ("body", "name", "source"),
    [
        ('<img id="t" alt="A loaf">', "A loaf", "alt"),
        ('<img id="t" aria-label="Rye loaf" alt="A loaf">', "Rye loaf", "aria-label"),
        ('<img id="t" aria-labelledby="label" aria-label="Rye" alt="A loaf">', "Fresh bread", "aria-labelledby"),
        ('<img id="t" aria-labelledby="hidden-label">', "Banana bombs", "aria-labelledby"),  # hidden targets count
        ('<img id="t" aria-labelledby="hidden-inside">', "Visible text", "aria-labelledby"),  # hidden parts do not
        ('<img id="t" aria-labelledby="nowhere" alt="A loaf">', "A loaf", "alt"),  # no valid id: next source
        ('<img id="t" aria-labelledby="label hidden-label">', "Fresh bread Banana bombs", "aria-labelledby"),
        ('<img id="t" title="Crusty">', "Crusty", "title"),
        ('<img id="t" alt="" title="Crusty">', "Crusty", "title"),
        ('<img id="t" alt="   ">', None, "none"),  # whitespace is no name
        ('<img id="t" aria-label="  " alt="Loaf">', "Loaf", "alt"),
        ('<img id="t">', None, "none"),
        ('<label>Search <input id="t" type="image" src="go.png"></label>', "Search", "label"),
        ('<label for="t">Go</label><input id="t" type="image" src="go.png">', "Go", "label"),
        ('<input id="t" type="image" src="go.png" alt="">', None, "none"),
        ('<svg id="t" role="img"><title>Logo</title></svg>', "Logo", "title"),
        ('<svg id="t" role="img"><g><title>Not a child</title></g></svg>', None, "none"),
        ('<svg id="t" role="img"><desc>A description is not a name</desc></svg>', None, "none"),
        ('<div id="t" role="img" alt="alt is not for divs"></div>', None, "none"),
        ('<map><area id="t" href="/a" alt="Shoes"></map>', "Shoes", "alt"),
        ('<object id="t" data="a.html" title="Hours">Fallback</object>', "Hours", "title"),
    ],
)
def test_names_from_each_source_in_the_specs_order(body: str, name: str | None, source: str) -> None:
    element = info(body)
    assert (element.accessible_name, element.name_source) == (name, source)


def test_a_name_from_text_notes_that_stylesheets_were_not_applied() -> None:
    assert info('<img id="t" aria-labelledby="label">').name_note  # its <b> could be hidden by the page's CSS
    assert info('<img id="t" alt="Loaf">').name_note is None


@pytest.mark.parametrize(
    ("body", "role", "decorative", "focusable"),
    [
        ('<img id="t" src="a.png" alt="">', "presentation", True, False),
        ('<img id="t" src="a.png" role="presentation">', "presentation", True, False),
        ('<img id="t" src="a.png" role="none">', "none", True, False),
        ('<img id="t" src="a.png" role="presentation" tabindex="0">', "img", False, True),  # conflict: focusable
        ('<img id="t" src="a.png" role="none" aria-live="polite">', "img", False, False),  # conflict: global ARIA
        ('<img id="t" src="a.png" alt="" tabindex="-1">', "img", False, True),
        ('<img id="t" src="a.png" role="foo button">', "button", False, False),  # the first valid token
        ('<div aria-hidden="true"><img id="t" src="a.png" alt="Loaf"></div>', "img", True, False),
        ('<img id="t" src="a.png" hidden tabindex="0">', "img", True, False),  # hidden: not focusable either
        ('<input id="t" type="image" src="a.png" disabled>', "button", False, False),
        ('<object id="t" data="a.html" role="none">x</object>', "none", True, False),
        ('<object id="t" data="a.html" role="none" tabindex="0">x</object>', None, False, True),
    ],
)
def test_roles_presentational_conflicts_and_focus(body: str, role: str, decorative: bool, focusable: bool) -> None:
    element = info(body)
    assert (element.role, element.decorative, element.focusable) == (role, decorative, focusable)


def test_role_helpers() -> None:
    assert explicit_role("IMAGE") == "img" and explicit_role("bogus") is None and explicit_role(None) is None
    assert computed_role("svg", {}, svg=True) == "graphics-document"
    assert is_focusable("a", {"href": "/"}) and not is_focusable("a", {}) and is_focusable("div", {"tabindex": "-1"})


@pytest.mark.parametrize(
    ("body", "findings"),
    [
        ('<img id="t" src="a.png">', ["missing_alt"]),
        ('<img id="t" src="a.png" alt=" ">', ["missing_alt"]),  # alt=" " is not decorative
        ('<img id="t" src="a.png" alt="">', []),
        ('<img id="t" src="a.png" role="separator">', []),  # a role that needs no name: not image-alt's
        ('<img id="t" src="a.png" role="separator" tabindex="0">', ["missing_alt"]),
        ('<img id="t" src="a.png" role="none" tabindex="0">', ["missing_alt", "presentational_role_ignored"]),
        ('<div aria-hidden="true"><img id="t" src="a.png"></div>', []),
        ('<input id="t" type="image" src="a.png" alt="">', ["image_button_no_name"]),
        ('<svg id="t" role="img"></svg>', ["svg_no_name"]),
        ('<svg id="t"></svg>', []),  # no image role: svg-img-alt does not apply
        ('<span id="t" role="img"></span>', ["role_img_no_name"]),
        ('<map><area id="t" href="/a"></map>', ["area_no_name"]),
        ('<area id="t" href="/a">', []),  # outside a map
        ('<object id="t" data="a.html"></object>', ["object_no_name"]),
        ('<object id="t" data="">Fallback</object>', []),  # nothing loads: its fallback is shown
        ('<a href="/"><img id="t" src="a.png" alt="Home"> Home</a>', ["redundant_alt"]),
        ('<p><img id="t" src="a.png" alt="Sale" role="presentation"> Sale</p>', []),
        ('<li><img id="t" src="a.png" alt="Bread, sliced"> Bread</li>', []),
    ],
)
def test_findings_per_element(body: str, findings: list[str]) -> None:
    assert element_findings(info(body)) == findings


def test_drawn_elements_and_their_kinds() -> None:
    soup = BeautifulSoup(
        '<svg id="a"><circle role="img"/><svg id="nested"></svg><foreignObject><div role="img"></div>'
        '</foreignObject></svg><map><area href="/"><area></map><object data="x.html"></object>'
        '<object data="x.png"></object><canvas></canvas><div role="img"></div><img role="img" src="i.png">',
        "lxml",
    )
    kinds = [(kind, tag.name) for kind, tag in drawn_elements(soup)]
    assert kinds == [
        ("svg", "svg"),  # the root; the nested svg belongs to it
        ("svg", "circle"),
        ("area", "area"),  # only the one with an href
        ("object", "object"),  # the document, not the image (that one is an image record)
        ("canvas", "canvas"),
        ("role-img", "div"),  # HTML inside foreignObject is audited as HTML
        ("role-img", "div"),
    ]


def test_image_objects_are_images_and_documents_are_drawn() -> None:
    assert is_image_data("image/png", "x") and not is_image_data("image/svg+xml", "x.svg")
    assert is_image_data("", "photos/a.JPG") and is_image_data("", "data:image/webp;base64,AA")
    assert not is_image_data("", "movie.swf") and not is_image_data("text/html", "a.png")


def test_selectors_are_unique_and_find_the_element() -> None:
    html = '<div><p><img src="a.png"><img src="b.png"></p><p id="dup"></p><p id="dup"><img src="c.png"></p></div>'
    soup = BeautifulSoup(html, "lxml")
    reader = ElementReader(soup)
    for img in soup.find_all("img"):
        selector = reader.selector(img)
        assert soup.select(selector) == [img], selector
    assert reader.selector(soup.find_all("img")[1]) == "body > div > p:nth-of-type(1) > img:nth-of-type(2)"


def test_elements_without_an_image_file_are_records_with_a_reason() -> None:
    page = parse_page(
        b'<body><img alt="no src"><img src="" id="empty"><img src="#"><svg role="img"></svg>'
        b'<map><area href="/a"></map><canvas></canvas></body>',
        "https://shop.test/p",
    )
    records = {record.source: record for record in find_images(page)}
    reasons = {source.split("#", 1)[1]: (r.status, r.reason) for source, r in records.items()}
    assert reasons == {
        "body > img:nth-of-type(1)": ("skipped", "no_source"),
        "#empty": ("skipped", "no_source"),
        "body > img:nth-of-type(3)": ("skipped", "no_source"),  # "#" is the page itself, never fetched
        "body > svg": ("skipped", "needs_browser"),
        "body > map > area": ("skipped", "image_map_area"),
        "body > canvas": ("skipped", "needs_browser"),
    }
    assert all("element" in r.found_in and r.elements for r in records.values())


# --------------------------------------------------------------------------- Chromium's AX tree


def test_devtools_name_sources_map_to_altscout_sources() -> None:
    def name(*sources: dict) -> dict:
        return {"value": "x", "sources": list(sources)}

    value = {"value": {"type": "computedString", "value": "x"}}
    assert name_source(name({"type": "attribute", "attribute": "aria-label", **value})) == "aria-label"
    assert name_source(name({"type": "relatedElement", "attribute": "aria-labelledby", **value})) == "aria-labelledby"
    assert name_source(name({"type": "relatedElement", "nativeSource": "labelwrapped", **value})) == "label"
    assert name_source(name({"type": "relatedElement", "nativeSource": "title", **value})) == "title"
    assert name_source(name({"type": "attribute", "attribute": "type", **value})) == "none"  # "Submit" default
    superseded = {"type": "attribute", "attribute": "title", "superseded": True, **value}
    assert name_source(name(superseded, {"type": "contents", **value})) == "contents"
    facts = ax_facts([{"role": {"value": "button"}, "name": name({"type": "attribute", "attribute": "type", **value})}])
    assert facts["name"] == "" and facts["source"] == "none"
    assert chromium_role("image", None) == "img" and chromium_role("PluginObject", "none") == "none"


def test_an_item_named_by_chromium_and_one_it_leaves_out() -> None:
    base = {"kind": "img", "url": "https://x/a.png", "visible": True}
    named = element_from_item(
        base
        | {
            "facts": {"selector": "#a", "tag": "img", "svg": False, "attrs": {"alt": "x"}},
            "ax": {"role": "image", "name": "Bread", "source": "aria-labelledby", "ignored": False, "reasons": []},
        }
    )
    assert named is not None and (named.accessible_name, named.name_source, named.role) == (
        "Bread",
        "aria-labelledby",
        "img",
    )
    area = element_from_item(
        {
            "kind": "area",
            "facts": {"selector": "#m", "tag": "area", "svg": False, "attrs": {"href": "/", "title": "Map"},
                      "inMap": True},
            "ax": {"ignored": True, "reasons": ["notRendered"]},
        }
    )  # fmt: skip
    assert area is not None and area.hidden and (area.accessible_name, area.name_source) == ("Map", "title")
    assert naming_rule(area) == "area-alt" and element_findings(area) == []


def test_screenshot_decisions() -> None:
    budget = ShotBudget(min_width=100, min_height=100)
    assert shot_decision({"visible": True, "w": 300, "h": 150}, budget) is None
    assert shot_decision({"visible": True, "w": 24, "h": 24}, budget)[0] == "too_small"  # type: ignore[index]
    assert shot_decision({"visible": False, "w": 300, "h": 150}, budget)[0] == "not_shown"  # type: ignore[index]
    assert wants_screenshot({"kind": "svg"}) and wants_screenshot({"kind": "canvas"})
    assert not wants_screenshot({"kind": "role-img", "background": True})
    assert not wants_screenshot({"kind": "object", "image_object": True}) and not wants_screenshot({"kind": "area"})


VOIDS_PAGE = """<!doctype html><html lang="en"><body>
<picture><source media="(min-width: 1px)" srcset="/voids/wide.png"><source srcset="/voids/narrow.png">
<img src="/voids/narrow.png" alt="A shop front"></picture>
<p>Opening<wbr>hours <img src="/voids/hours.png" alt="Hours"></p>
<div><embed src="/voids/clip.png" type="image/png" width="10" height="10"><track src="/voids/t.vtt">
<span role="img" aria-label="Five stars" style="display:inline-block;width:60px;height:60px"></span>
<img src="/voids/team.png"></div>
</body></html>"""


def test_static_selectors_are_the_browsers_around_html5_void_elements(server: FixtureServer, chromium: str) -> None:
    """libxml2 nests what follows <source>, <wbr>, <embed> or <track> inside it; browsers do not."""
    for seed, name in enumerate(("wide", "narrow", "hours", "clip", "team")):
        server.add(f"/voids/{name}.png", make_image(120, 90, seed=seed), content_type="image/png")
    url = server.add("/voids/page.html", VOIDS_PAGE)
    audits = {}
    for mode in ("never", "always"):
        options = AuditOptions(render=mode, browser_path=chromium, allow_private=True, ocr="off")
        (page,) = run_audit([url], options, FakeCaptioner()).pages
        audits[mode] = {(record.url, element.selector) for record in page.images for element in record.elements}
    assert {selector for _, selector in audits["never"]} == {
        "body > picture > img",
        "body > p > img",
        "body > div > span",
        "body > div > img",
    }
    assert audits["never"] == audits["always"]


LINKS_PAGE = """<!doctype html><html lang="en"><body>
<img src="/links/bread.png" alt="Fresh bread"> <a href="/"><img src="/links/bread.png" alt=""></a>
<a href="/"><img src="/links/home.png" alt="Home"></a> <img src="/links/home.png">
<a href="/shop">Shop <img src="/links/cart.png" alt=""></a>
</body></html>"""


@pytest.mark.parametrize("mode", ["never", "always"])
def test_link_name_is_judged_per_occurrence(server: FixtureServer, chromium: str, mode: str) -> None:
    """axe-core's link-name fails on the link an image leaves nameless, wherever that image first appears."""
    for seed, name in enumerate(("bread", "home", "cart")):
        server.add(f"/links/{name}.png", make_image(160, 120, seed=40 + seed), content_type="image/png")
    url = server.add("/links/page.html", LINKS_PAGE)
    options = AuditOptions(render=mode, browser_path=chromium, allow_private=True, ocr="off")
    (page,) = run_audit([url], options, FakeCaptioner()).pages
    issues = {record.source.rsplit("/", 1)[-1]: record.alt_issues for record in page.images}
    assert "linked_image_no_text" in issues["bread.png"]  # its second occurrence is a link's only content
    assert "linked_image_no_text" not in issues["home.png"] and "missing_alt" in issues["home.png"]
    assert not {"linked_image_no_text", "empty_alt_on_content"} & set(issues["cart.png"])  # the link has text
    bread = next(record for record in page.images if record.source.endswith("bread.png"))
    assert [(e.in_link, e.link_text) for e in bread.elements] == [(False, None), (True, None)]
