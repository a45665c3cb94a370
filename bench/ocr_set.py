"""A generated OCR evaluation set: images of text (known ground truth) and photos without text.

Text images: business phrases in en, es, fr and de (accents included), several fonts, text 16 to
120 px high, many colours, on flat backgrounds or over photo-like backgrounds. Photos: synthetic
scenes (sky gradients, hills, fractal noise, shapes, stripes and bricks that look a little like
text to a detector). Deterministic for a seed.

    python3 bench/ocr_set.py --out /tmp/ocr-set      # writes PNGs and truth.json (for a look)
"""

from __future__ import annotations

import argparse
import json
import random
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

PHRASES = {
    "en": [
        "Summer sale: 30% off all bikes until Sunday",
        "Opening hours Monday to Friday 9am to 6pm",
        "Free delivery on orders over $50",
        "Fresh bread baked every morning",
        "Book your table online today",
        "New collection now in store",
        "Call us on 020 7946 0958",
        "Best coffee in town since 1998",
        "Gift cards available at the counter",
        "Join our newsletter and save 10%",
    ],
    "es": [
        "Rebajas de verano: 30% en todas las bicicletas",
        "Horario de atención de lunes a sábado",
        "Envío gratis en pedidos de más de 50 €",
        "Pan recién horneado cada mañana",
        "Reserva tu mesa hoy mismo",
        "Nueva colección de otoño",
        "Llámanos al 912 345 678",
        "El mejor café de la ciudad",
        "Diseño español desde 1985",
        "Menú del día con postre y café",
    ],
    "fr": [
        "Soldes d'été : -30% sur tous les vélos",
        "Horaires d'ouverture du lundi au vendredi",
        "Livraison gratuite dès 50 € d'achat",
        "Pain frais cuit chaque matin",
        "Réservez votre table dès aujourd'hui",
        "Nouvelle collection en boutique",
        "Crème brûlée maison à la vanille",
        "Le meilleur café du quartier",
        "Cartes cadeaux disponibles à l'accueil",
        "Fermé le dimanche et les jours fériés",
    ],
    "de": [
        "Sommerschlussverkauf: 30% auf alle Fahrräder",
        "Öffnungszeiten Montag bis Freitag",
        "Kostenloser Versand ab 50 € Bestellwert",
        "Frisches Brot jeden Morgen gebacken",
        "Große Auswahl für Groß und Klein",
        "Jetzt Tisch reservieren",
        "Neue Herbstkollektion im Geschäft",
        "Bäckerei Müller seit 1952",
        "Grüße aus Köln und Düsseldorf",
        "Gemütliche Atmosphäre und süße Träume",
    ],
}
HEIGHTS = (16, 20, 24, 32, 48, 64, 90, 120)
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation")
FONT_NAMES = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSansCondensed.ttf",
    "LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf", "LiberationSerif-Regular.ttf",
    "LiberationSerif-Italic.ttf", "LiberationSansNarrow-Regular.ttf",
)  # fmt: skip


@dataclass(frozen=True)
class Sample:
    """One evaluation image and its truth."""

    name: str
    image: Image.Image
    text: str | None  # None: a photo without text
    lang: str | None = None
    height_px: int = 0
    background: str = "flat"  # flat or photo
    font: str = ""

    @property
    def clean(self) -> bool:
        """The goal's 'clean' class: text of 24 px or more on a flat background."""
        return self.text is not None and self.background == "flat" and self.height_px >= 24


def fonts() -> list[tuple[str, str | None]]:
    """(name, path) of the fonts found; Pillow's bundled font (path None) always."""
    found: list[tuple[str, str | None]] = []
    for folder in FONT_DIRS:
        for name in FONT_NAMES:
            if (Path(folder) / name).exists():
                found.append((name.removesuffix(".ttf"), str(Path(folder) / name)))
    return [*found, ("Aileron (Pillow)", None)]


def load_font(path: str | None, size: int) -> ImageFont.FreeTypeFont:
    """A font at a pixel size (cap height about 0.7 of it)."""
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size)  # type: ignore[return-value]


