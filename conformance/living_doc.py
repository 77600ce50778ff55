"""The living document: the source document, section by section, with what a run showed.

Under each section go the scenarios of its feature with their verdict, the runtime and
backend that ran them, the reason for a skip or a failure, and what the steps observed
(`ps auxf`, `systemd-cgls`, `machinectl`, journal excerpts). Written as Markdown and as
one self-contained HTML page.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from conformance.document import TITLE, Block, BlockKind, Section, section_for, sections
from conformance.results import Run, Scenario, Verdict

MD_NAME = "spec.md"
HTML_NAME = "spec.html"
ERROR_LINES = 30

_ICON = {
    Verdict.PASSED: "✅",
    Verdict.FAILED: "❌",
    Verdict.SKIPPED: "⏭️",
    Verdict.PENDING: "⏸️",
    Verdict.REF_ONLY: "🔒",
}


class Standing:
    """How a section stands, from its scenarios' verdicts."""

    HOLDS = "holds"
    FAILS = "fails"
    NOT_JUDGED = "not judged"
    NO_SCENARIOS = "no scenarios"


def standing(scenarios: Sequence[Scenario]) -> str:
    if not scenarios:
        return Standing.NO_SCENARIOS
    if any(s.verdict is Verdict.FAILED for s in scenarios):
        return Standing.FAILS
    if all(s.acceptable for s in scenarios) and any(s.verdict is Verdict.PASSED
                                                     for s in scenarios):
        return Standing.HOLDS
    return Standing.NOT_JUDGED


@dataclass(frozen=True)
class Part:
    """A section of the document with the scenarios that judge it."""

    section: Section | None  # None: scenarios about the harness, not the document
    scenarios: tuple[Scenario, ...]

    @property
    def title(self) -> str:
        return self.section.spec.title if self.section else "Not in the document: the harness"

    @property
    def anchor(self) -> str:
        return self.section.anchor if self.section else "harness"

    @property
    def level(self) -> int:
        return self.section.spec.level if self.section else 2

    @property
    def standing(self) -> str:
        return standing(self.scenarios)


def parts(run: Run, document: Iterable[Section] | None = None) -> list[Part]:
    """The document's sections in order, each with its scenarios; then the others."""
    secs = tuple(sections() if document is None else document)
    placed: dict[str, list[Scenario]] = {s.spec.title: [] for s in secs}
    others: list[Scenario] = []
    for scenario in run.scenarios:
        spec = section_for(scenario.tags)
        if spec is not None and spec.title in placed:
            placed[spec.title].append(scenario)
        else:
            others.append(scenario)
    out = [Part(s, tuple(placed[s.spec.title])) for s in secs]
    if others:
        out.append(Part(None, tuple(others)))
    return out


def _verdict_text(s: Scenario) -> str:
    if s.verdict is Verdict.SKIPPED and not s.acceptable:
        return "skipped (no declared capability)"
    return str(s.verdict)


def _error_excerpt(s: Scenario) -> str:
    step = s.failed_step
    text = step.error if step and step.error else s.reason
    lines = text.rstrip().splitlines()
    if len(lines) > ERROR_LINES:
        lines = ["…", *lines[-ERROR_LINES:]]
    return "\n".join(lines)


def _generated() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


# --- Markdown ---------------------------------------------------------------------------


def _md_block(block: Block) -> str:
    if block.kind is BlockKind.VERBATIM:
        return f"```\n{block.text}\n```"
    if block.kind is BlockKind.LIST:
        return "\n".join(line.strip() for line in block.lines)
    return block.text


def _md_fence(text: str) -> str:
    fence = "````" if "```" in text else "```"
    return f"{fence}\n{text}\n{fence}"


def _md_scenario(s: Scenario) -> list[str]:
    out = [f"- {_ICON[s.verdict]} **{_verdict_text(s)}** — {s.name}  ",
           f"  <sub>{s.feature_file or s.feature} · runtime `{s.runtime or '?'}` · "
           f"backend `{s.backend or '?'}`</sub>"]
    if s.verdict is Verdict.FAILED:
        step = s.failed_step
        if step:
            out.append(f"\n  Failed at: *{step.keyword} {step.name}*")
        out.append("\n" + _indent(_md_fence(_error_excerpt(s))))
    elif s.reason:
        out.append(f"\n  Reason: {s.reason}")
    for label, text in s.observations:
        out.append(f"\n  <details><summary>observed: {html.escape(label)}</summary>\n\n"
                   + _indent(_md_fence(text)) + "\n\n  </details>")
    return out


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" if line else "" for line in text.splitlines())


