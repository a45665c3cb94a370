"""How long ``--fix-patch`` takes on a large component project: a generated Next.js-style project of N component
files, each drawing a few images (an imported asset, a public path, an expression), and an audit of P pages whose
images those files draw (built addresses: ``/_next/image?url=…``, hashed asset names).

    python3 bench/bench_fix_patch.py --files 5000 --pages 2000

Prints the seconds write_fix_patch takes, the files and tags it patched, and how many images it lists by hand.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from records import CAPTIONED, AuditReport, ImageRecord, PageReport
from reports.patch import write_fix_patch

SITE = "https://shop.example"


def component(number: int) -> str:
    """A component that draws an imported asset, an image of the public folder, and one from its props."""
    return f"""import Image from "next/image";
import photo{number} from "../assets/photo-{number}.jpg";

export function Card{number}({{ product }}) {{
  const price = product.price > 10 ? "high" : "low";
  return (
    <article className="card" data-price={{price}}>
      <Image src={{photo{number}}} alt="IMG_{number}.jpg" sizes="(max-width: 640px) 100vw, 50vw" priority={{false}} />
      <img src="/badges/badge-{number}.png" className="badge" />
      <img src={{product.image}} alt={{product.name}} />
      <p>{{product.description}}</p>
    </article>
  );
}}
"""


def image(url: str, text: str) -> ImageRecord:
    record = ImageRecord(source=url, found_in=["img"], status=CAPTIONED)
    record.suggested_alt, record.suggestion_for, record.caption = text, "alt", text.lower()
    record.alt_issues = ["missing_alt"]
    return record


def report(files: int, pages: int) -> AuditReport:
    """Pages that show the cards' images at their built addresses, one card a page (cycling over the files)."""
    audited = []
    for number in range(pages):
        card = number % files
        asset = f"/_next/static/media/photo-{card}.{card:08x}.jpg"
        audited.append(PageReport(url=f"{SITE}/products/{number}/", images=[
            image(f"{SITE}/_next/image?url={asset.replace('/', '%2F')}&w=1080&q=75", f"A photo of product {card}"),
            image(f"{SITE}/badges/badge-{card}.png", f"A badge {card}"),
            image(f"{SITE}/cdn/products/{number}.jpg", f"A product {number}"),
        ]))  # fmt: skip
    return AuditReport(pages=audited)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--pages", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder, "project")
        (project / "components").mkdir(parents=True)
        (project / "package.json").write_text('{"dependencies": {"next": "15.0.0"}}\n')
        for number in range(args.files):
            (project / "components" / f"Card{number}.tsx").write_text(component(number))
        audit = report(args.files, args.pages)
        start = time.perf_counter()
        result = write_fix_patch(audit, project, Path(folder, "alt.patch"))
        elapsed = time.perf_counter() - start
    print(f"{args.files} component files, {args.pages} pages ({3 * args.pages} images): {elapsed:.2f} s; "
          f"{result.files} files and {result.tags} tags patched, {len(result.by_hand)} images by hand")  # fmt: skip


if __name__ == "__main__":
    main()
