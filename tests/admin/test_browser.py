"""The staff console in a real Chromium: sign in, drop a DOCX, wait until searchable, ask, delete, ask again."""

from __future__ import annotations

import base64

import httpx
from playwright.sync_api import expect

from app.main import create_app
from tests.admin.conftest import EDITOR_TOKEN, FIREFLY_QUESTION, FIREFLY_V1, docx_bytes

# A title with markup: the console must show it as text, never run it.
TITLE = "昆山示例萤火虫保护补贴办法<img src=x onerror=alert(1)>"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def drop_file(page, name: str, data: bytes, mime: str) -> None:
    """Drag-and-drop onto the drop zone, as a browser does it (a DataTransfer carrying a File)."""
    page.evaluate("""([name, b64, mime]) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], name, {type: mime}));
        const zone = document.getElementById("drop-zone");
        for (const type of ["dragenter", "dragover", "drop"]) {
            zone.dispatchEvent(new DragEvent(type, {dataTransfer: transfer, bubbles: true, cancelable: true}));
        }
    }""", [name, base64.b64encode(data).decode(), mime])


def ask(url: str) -> dict:
    response = httpx.post(f"{url}/api/chat", json={"message": FIREFLY_QUESTION}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def test_console_upload_answer_delete(make_admin, live_server, page, fixtures_dir):
    app = make_admin()
    server = live_server(create_app(app.settings, services=app.services))
    dialogs: list[str] = []

    def on_dialog(dialog):
        dialogs.append(dialog.type)
        dialog.accept() if dialog.type == "confirm" else dialog.dismiss()

    page.on("dialog", on_dialog)
    before = ask(server.url)
    assert not [c for c in before["citations"] if "萤火虫" in c["title"]]

    page.goto(f"{server.url}/admin")
    page.fill("#token", "wrong-token")
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector("#sign-in-error:has-text('令牌无效')")
    page.fill("#token", EDITOR_TOKEN)
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector("#console:not([hidden])")
    page.wait_for_selector("#who-name:has-text('alice')")
    page.wait_for_selector("#doc-table tbody tr")

    docx = docx_bytes(TITLE, FIREFLY_V1.splitlines()[2:])
    drop_file(page, "萤火虫保护补贴.docx", docx, DOCX_MIME)
    # A refused file shows its own error next to it.
    page.set_input_files("#file-input", files=[{"name": "加密文件.pdf", "mimeType": "application/pdf",
                                                "buffer": (fixtures_dir / "encrypted.pdf").read_bytes()}])
    page.wait_for_selector("#upload-list li.failed:has-text('加密')")
    page.wait_for_selector("#upload-list li.done:has-text('萤火虫保护补贴.docx')", timeout=240_000)
    assert "已可检索" in page.inner_text("#upload-list li.done")

    answer = ask(server.url)
    cited = [c for c in answer["citations"] if c["title"] == TITLE]
    assert answer["grounded"] and cited, answer
    assert "三百二十七元" in answer["answer"]

    page.fill("#doc-search", "萤火虫")
    expect(page.locator("#doc-table tbody tr")).to_have_count(1)  # the page's CSP forbids wait_for_function
    row = page.wait_for_selector("#doc-table tbody tr:has-text('萤火虫')")
    assert TITLE in row.inner_text()  # shown as text ...
    assert page.locator("#doc-table img").count() == 0  # ... never as markup
    row.query_selector("button.link").click()
    page.wait_for_selector("#doc-detail:not([hidden])")
    assert page.input_value("#meta-form input[name=title]") == TITLE
    page.wait_for_selector("#version-table tbody tr:has-text('v1')")

    page.click("#delete-doc")
    page.wait_for_selector("#notice:has-text('已删除')")
    page.wait_for_selector("#doc-table tbody tr:has-text('萤火虫')", state="detached")
    assert dialogs == ["confirm"]  # the delete confirmation, and no script ever ran from the title

    after = ask(server.url)
    assert not after["grounded"] and not [c for c in after["citations"] if c["title"] == TITLE], after
    # Refused, and the refusal says the policy is no longer in the library.
    assert after["grounded"] is False and "政策库中已没有" in after["answer"]
    assert app.store.ids_where({"doc_id": cited[0]["doc_id"]}) == []