def markdown(run: Run, document: Iterable[Section] | None = None) -> str:
    ps = parts(run, document)
    out = [f"# {TITLE} — the living document", "",
           f"Runtime **{run.runtime}**, backend **{run.backend}**, {_generated()}: "
           f"{run.summary()}. " + ("Every scenario holds." if run.ok else
                                   "Not every scenario holds (see below)."), "",
           "| Section | Standing | Scenarios |", "|---|---|---|"]
    for p in ps:
        if p.scenarios:
            counts = ", ".join(f"{n} {v}" for v, n in Run(p.scenarios).counts().items())
            out.append(f"| [{p.title}](#{p.anchor}) | {p.standing} | {counts} |")
    out.append("")
    for p in ps:
        if p.section is None or p.section.spec.heading:
            out += [f"{'#' * p.level} {p.title}", ""]
        if p.section is not None:
            for block in p.section.blocks:
                out += [_md_block(block), ""]
        if p.scenarios:
            out += [f"> **Scenarios: {p.standing}**", ""]
            for s in p.scenarios:
                out += _md_scenario(s)
            out.append("")
    out += ["---", "",
            "The document's text is rkt's *Using rkt with systemd* (Copyright The rkt Authors, "
            "Apache License 2.0)."]
    return "\n".join(out).rstrip() + "\n"


# --- HTML -------------------------------------------------------------------------------

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2329;margin:0;
 background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px 32px 64px;background:#fff}
