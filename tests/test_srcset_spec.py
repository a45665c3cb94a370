"""srcset parsing against the W3C / web-platform-tests "parse a srcset attribute" cases.

Each case is the attribute value (character references already decoded) and the URL of the
first valid candidate the spec's algorithm yields ("" when none is valid). The groups follow
the test suite: splitting loop, descriptor tokenizer, descriptor parser.
"""

from __future__ import annotations

import pytest

from scraper.srcset import parse_srcset

SPLITTING_LOOP = [
    ("", ""),
    (",", ""),
    (",,,", ""),
    ("  data:,a  1x  ", "data:,a"),
    ("\t\tdata:,a\t\t1x\t\t", "data:,a"),
    ("\n\ndata:,a\n\n1x\n\n", "data:,a"),
    ("\v\vdata:,a\v\v1x\v\v", "\v\vdata:,a\v\v1x\v\v"),  # U+000B is not ASCII whitespace
    ("\f\fdata:,a\f\f1x\f\f", "data:,a"),
    ("\r\rdata:,a\r\r1x\r\r", "data:,a"),
    ("\x0e\x0edata:,a\x0e\x0e1x\x0e\x0e", "\x0e\x0edata:,a\x0e\x0e1x\x0e\x0e"),
    ("data:,a", "data:,a"),
    ("data:,a ", "data:,a"),
    ("data:,a ,", "data:,a"),
    ("data:,a,", "data:,a"),
    ("data:,a, ", "data:,a"),
    ("data:,a,,,", "data:,a"),
    ("data:,a,, , ", "data:,a"),
    (" data:,a", "data:,a"),
    (",,,data:,a", "data:,a"),
    (" , ,,data:,a", "data:,a"),
    ("\xa0data:,a", "\xa0data:,a"),  # NBSP is part of the URL
    ("data:,a\xa0", "data:,a\xa0"),
]

DESCRIPTOR_TOKENIZER = [
    ("data:,a 1x", "data:,a"),
    ("data:,a 1x ", "data:,a"),
    ("data:,a 1x,", "data:,a"),
    ("data:,a ( , data:,b 1x, ), data:,c", "data:,c"),
    ("data:,a ((( , data:,b 1x, ), data:,c", "data:,c"),  # one "in parens" state, not a depth
    ("data:,a [ , data:,b 1x, ], data:,c", "data:,b"),
    ("data:,a { , data:,b 1x, }, data:,c", "data:,b"),
    ('data:,a " , data:,b 1x, ", data:,c', "data:,b"),
    ("data:,a \\,data:;\\,b, data:,c", "data:;\\,b"),
    ("data:,a, data:,b (", "data:,a"),
    ("data:,a, data:,b (  ", "data:,a"),
    ("data:,a, data:,b (,", "data:,a"),
    ("data:,a, data:,b (x", "data:,a"),
    ("data:,a, data:,b ()", "data:,a"),
    ("data:,a (, data:,b", ""),
    ("data:,a /*, data:,b, data:,c */", "data:,b"),
    ("data:,a //, data:,b", "data:,b"),
]

DESCRIPTOR_PARSER = [
    ("data:,a foo", ""),
    ("data:,a foo foo", ""),
    ("data:,a foo 1x", ""),
    ("data:,a foo 1w", ""),
    ("data:,a 1x 1x", ""),
    ("data:,a 1w 1w", ""),
    ("data:,a 1h 1h", ""),
    ("data:,a 1w 1x", ""),
    ("data:,a 1x 1w", ""),
    ("data:,a 1w 1h", "data:,a"),
    ("data:,a 1h 1w", "data:,a"),
    ("data:,a 1h 1x", ""),
    ("data:,a 1h 1w 1x", ""),
    ("data:,a 1x 1w 1h", ""),
    ("data:,a 1h", ""),  # h without w
    ("data:,a 1h foo", ""),
    ("data:,a foo 1h", ""),
    ("data:,a 0w", ""),
    ("data:,a -1w", ""),
    ("data:,a 1w -1w", ""),
    ("data:,a 1.0w", ""),
    ("data:,a 1e0w", ""),
    ("data:,a 1www", ""),
    ("data:,a 1w +1w", ""),
    ("data:,a 1W", ""),
    ("data:,a Infinityw", ""),
    ("data:,a NaNw", ""),
    ("data:,a 0x1w", ""),
    ("data:,a 1\x01w", ""),
    ("data:,a 1\xa0w", ""),
    ("data:,a 1\u2003w", ""),
    ("data:,a \ufeff1w", ""),
    ("data:,a 0x", "data:,a"),  # a density of 0 is allowed
    ("data:,a -0x", "data:,a"),
    ("data:,a 1x -0x", ""),
    ("data:,a -1x", ""),
    ("data:,a 1x -1x", ""),
    ("data:,a 1e0x", "data:,a"),
    ("data:,a 1E0x", "data:,a"),
    ("data:,a 1e-1x", "data:,a"),
    ("data:,a 1.5e1x", "data:,a"),
    ("data:,a -x", ""),
    ("data:,a .x", ""),
    ("data:,a -.x", ""),
    ("data:,a 1.x", ""),
    ("data:,a .5x", "data:,a"),
    ("data:,a .5e1x", "data:,a"),
    ("data:,a 1x 1.5e1x", ""),
    ("data:,a 1x 1e1.5x", ""),
    ("data:,a 1.0x", "data:,a"),
    ("data:,a 1x 1.0x", ""),
    ("data:,a +1x", ""),
    ("data:,a 1X", ""),
    ("data:,a Infinityx", ""),
    ("data:,a NaNx", ""),
    ("data:,a 0X1x", ""),
    ("data:,a 1\x01x", ""),
    ("data:,a 1\u3000x", ""),
    ("data:,a \xa01x", ""),
    ("data:,a 1w 0h", ""),
    ("data:,a 1w -1h", ""),
    ("data:,a 1w 1.0h", ""),
    ("data:,a 1w 1e0h", ""),
    ("data:,a 1w 1hhh", ""),
    ("data:,a 1w 1H", ""),
    ("data:,a 1w Infinityh", ""),
    ("data:,a 1w NaNh", ""),
    ("data:,a 0x1h", ""),
    ("data:,a 1w 1\x01h", ""),
    ("data:,a 1w \u205f1h", ""),
]


def first_candidate(value: str) -> str:
    candidates = parse_srcset(value)
    return candidates[0].url if candidates else ""


@pytest.mark.parametrize(("value", "expected"), SPLITTING_LOOP + DESCRIPTOR_TOKENIZER + DESCRIPTOR_PARSER)
def test_w3c_parse_a_srcset_attribute(value: str, expected: str) -> None:
    assert first_candidate(value) == expected


def test_descriptors_are_kept() -> None:
    assert parse_srcset("a.jpg 300w 200h, b.jpg 2x, c.jpg")[0].height == 200
    assert [(c.width, c.density) for c in parse_srcset("a.jpg 300w 200h, b.jpg 2x, c.jpg")] == [
        (300, None),
        (None, 2.0),
        (None, None),
    ]
