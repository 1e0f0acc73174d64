"""Split a document into overlapping chunks that respect its structure.

Markdown is cut at headings first (a chunk never spans two sections, and carries its heading
path, e.g. "Setup > Database", so a chunk reads on its own), then at blank lines, then at sentence
ends, and only as a last resort inside a sentence at a space. Fenced code blocks are never cut at a
`#` line. Consecutive chunks of a section share about `overlap` characters, starting at a word.
Offsets refer to the original text, so a hit can be shown in place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Chunk:
    position: int
    heading: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class _Section:
    heading: str
    start: int
    end: int


def _sections(text: str, markdown: bool) -> list[_Section]:
    if not markdown:
        return [_Section("", 0, len(text))]
    sections: list[_Section] = []
    path: list[tuple[int, str]] = []
    start, offset, in_fence = 0, 0, False
    heading = ""
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line.rstrip("\n"))
        if match:
            sections.append(_Section(heading, start, offset))
            level = len(match.group(1))
            path = [(lvl, title) for lvl, title in path if lvl < level] + [(level, match.group(2))]
            heading = " > ".join(title for _, title in path)
            start = offset
        offset += len(line)
    sections.append(_Section(heading, start, len(text)))
    return [s for s in sections if text[s.start : s.end].strip()]


def _pieces(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """Spans no longer than `size`: paragraphs, else sentences, else space-separated slices."""
    spans, cursor = [], start
    for match in _PARAGRAPH_BREAK.finditer(text, start, end):
        spans.append((cursor, match.start()))
        cursor = match.end()
    spans.append((cursor, end))
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if not text[a:b].strip():
            continue
        if b - a <= size:
            out.append((a, b))
            continue
        sentences, cur = [], a
        for match in _SENTENCE_END.finditer(text, a, b):
            sentences.append((cur, match.start()))
            cur = match.end()
        sentences.append((cur, b))
        for sa, sb in sentences:
            while sb - sa > size:
                cut = text.rfind(" ", sa + size // 2, sa + size)
                cut = cut if cut > sa else sa + size
                out.append((sa, cut))
                sa = cut + (text[cut : cut + 1] == " ")
            if sb > sa:
                out.append((sa, sb))
    return out


def _overlap_start(text: str, prev_end: int, floor: int, overlap: int) -> int:
    """Where the next chunk starts so it repeats about `overlap` characters, at a word start."""
    if overlap <= 0:
        return prev_end
    begin = max(floor, prev_end - overlap)
    space = text.find(" ", begin, prev_end)
    return space + 1 if space != -1 and space + 1 < prev_end else begin


def chunk(text: str, *, markdown: bool = True, size: int = 1200, overlap: int = 200) -> list[Chunk]:
    chunks: list[Chunk] = []
    for section in _sections(text, markdown):
        pieces = _pieces(text, section.start, section.end, max(size - overlap, size // 2))
        group_start: int | None = None
        group_end = 0
        for a, b in pieces:
            if group_start is not None and b - group_start > size:
                chunks.append(_make(text, len(chunks), section.heading, group_start, group_end))
                group_start = _overlap_start(text, group_end, section.start, overlap)
                if b - group_start > size:
                    group_start = a
            if group_start is None:
                group_start = a
            group_end = b
        if group_start is not None:
            chunks.append(_make(text, len(chunks), section.heading, group_start, group_end))
    return chunks


def _make(text: str, position: int, heading: str, start: int, end: int) -> Chunk:
    body = text[start:end]
    lead = len(body) - len(body.lstrip())
    trail = len(body) - len(body.rstrip())
    return Chunk(position, heading, body.strip(), start + lead, end - trail)