h1{font-size:1.7em;margin:.2em 0}h2{margin-top:1.8em;border-bottom:1px solid #dde1e6}
h3{margin-top:1.4em}
pre{background:#f3f4f6;border:1px solid #e2e5e9;border-radius:4px;padding:8px 10px;
 overflow-x:auto;font:12.5px/1.4 ui-monospace,"DejaVu Sans Mono",monospace}
pre.doc{background:#fbfaf4;border-color:#ebe5c8}
.meta{color:#4b5563}
.chip{display:inline-block;border-radius:10px;padding:0 9px;font-size:.82em;font-weight:600;
 vertical-align:middle;margin-left:6px}
.holds,.passed{background:#dcfce7;color:#166534}.fails,.failed{background:#fee2e2;color:#991b1b}
.not-judged,.pending,.skipped,.rkt_ref-only{background:#fef3c7;color:#92400e}
.no-scenarios{background:#eef0f3;color:#4b5563}
.banner{padding:10px 14px;border-radius:6px;margin:12px 0;font-weight:600}
table{border-collapse:collapse;margin:10px 0}td,th{border-bottom:1px solid #e5e7eb;
 padding:4px 10px;text-align:left}
.scenarios{border:1px solid #dde1e6;border-radius:6px;padding:6px 14px;margin:12px 0 20px;
 background:#fafbfc}
.scenario{border-left:5px solid #9ca3af;padding:4px 10px;margin:10px 0;background:#fff}
.scenario.passed{border-color:#16a34a;background:#fff}.scenario.failed{border-color:#dc2626;
 background:#fff}.scenario.pending,.scenario.skipped,.scenario.rkt_ref-only{
 border-color:#d97706;background:#fff}
.sub{color:#6b7280;font-size:.85em}.reason{margin:4px 0}
details summary{cursor:pointer;color:#374151;font-size:.9em}
.continued{border-top:1px dashed #dde1e6;margin-top:1.2em}
"""


def _cls(text: str) -> str:
    return text.replace(" ", "-")


def _html_block(block: Block) -> str:
    if block.kind is BlockKind.VERBATIM:
        return f'<pre class="doc">{html.escape(block.text)}</pre>'
    if block.kind is BlockKind.LIST:
        items = "".join(f"<li>{html.escape(line.strip().split('. ', 1)[-1])}</li>"
                        for line in block.lines)
        return f"<ol>{items}</ol>"
    return f"<p>{html.escape(block.text)}</p>"


def _html_scenario(s: Scenario) -> str:
    e = html.escape
    out = [f'<div class="scenario {_cls(str(s.verdict))}">',
           # No emoji here: headless browsers often lack an emoji font; the chip's colour tells.
           f'<div><span class="chip {_cls(str(s.verdict))}">'
           f"{e(_verdict_text(s))}</span> <strong>{e(s.name)}</strong></div>",
           f'<div class="sub">{e(s.feature_file or s.feature)} · runtime <code>'
           f"{e(s.runtime or '?')}</code> · backend <code>{e(s.backend or '?')}</code>"
           f" · {s.seconds:.1f} s</div>"]
    if s.verdict is Verdict.FAILED:
        step = s.failed_step
        if step:
            out.append(f'<div class="reason">Failed at: <em>{e(step.keyword)} '
                       f"{e(step.name)}</em></div>")
        out.append(f"<pre>{e(_error_excerpt(s))}</pre>")
        if s.evidence:
            out.append(f'<div class="sub">evidence: {e(s.evidence)}</div>')
    elif s.reason:
        out.append(f'<div class="reason">Reason: {e(s.reason)}</div>')
    for label, text in s.observations:
        opened = " open" if s.verdict is Verdict.FAILED else ""
        out.append(f"<details{opened}><summary>observed: {e(label)}</summary>"
                   f"<pre>{e(text)}</pre></details>")
    out.append("</div>")
    return "\n".join(out)


def html_page(run: Run, document: Iterable[Section] | None = None) -> str:
    e = html.escape
    ps = parts(run, document)
    ok = run.ok
    banner = ("Every selected scenario holds for this runtime." if ok else
              "Not every selected scenario holds: see the sections marked below.")
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{e(TITLE)} — living document</title><style>{_CSS}</style></head>",
           "<body><main>",
           f"<h1>{e(TITLE)} <span class='sub'>— the living document</span></h1>",
           f'<p class="meta">Runtime <code>{e(run.runtime)}</code> · backend '
           f"<code>{e(run.backend)}</code> · {e(_generated())} · {e(run.summary())}</p>",
           f'<div class="banner {"holds" if ok else "fails"}">{e(banner)}</div>',
           "<table><tr><th>Section</th><th>Standing</th><th>Scenarios</th></tr>"]
    for p in ps:
        if p.scenarios:
            counts = " ".join(f'<span class="chip {_cls(str(v))}">{n} {e(str(v))}</span>'
                              for v, n in Run(p.scenarios).counts().items())
            out.append(f'<tr><td><a href="#{p.anchor}">{e(p.title)}</a></td>'
                       f'<td><span class="chip {_cls(p.standing)}">{e(p.standing)}</span></td>'
                       f"<td>{counts}</td></tr>")
    out.append("</table>")
    for p in ps:
        chip = (f'<span class="chip {_cls(p.standing)}">{e(p.standing)}</span>'
                if p.scenarios else "")
        if p.section is None or p.section.spec.heading:
            level = min(p.level, 4)
            out.append(f'<h{level} id="{p.anchor}">{e(p.title)}{chip}</h{level}>')
        else:
            out.append(f'<div class="continued" id="{p.anchor}"></div>')
        if p.section is not None:
            out += [_html_block(b) for b in p.section.blocks]
        if p.scenarios:
            out.append(f'<div class="scenarios"><div><strong>Scenarios</strong>{chip}</div>')
            out += [_html_scenario(s) for s in p.scenarios]
            out.append("</div>")
    out += ['<hr><p class="sub">The document\'s text is rkt\'s <em>Using rkt with systemd</em> '
            "(Copyright The rkt Authors, Apache License 2.0).</p>", "</main></body></html>"]
    return "\n".join(out) + "\n"


def write(run: Run, directory: Path) -> tuple[Path, Path]:
    """Write spec.md and spec.html into directory; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    md, page = directory / MD_NAME, directory / HTML_NAME
    md.write_text(markdown(run))
    page.write_text(html_page(run))
    return md, page
