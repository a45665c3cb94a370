"""Reading the text inside images (OCR): the engine (:mod:`ocr.reader`) and text helpers (:mod:`ocr.text`)."""

from ocr.reader import TextReader, TextReading, get_text_reader
from ocr.text import TextLine, text_in_alt

__all__ = ["TextLine", "TextReader", "TextReading", "get_text_reader", "text_in_alt"]
