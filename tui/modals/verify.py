"""Verify a control's evidence: pass or fail (a failure needs a rationale the team can act on).

The dialog shows the evidence of the chosen control: each file's name, size, hash and who uploaded it when,
a text preview of the newest file (downloaded through the client, hash-checked; a binary file is named, not
shown) and a way to save a copy. File names and contents are untrusted: shown as plain text, never markup.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Select, Static

from tui.format import plain
from tui.modals.rationale import RationaleModal

PREVIEW_BYTES = 4096
PREVIEW_LINES = 8


@dataclass(frozen=True)
class VerifyRequest:
    control_id: str
    verdict: str  # pass | fail
    rationale: str


def preview_text(path: Path) -> Text:
    """The first lines of a text file (control characters made visible), or a note that it is binary."""
    with path.open("rb") as f:
        head = f.read(PREVIEW_BYTES)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the window
            return Text("(binary file: no preview; save a copy to open it)", style="dim")
        text = head[:exc.start].decode("utf-8")
    if "\x00" in text:
        return Text("(binary file: no preview; save a copy to open it)", style="dim")
    lines = text.splitlines()
    out = Text()
    for line in lines[:PREVIEW_LINES]:
        out.append_text(plain(line[:200]))
        out.append("\n")
    if len(lines) > PREVIEW_LINES or len(head) == PREVIEW_BYTES:
        out.append("…", style="dim")
    return out


class VerifyControlModal(RationaleModal):
    """``pending``: (control_id, title) with evidence waiting; ``initial``: the control under the cursor;
    ``evidence``: control id -> its evidence rows; ``fetch(evidence_id, dest)``: a hash-checked download."""

    rationale_required = False

    def __init__(self, review_label: str, pending: list[tuple[str, str]], initial: str | None = None, *,
                 evidence: dict[str, list[dict[str, Any]]] | None = None, fetch: Callable[[int, Path], Path] | None = None) -> None:
        super().__init__()
        self.review_label, self.pending = review_label, pending
        ids = [c for c, _ in pending]
        self.initial = initial if initial in ids else (ids[0] if ids else None)
        self.evidence = evidence or {}
        self.fetch = fetch
        self._tmp = tempfile.TemporaryDirectory(prefix="ethics-review-evidence-")

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(plain(f"Verify a control of {self.review_label}"), classes="dialog-title")
            yield Select([(plain(f"{cid}  {title}"), cid) for cid, title in self.pending], value=self.initial or Select.NULL,
                         id="control", allow_blank=self.initial is None)
            yield Static("", id="evidence-files")
            yield Static("", id="evidence-preview", classes="evidence-preview")
            with Horizontal(classes="dialog-buttons"):
                yield Input(placeholder="save a copy to (file or directory)", id="save-to")
                yield Button("Save copy", id="save")
            with RadioSet(id="verdict"):
                yield RadioButton("Pass: evidence meets the requirement", id="v-pass", value=True)
                yield RadioButton("Fail: send back to the product team", id="v-fail")
            yield from self.rationale_fields("Record verdict", "Rationale (required when it fails)")

    def on_mount(self) -> None:
        self.query_one("#rationale").focus()  # what is typed first is the rationale (shift+tab: the verdict)
        self._show(self.initial)

    def on_unmount(self) -> None:
        self._tmp.cleanup()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "control":
            self._show(event.value if isinstance(event.value, str) else None)

    def _files(self, control: str | None) -> list[dict[str, Any]]:
        return list(self.evidence.get(control or "", []))

    def _show(self, control: str | None) -> None:
        files = self._files(control)
        t = Text()
        if not files:
            t.append("No evidence file on this control.", style="dim")
        for e in files:
            t.append_text(plain(e["filename"], style="bold"))
            t.append(f"  {e['size']:,} bytes  sha256 {e['sha256'][:16]}…  ", style="dim")
            t.append_text(plain(f"by {e['uploaded_by']} at {str(e['uploaded_at'])[:16]}", style="dim"))
            t.append("\n")
        self.query_one("#evidence-files", Static).update(t)
        self.query_one("#evidence-preview", Static).update(Text("loading the newest file…", style="dim") if files and self.fetch else "")
        if files and self.fetch:
            newest = files[-1]
            self.query_one("#save-to", Input).value = str(Path.cwd() / Path(str(newest["filename"])).name)
            self.run_worker(lambda: self._preview(control, newest), thread=True, exclusive=True, group="evidence-preview")

    def _preview(self, control: str | None, ev: dict[str, Any]) -> None:
        assert self.fetch is not None
        try:
            dest = Path(self._tmp.name) / str(ev["id"])
            dest.mkdir(exist_ok=True)
            text = preview_text(self.fetch(int(ev["id"]), dest))
        except Exception as exc:  # a missing or changed blob: say so here, the verdict can still be recorded
            text = plain(f"cannot show it: {getattr(exc, 'message', exc)}", style="red")
        self.app.call_from_thread(self._previewed, control, text)

    def _previewed(self, control: str | None, text: Text) -> None:
        current = self.query_one("#control", Select).value
        if current == control:
            self.query_one("#evidence-preview", Static).update(text)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":  # not confirm/cancel: the base class's handler must not see it
            event.prevent_default()
            event.stop()
            self._save()

    def _save(self) -> None:
        control = self.query_one("#control", Select).value
        files = self._files(control if isinstance(control, str) else None)
        where = self.query_one("#save-to", Input).value.strip()
        if not files or self.fetch is None or not where:
            self.problem("Choose a control with evidence and where to save it.")
            return
        newest, fetch = files[-1], self.fetch

        def work() -> None:
            try:
                path = fetch(int(newest["id"]), Path(where).expanduser())
                self.app.call_from_thread(self.app.notify, f"saved {path} (hash checked)", title="Evidence", markup=False)
            except Exception as exc:
                self.app.call_from_thread(self.problem, plain(f"not saved: {getattr(exc, 'message', exc)}"))

        self.run_worker(work, thread=True, group="evidence-save")

    def result(self) -> VerifyRequest | None:
        control = self.query_one("#control", Select).value
        if not isinstance(control, str):
            self.problem("Choose the control.")
            return None
        pressed = self.query_one("#verdict", RadioSet).pressed_button
        verdict = "fail" if pressed is not None and pressed.id == "v-fail" else "pass"
        if verdict == "fail" and len(self.rationale) < self.min_rationale:
            self.problem("A failed verification needs a rationale the product team can act on.")
            return None
        return VerifyRequest(control, verdict, self.rationale)
