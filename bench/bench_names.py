"""Where rendered pages' accessible names should come from: Chromium's accessibility tree (DevTools
protocol) or axe-core run inside the page. Measures agreement with axe-core's verdicts on its
image-rule fixtures and the time each way takes, on those pages and on a large generated one.

    python3 bench/bench_names.py [--repeat 5] [--big-images 400]

The axe-core way needs ``axe-playwright-python`` (requirements-bench.txt), whose wheel ships
axe.min.js; nothing is loaded from a CDN. Numbers: docs/ACCESSIBILITY.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from auditing.a11y import element_findings
from auditing.registry import ISSUES
from bench import axe_fixtures
from bench.loopback import NOT_FOUND, Answer, serve
from scraper.browser import find_browser, launch_args, use_sandbox
from scraper.render_ax import ShotBudget, read_page
from scraper.rendered import element_from_item

AXE_RUN = """async (rules) => {
  const only = {runOnly: {type: "rule", values: rules}, resultTypes: ["violations", "passes"]};
  const result = await axe.run(document, only);
  const verdicts = {};
  for (const [kind, list] of [["violations", result.violations], ["passes", result.passes]])
    for (const rule of list) for (const node of rule.nodes) verdicts[rule.id + " " + node.target.join(" ")] = kind;
  return verdicts;
}"""


def big_page(images: int) -> str:
    """A large page: images with every kind of name, inline SVGs, role=img elements, image buttons."""
    parts = ['<div id="label">Shop label</div>']
    for i in range(images):
        kind = i % 6
        attrs = [f'alt="Product photo {i}"', "", f'aria-label="Photo {i}"', 'alt=""', 'aria-labelledby="label"',
                 'role="presentation" tabindex="0"'][kind]  # fmt: skip
        parts.append(f'<p><a href="/p/{i}"><img src="/img/{i}.png" {attrs} width="120" height="120"></a> text {i}</p>')
        if i % 4 == 0:
            parts.append(f'<svg role="img" width="120" height="120"><title>Icon {i}</title><rect/></svg>')
        if i % 8 == 0:
            parts.append(f'<div role="img" aria-label="Rating {i}" style="width:40px;height:40px"></div>')
            parts.append(f'<input type="image" src="/img/b{i}.png" alt="Go {i}">')
    return "<!doctype html><html lang=en><body>" + "\n".join(parts) + "</body></html>"


def answer_for(documents: dict[str, str]) -> Any:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (120, 120), (200, 30, 30)).save(buffer, "PNG")
    png = buffer.getvalue()

    def answer(path: str, base: str) -> Answer:
        if path in documents:
            return 200, "text/html; charset=utf-8", documents[path].encode()
        if path.endswith(".png"):
            return 200, "image/png", png
        return NOT_FOUND

    return answer


async def chromium_way(context: Any, page: Any) -> dict[str, bool]:
    """Verdicts from Chromium's names (AltScout's way): selector + rule -> violation."""
    data, _ = await read_page(context, page, 20_000, ShotBudget(max_shots=0), time.monotonic() + 60)
    verdicts: dict[str, bool] = {}
    for item in data.get("images") or []:
        element = element_from_item(item)
        if element is None or not element.selector:
            continue
        findings = element_findings(element)
        for rule in axe_fixtures.RULES:
            verdicts[f"{rule} {element.selector}"] = any(ISSUES[f].axe_rule == rule for f in findings)
    return verdicts


async def axe_way(page: Any, axe_source: str) -> dict[str, bool]:
    """Verdicts from axe-core injected into the page: rule + selector -> violation."""
    await page.add_script_tag(content=axe_source)
    raw = await page.evaluate(AXE_RUN, list(axe_fixtures.RULES))
    return {key: kind == "violations" for key, kind in raw.items()}


def agreement(verdicts: dict[str, bool], rule: str) -> tuple[int, int]:
    expected = axe_fixtures.expected(rule)
    agree = sum(verdicts.get(f"{rule} {sel}", False) == violation for sel, violation in expected.items())
    return agree, len(expected)


async def run(repeat: int, big_images: int) -> None:
    from playwright.async_api import async_playwright

    try:
        import axe_playwright_python

        axe_source = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")
        axe_version = axe_source[3:40].split("\n")[0]
    except ImportError:
        axe_source, axe_version = "", "not installed (pip install -r requirements-bench.txt)"
    documents = {axe_fixtures.page_path(rule): axe_fixtures.page(rule)[0] for rule in axe_fixtures.RULES}
    documents["/big.html"] = big_page(big_images)
    server = serve(answer_for(documents))
    base = f"http://127.0.0.1:{server.server_address[1]}"
    timings: dict[str, dict[str, list[float]]] = {"chromium": {}, "axe": {}}
    agreements = {"chromium": [0, 0], "axe": [0, 0]}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=find_browser(),
            headless=True,
            chromium_sandbox=use_sandbox(),
            args=[arg for arg in launch_args(1) if not arg.startswith(("--proxy", "--host-resolver"))],  # loopback only
        )
        for path in documents:
            for way in ("chromium", "axe"):
                if way == "axe" and not axe_source:
                    continue
                for attempt in range(repeat):
                    context = await browser.new_context()
                    page = await context.new_page()
                    await page.goto(base + path, wait_until="load")
                    started = time.perf_counter()
                    verdicts = await (chromium_way(context, page) if way == "chromium" else axe_way(page, axe_source))
                    timings[way].setdefault(path, []).append(time.perf_counter() - started)
                    await context.close()
                    rule = path.split("/")[2] if path.startswith("/axe/") else None
                    if rule and attempt == 0:
                        got, total = agreement(verdicts, rule)
                        agreements[way][0] += got
                        agreements[way][1] += total
        await browser.close()
    server.shutdown()
    print(f"axe-core: {axe_version}; repeats: {repeat}; big page: {big_images} images\n")
    print("| page | Chromium AX tree (ms) | axe-core in the page (ms) |\n|---|---|---|")
    for path in documents:
        cells = [f"{statistics.median(timings[w][path]) * 1000:.0f}" if path in timings[w] else "-" for w in timings]
        print(f"| {path} | {cells[0]} | {cells[1]} |")
    for way, (got, total) in agreements.items():
        if total:
            print(f"\n{way}: agrees with axe-core's fixture verdicts on {got}/{total} elements")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per page and way (median shown)")
    parser.add_argument("--big-images", type=int, default=400, help="images on the generated large page")
    args = parser.parse_args()
    if not axe_fixtures.available():
        sys.exit(f"axe-core fixtures not found at {axe_fixtures.AXE_RULES_DIR}")
    asyncio.run(run(args.repeat, args.big_images))


if __name__ == "__main__":
    main()
