"""Name checks per element, decided as axe-core's seven image rules decide them.

Each audited element (:class:`records.ElementInfo`) falls under at most one naming rule, by what
it is: ``img`` (image-alt), ``input type=image`` (input-image-alt), an SVG image (svg-img-alt),
an HTML ``role=img`` element (role-img-alt), ``map area[href]`` (area-alt), a loaded ``object``
(object-alt). The rule applies when axe-core's does: not hidden (area-alt looks at hidden areas
too), and for img, input and object only without an explicit role that needs no name, unless
the element is focusable. It passes when one of the rule's accepted sources gives a non-empty
name. Two more findings: image-redundant-alt (the name repeats the text around the image) and
presentation-role-conflict (a presentational role ignored because the element is focusable or
carries a global ARIA attribute).
"""

from __future__ import annotations

from records import ElementInfo, ImageRecord
from scraper.accname import NAME_REQUIRED_ROLES, PRESENTATIONAL, sanitize

# axe rule -> (AltScout finding, the name sources the rule accepts, a presentational element passes)
NAME_RULES: dict[str, tuple[str, frozenset[str], bool]] = {
    "image-alt": ("missing_alt", frozenset({"alt", "aria-label", "aria-labelledby", "title"}), True),
    "input-image-alt": (
        "image_button_no_name",
        frozenset({"alt", "aria-label", "aria-labelledby", "title", "label"}),
        False,
    ),
    "svg-img-alt": ("svg_no_name", frozenset({"title", "aria-label", "aria-labelledby"}), False),
    "role-img-alt": ("role_img_no_name", frozenset({"aria-label", "aria-labelledby", "title"}), False),
    "area-alt": ("area_no_name", frozenset({"alt", "aria-label", "aria-labelledby", "title"}), False),
    "object-alt": ("object_no_name", frozenset({"aria-label", "aria-labelledby", "title"}), True),
}
SVG_RULE_ROLES = frozenset({"img", "graphics-symbol"})
NAME_FINDINGS = frozenset(finding for finding, _, _ in NAME_RULES.values())


def naming_rule(element: ElementInfo) -> str | None:
    """The axe rule that asks this element for a name, by what the element is (None: no rule)."""
    if element.svg:
        if element.explicit_role in SVG_RULE_ROLES or (
            element.tag == "svg" and element.explicit_role == "graphics-document"
        ):
            return "svg-img-alt"
        return None
    if element.tag == "img":
        return "image-alt"
    if element.tag == "input":
        return "input-image-alt"
    if element.tag == "area":
        return "area-alt" if element.in_map else None
    if element.tag == "object":
        return "object-alt" if element.loaded else None
    if (element.role_attr or "").strip().lower() == "img":
        return "role-img-alt"
    return None


def _applies(rule: str, element: ElementInfo) -> bool:
    """axe-core's matching: hidden elements are left out (not areas), and an explicit role that needs no
    name takes img, input and object out of the rule unless they are focusable."""
    if element.hidden and rule != "area-alt":
        return False
    if rule in ("image-alt", "input-image-alt", "object-alt"):
        role = element.explicit_role
        return role is None or role in PRESENTATIONAL or role in NAME_REQUIRED_ROLES or element.focusable
    return True


def _named(rule: str, element: ElementInfo) -> bool:
    finding, sources, presentational_passes = NAME_RULES[rule]
    del finding
    if rule == "image-alt":
        alt = element.alt
        if alt is not None and alt != "" and not alt.strip():  # alt=" " is no name (axe: alt-space-value)
            return False
        if alt is not None:  # alt="" marks the image decorative; any other alt names it
            return True
    if presentational_passes and element.decorative:
        return True
    return bool(sanitize(element.accessible_name)) and element.name_source in sources


def presentational_conflict(element: ElementInfo) -> bool:
    """The author made the element presentational, but its focus or a global ARIA attribute cancels that."""
    intended = element.explicit_role in PRESENTATIONAL or (element.tag == "img" and element.alt == "")
    return intended and not element.hidden and (element.focusable or element.global_aria) and not element.decorative


def redundant(element: ElementInfo) -> bool:
    """image-redundant-alt: the image's name repeats the visible text of its button, link, paragraph or cell."""
    if element.tag != "img" or element.svg or element.hidden or element.decorative:
        return False
    text = sanitize(element.container_text).lower()
    return bool(text) and text == sanitize(element.accessible_name).lower()


def element_findings(element: ElementInfo) -> list[str]:
    """The name findings of one element, in registry order."""
    findings: list[str] = []
    rule = naming_rule(element)
    if rule is not None and _applies(rule, element) and not _named(rule, element):
        findings.append(NAME_RULES[rule][0])
    if presentational_conflict(element):
        findings.append("presentational_role_ignored")
    if redundant(element):
        findings.append("redundant_alt")
    return findings


def silent(record: ImageRecord) -> bool:
    """Assistive technology reads none of the record's elements: each is hidden or presentational by its
    role. (``alt=""`` alone does not count: whether its image is content is what some checks ask.)"""
    elements = record.elements
    return bool(elements) and all(e.hidden or (e.decorative and e.explicit_role in PRESENTATIONAL) for e in elements)
