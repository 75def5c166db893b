"""Take docs/widget.png: the demo page with the widget open on a cited answer.

    .venv/bin/python -m tests.web.screenshot                 # indexes corpus/ into a temporary dir (~1 min)
    .venv/bin/python -m tests.web.screenshot --data-dir data # reuse an index built by `make run`
    .venv/bin/python -m tests.web.screenshot --url http://127.0.0.1:8000   # a server that is already running

Drives Debian's Chromium (/usr/bin/chromium) through Playwright's Python package.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import tempfile
from pathlib import Path

from tests.conftest import CHROMIUM, SAMPLE_CORPUS, LiveServer

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "昆山对省级创新联合体给多少支持？"


@contextlib.contextmanager
def serve(data_dir: Path | None):
    """The app over ``data_dir`` (or over a fresh temporary index of the sample corpus)."""
    from app.main import Services, create_app
    from app.settings import Settings

    with tempfile.TemporaryDirectory(prefix="kunruyi-shot-") as tmp:
        settings = Settings(_env_file=None, data_dir=data_dir or Path(tmp) / "data", corpus_dir=SAMPLE_CORPUS)
        services = Services.build(settings)
        if data_dir is None:
            services.ingest.sync([SAMPLE_CORPUS])
            services.keywords.refresh(force=True)
        server = LiveServer(create_app(settings, services=services)).start()
        try:
            yield server.url
        finally:
            logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)  # the forced stop is expected
            server.stop()


def take(url: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        page = browser.new_page(locale="zh-CN", viewport={"width": 1100, "height": 760}, device_scale_factor=1)
        page.set_default_timeout(30_000)
        page.goto(url + "/")
        page.get_by_role("button", name="打开昆如意企业服务助手").click()
        page.get_by_role("textbox", name="输入您的问题").fill(QUESTION)
        page.keyboard.press("Enter")
        page.locator(".kry-assistant[data-state=done]").last.wait_for()
        page.locator(".kry-cite").first.wait_for()
        page.wait_for_timeout(300)  # let the last layout settle
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, help="an existing index (default: index corpus/ into a temp dir)")
    parser.add_argument("--url", help="use a server that is already running instead of starting one")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "widget.png")
    args = parser.parse_args()
    if args.url:
        take(args.url.rstrip("/"), args.out)
    else:
        with serve(args.data_dir) as url:
            take(url, args.out)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
