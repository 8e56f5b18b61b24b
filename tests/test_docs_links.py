"""The README and docs/*.md link to files and headings that exist, and the README stays short.

No database, no Redis: plain file reads. Relative links `[text](path)`, `[text](path#anchor)`
and `[text](#anchor)` (images and `<img src>`/`<a href>` too) must lead to a file relative to
the linking file and, with an anchor into a Markdown file, to one of its headings, slugged as
GitHub does: lowercase, punctuation other than '-' dropped, spaces to '-', and -1, -2, ...
after repeated headings."""

import re
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 200

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target) or ![alt](target), with an optional "title"; the text may hold one level of [...].
MARKDOWN_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"<(?:img|a)\b[^>]*?\b(?:src|href)=\"([^\"]*)\"", re.IGNORECASE)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, ...


def markdown_files():
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def outside_fences(text):
    """The lines outside fenced code blocks."""
    in_fence = None
    for line in text.splitlines():
        fence = FENCE.match(line)
        if fence:
            if in_fence is None:
                in_fence = fence.group(1)
            elif fence.group(1) == in_fence:
                in_fence = None
            continue
        if in_fence is None:
            yield line


def prose_lines(text):
    """The lines outside fenced code blocks, with inline code spans blanked out."""
    for line in outside_fences(text):
        yield INLINE_CODE.sub(lambda m: " " * len(m.group()), line)


def slug(heading):
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path, cache={}):
    if path not in cache:
        seen, found = {}, set()
        for line in outside_fences(path.read_text(encoding="utf-8")):
            match = HEADING.match(line)
            if match:
                base = slug(match.group(2))
                count = seen.get(base, 0)
                seen[base] = count + 1
                found.add(base if count == 0 else f"{base}-{count}")
        cache[path] = found
    return cache[path]


def links(path):
    for number, line in enumerate(prose_lines(path.read_text(encoding="utf-8")), 1):
        for pattern in (MARKDOWN_LINK, HTML_LINK):
            for match in pattern.finditer(line):
                yield number, match.group(1)


def broken_links(path):
    problems = []
    for number, target in links(path):
        if not target or EXTERNAL.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / unquote(file_part)).resolve() if file_part else path
        where = f"{path.relative_to(ROOT)}: {target}"
        if not destination.exists():
            problems.append(f"{where}: no such file {destination}")
        elif anchor and destination.suffix == ".md" and unquote(anchor).lower() not in anchors(destination):
            problems.append(f"{where}: no heading with anchor #{anchor} in {destination.relative_to(ROOT)}")
    return problems


def test_slug_follows_github():
    assert slug("Retrying safely: `Idempotency-Key`") == "retrying-safely-idempotency-key"
    assert slug("Compared with Cal.com") == "compared-with-calcom"
    assert slug("The booking write's database functions") == "the-booking-writes-database-functions"
    assert slug("Booking links (public routes)") == "booking-links-public-routes"


def test_every_relative_link_resolves():
    files = markdown_files()
    assert len(files) > 1, "docs/*.md not found"
    problems = [problem for path in files for problem in broken_links(path)]
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_links_are_found():
    """The checker sees links at all: the README links to each doc it maps."""
    targets = {target.partition("#")[0] for _, target in links(ROOT / "README.md")}
    for doc in (ROOT / "docs").glob("*.md"):
        assert f"docs/{doc.name}" in targets, f"README.md does not link to docs/{doc.name}"


def test_readme_is_a_front_door():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines, at most {README_MAX_LINES}"