def photo_background(rng: random.Random, width: int, height: int) -> Image.Image:
    """A photo-like scene: sky gradient, hills, soft blobs, fractal noise, sometimes a texture."""
    nrng = np.random.default_rng(rng.randrange(1 << 30))
    top = np.array([rng.randrange(60, 200), rng.randrange(90, 220), rng.randrange(150, 255)], dtype=float)
    bottom = np.array([rng.randrange(20, 160) for _ in range(3)], dtype=float)
    t = np.linspace(0, 1, height)[:, None, None]
    pixels = (top * (1 - t) + bottom * t) * np.ones((height, width, 3))
    noise = np.zeros((height, width))
    for octave in range(1, 6):  # fractal (pink-ish) noise, upsampled
        cells = nrng.normal(size=(max(2, height // (64 >> octave or 1)), max(2, width // (64 >> octave or 1))))
        layer = np.asarray(Image.fromarray(cells.astype(np.float32)).resize((width, height), Image.Resampling.BICUBIC))
        noise += layer / octave
    pixels += noise[:, :, None] * rng.uniform(6, 18)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randrange(1, 4)):  # hills
        base = rng.randrange(height // 2, height)
        points = [
            (x, base - int(rng.uniform(0, height / 3) * abs(np.sin(x / rng.uniform(40, 200)))))
            for x in range(0, width + 40, 40)
        ]
        draw.polygon([(0, height), *points, (width, height)], fill=tuple(rng.randrange(20, 140) for _ in range(3)))
    for _ in range(rng.randrange(2, 8)):  # blobs: trees, people, products out of focus
        x, y, r = rng.randrange(width), rng.randrange(height), rng.randrange(10, max(11, height // 3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
    if rng.random() < 0.3:  # a texture with many edges: bricks or stripes
        step = rng.randrange(8, 24)
        for y in range(0, height, step):
            shift = (y // step % 2) * step
            for x in range(-shift, width, step * 2):
                draw.rectangle((x, y, x + step * 2 - 2, y + step - 2), outline=(90, 60, 50))
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))


def contrasting(rng: random.Random, background: tuple[int, int, int]) -> tuple[int, int, int]:
    """A text colour far enough in luminance from the background."""
    luminance = 0.299 * background[0] + 0.587 * background[1] + 0.114 * background[2]
    while True:
        colour = tuple(rng.randrange(256) for _ in range(3))
        if abs(0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2] - luminance) > 110:
            return colour  # type: ignore[return-value]


def text_image(rng: random.Random, index: int, available: list[tuple[str, str | None]]) -> Sample:
    """One image of text: a phrase, a font, a size, colours, a flat or photo background."""
    lang = ("en", "es", "fr", "de")[index % 4]
    phrase = rng.choice(PHRASES[lang])
    font_name, font_path = rng.choice(available)
    height_px = HEIGHTS[(index // 4) % len(HEIGHTS)]
    font = load_font(font_path, height_px)
    per_line = max(12, int(1100 / (0.55 * height_px)))
    lines = textwrap.wrap(phrase, per_line)
    boxes = [font.getbbox(line) for line in lines]
    line_height = int(height_px * 1.3)
    width = max(box[2] for box in boxes) + 2 * max(16, height_px // 2)
    height = line_height * len(lines) + 2 * max(12, height_px // 2)
    photo = (index // 32) % 2 == 1  # blocks of 32: every language and height on both backgrounds
    if photo:
        image = photo_background(rng, width, height)
        colour = (255, 255, 255) if rng.random() < 0.5 else (20, 20, 20)
        stroke = max(1, height_px // 16)
        stroke_colour = (0, 0, 0) if colour[0] > 128 else (255, 255, 255)
    else:
        background = tuple(rng.randrange(256) for _ in range(3))
        image = Image.new("RGB", (width, height), background)  # type: ignore[arg-type]
        colour, stroke, stroke_colour = contrasting(rng, background), 0, None  # type: ignore[arg-type]
    draw = ImageDraw.Draw(image)
    y = max(12, height_px // 2)
    for line in lines:
        draw.text(
            (max(16, height_px // 2), y), line, font=font, fill=colour, stroke_width=stroke, stroke_fill=stroke_colour
        )
        y += line_height
    return Sample(f"text-{index:03d}", image, " ".join(lines), lang, height_px, "photo" if photo else "flat", font_name)


def photo(rng: random.Random, index: int) -> Sample:
    """One photo-like image without text."""
    width, height = rng.choice([(640, 480), (800, 533), (1024, 683), (500, 500), (1200, 400)])
    return Sample(f"photo-{index:03d}", photo_background(rng, width, height), None, background="photo")


def evaluation_set(text_images: int = 240, photos: int = 200, seed: int = 1234) -> Iterator[Sample]:
    """The set, generated one image at a time (bounded memory)."""
    rng = random.Random(seed)
    available = fonts()
    for index in range(text_images):
        yield text_image(rng, index, available)
    for index in range(photos):
        yield photo(rng, index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--text-images", type=int, default=240)
    parser.add_argument("--photos", type=int, default=200)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    truth = {}
    for sample in evaluation_set(args.text_images, args.photos):
        sample.image.save(args.out / f"{sample.name}.png")
        truth[sample.name] = {"text": sample.text, "lang": sample.lang, "height_px": sample.height_px,
                              "background": sample.background, "font": sample.font}  # fmt: skip
    (args.out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
