"""Screenshots of the ranking page and of report.html for a real run (for the docs).

Usage: .venv/bin/python bench/screenshots.py RUN_DIR [--generation G] [--out docs/images]

Serves the ranking page of generation G of RUN_DIR (its real policy videos), waits until every
video plays, and saves `rank_page_demo.png`; then writes the run's report.html and saves
`report_demo.png`. Needs Debian's chromium (scripts/setup_system.sh).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

from eureka_kit.preferences.ranking import load_items
from eureka_kit.web.chromium import HEADLESS_CHROMIUM, HEADLESS_CHROMIUM_ARGS
from eureka_kit.web.rank_server import RankServer
from eureka_kit.web.report import write_report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--generation", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("docs/images"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    items = load_items(args.run, args.generation)
    report = write_report(args.run)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(HEADLESS_CHROMIUM), headless=True, args=list(HEADLESS_CHROMIUM_ARGS)
        )
        page = browser.new_page(viewport={"width": 1150, "height": 900})
        with RankServer(args.run, args.generation, items) as server:
            page.goto(server.url)
            page.wait_for_function(
                "() => [...document.querySelectorAll('video')].every(v => v.readyState >= 2 && v.currentTime > 0.5)",
                timeout=30_000,
            )
            page.screenshot(path=str(args.out / "rank_page_demo.png"), full_page=True)
        page.goto(report.resolve().as_uri())
        page.screenshot(path=str(args.out / "report_demo.png"), full_page=True)
        browser.close()
    print(f"wrote {args.out / 'rank_page_demo.png'} and {args.out / 'report_demo.png'}")


if __name__ == "__main__":
    main()
