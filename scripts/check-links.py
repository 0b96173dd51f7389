#!/usr/bin/env python3
"""Checks the relative links and #anchors in README.md and docs/*.md.

Finds Markdown links, inline `[text](target)` and reference-style `[text][label]` with their
`[label]: target` definitions, outside fenced code blocks and inline code. Links to http(s),
mailto and other schemes are not checked. A relative target must exist, relative to the file
that links to it; an `#anchor` must name a heading of the target file, by GitHub's rules
(lowercased; punctuation dropped but for hyphens and underscores; each space a hyphen; a
repeated slug gets -1, -2 …), or an explicit `<a id="…">` / `<a name="…">`.

Prints every broken link as file:line and exits 1 if there is any. `--self-test` first checks
the checker on a small fixture with one good and one broken link.

Usage: scripts/check-links.py [--self-test] [FILE ...]   (default: README.md docs/*.md)
"""

import re
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
# Link text: anything but brackets (one level of nesting allowed, for images), across line
# breaks but not across a blank line, as a hard-wrapped paragraph may split it.
TEXT = r"(?:[^\[\]\n]|\n(?![ \t]*\n)|\[[^\[\]\n]*\])*"
# [text](target) or [text](target "title").
INLINE_LINK = re.compile(r"\[" + TEXT + r"\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'(][^)]*)?\)")
REFERENCE_USE = re.compile(r"\[(" + TEXT + r")\]\[([^\]\n]*)\]")
REFERENCE_DEF = re.compile(r"^ {0,3}\[([^\]]+)\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
EXPLICIT_ANCHOR = re.compile(r"<a\s+[^>]*?\b(?:id|name)\s*=\s*[\"']([^\"']+)[\"']", re.I)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def prose_lines(text, blank_inline_code=True):
    """Yields (line number, line) outside fenced code blocks, with inline code blanked out
    unless told otherwise (a heading's slug keeps its code's text)."""
    fence = None
    for number, line in enumerate(text.split("\n"), 1):
        match = FENCE.match(line)
        if fence:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
            continue
        if match:
            fence = match.group(1)
            continue
        if blank_inline_code:
            line = INLINE_CODE.sub(lambda m: " " * len(m.group(0)), line)
        yield number, line


def slug(heading):
    """GitHub's heading anchor: the rendered text, lowercased, punctuation dropped."""
    text = re.sub(r"<[^>]+>", "", heading)  # inline HTML
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links: their text
    text = text.replace("`", "")
    text = re.sub(r"(\*\*|__|\*|_(?=\W|$)|(?<=\W)_)", "", text)  # emphasis markers
    text = text.strip().lower()
    text = "".join(ch for ch in text if ch.isalnum() or ch in "-_ ")
    return text.replace(" ", "-")


def anchors(path, cache={}):
    """Every anchor a Markdown file defines."""
    if path not in cache:
        found, seen = set(), {}
        text = path.read_text(encoding="utf-8")
        for _, line in prose_lines(text, blank_inline_code=False):
            found.update(EXPLICIT_ANCHOR.findall(line))
            heading = HEADING.match(line)
            if heading:
                base = slug(heading.group(2))
                count = seen.get(base, 0)
                seen[base] = count + 1
                found.add(base if count == 0 else f"{base}-{count}")
        cache[path] = found
    return cache[path]


def links(path):
    """Yields (line number, target) for each link in a Markdown file."""
    text = path.read_text(encoding="utf-8")
    lines = list(prose_lines(text))
    definitions = {}
    for _, line in lines:
        match = REFERENCE_DEF.match(line)
        if match:
            definitions[re.sub(r"\s+", " ", match.group(1)).strip().lower()] = match.group(2)
    # The prose as one text, code and definitions blanked out, so that a link may span lines;
    # each link is reported at the line it starts on.
    numbered = dict(lines)
    prose = "\n".join(
        "" if REFERENCE_DEF.match(numbered.get(n, "")) else numbered.get(n, "")
        for n in range(1, text.count("\n") + 2)
    )
    line_of = lambda offset: prose.count("\n", 0, offset) + 1
    for number, line in lines:
        match = REFERENCE_DEF.match(line)
        if match:
            yield number, match.group(2)
    for match in INLINE_LINK.finditer(prose):
        yield line_of(match.start()), match.group(1)
    for match in REFERENCE_USE.finditer(prose):
        text_part, label = match.groups()
        key = re.sub(r"\s+", " ", label or text_part).strip().lower()
        if key not in definitions:
            yield line_of(match.start()), f"[{key}] (undefined reference)"


def broken(path):
    """Yields 'file:line: problem' for each broken link of one file."""
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    for number, target in links(path):
        if target.endswith("(undefined reference)"):
            yield f"{shown}:{number}: {target}"
            continue
        if not target or SCHEME.match(target) or target.startswith("//"):
            continue
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / unquote(file_part)).resolve() if file_part else path
        if not destination.exists():
            yield f"{shown}:{number}: {target}: no such file"
            continue
        if anchor and destination.suffix.lower() == ".md":
            if unquote(anchor).lower() not in {a.lower() for a in anchors(destination)}:
                yield f"{shown}:{number}: {target}: no heading or anchor #{anchor}"


def check(paths):
    problems = [problem for path in paths for problem in broken(path)]
    for problem in problems:
        print(problem, file=sys.stderr)
    return problems


def self_test():
    """The checker passes a good link and fails a broken one, with its file and line."""
    with tempfile.TemporaryDirectory() as directory:
        good = Path(directory, "good.md")
        bad = Path(directory, "bad.md")
        good.write_text(
            "# Title\n\n## A heading: with `code`, punctuation!\n\n## Repeat\n\n## Repeat\n\n"
            '<a id="kept"></a>\n\n'
            "[ok](#a-heading-with-code-punctuation) [ok](#repeat-1) [ok](#kept) [ok](bad.md)\n"
            "[ok][ref] `[not a link](missing.md)` [web](https://example.com/x#y)\n\n"
            "```\n[not a link](missing.md)\n```\n\n[ref]: good.md#title\n",
            encoding="utf-8",
        )
        # The broken link is split over two lines, as a hard-wrapped paragraph splits one.
        bad.write_text("# Bad\n\n[fine](good.md#repeat)\n[gone\nnowhere](good.md#nowhere)\n", encoding="utf-8")
        good_problems = list(broken(good))
        bad_problems = list(broken(bad))
        if good_problems or len(bad_problems) != 1 or ":4: good.md#nowhere" not in bad_problems[0]:
            print("check-links self-test FAILED", file=sys.stderr)
            print(f"  good fixture: {good_problems}", file=sys.stderr)
            print(f"  bad fixture:  {bad_problems}", file=sys.stderr)
            return False
    return True


def main(argv):
    args = [arg for arg in argv if arg != "--self-test"]
    if "--self-test" in argv and not self_test():
        return 1
    paths = [Path(arg).resolve() for arg in args] or [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    problems = check(paths)
    if problems:
        print(f"check-links: {len(problems)} broken link(s)", file=sys.stderr)
        return 1
    print(f"check-links: {len(paths)} files, every relative link and anchor resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
