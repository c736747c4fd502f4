"""MkDocs hooks for gankit's site (named in mkdocs.yml; not a page of the site).

- README.md, BENCHMARKS.md and ARCHITECTURE.md, which live at the top of the repository,
  become the pages index.md, benchmarks.md and architecture.md of the site.
- Links are written so that they work when the Markdown is read on a forge: README.md
  links to ``docs/evaluation.md``, a page in docs/ links to ``../BENCHMARKS.md``. Each is
  rewritten to the page of the site it names.
- The configuration page gets its list of every key from the schema at build time
  (``gankit.config.key_docs()``, what ``gankit config --keys`` prints), so it cannot
  drift from the code.

``python docs/hooks.py`` prints that generated list.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# top-level Markdown files of the repository -> their page in the site
ROOT_PAGES = {"README.md": "index.md", "BENCHMARKS.md": "benchmarks.md", "ARCHITECTURE.md": "architecture.md"}
CONFIG_PAGE = "configuration.md"
CONFIG_MARKER = re.compile(r"<!-- config-keys:[^>]*-->")
# a Markdown link or image target: ](path) or ](path#anchor), relative, naming a file
LINK = re.compile(r"\]\((?![a-z][a-z0-9+.-]*:|#|/)([^)\s#]+)(#[^)\s]*)?\)")


def config_reference() -> str:
    """Every config key of the schema as Markdown: a table per section."""
    if str(ROOT / "src") not in sys.path:
        sys.path.insert(0, str(ROOT / "src"))  # this checkout's schema, installed or not
    from gankit.config import key_docs

    sections: dict[str, list[str]] = {}
    for key, (default, doc, choices) in key_docs().items():
        section = key.rpartition(".")[0] or "top level"
        values = ", ".join(f"`{choice}`" for choice in choices)
        cells = [f"`{key}`", f"`{_toml(default)}`", values, doc]
        sections.setdefault(section, []).append("| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |")
    parts = []
    for section, rows in sections.items():
        parts.append(f"### {section}\n\n| key | default | values | meaning |\n|---|---|---|---|\n" + "\n".join(rows))
    return "\n\n".join(parts) + "\n"


def _toml(value: object) -> str:
    """A default as it is written in a config.toml."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    import tomli_w

    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()


def on_files(files, config):
    from mkdocs.structure.files import File

    for source, page in ROOT_PAGES.items():
        files.append(File.generated(config, page, abs_src_path=str(ROOT / source)))
    return files


def on_page_markdown(markdown, page, config, files):
    src_uri = page.file.src_uri
    source_dir = ROOT if src_uri in ROOT_PAGES.values() else (DOCS / src_uri).parent
    page_dir = (DOCS / src_uri).parent

    def site_link(match: re.Match) -> str:
        target, anchor = match.group(1), match.group(2) or ""
        path = Path(os.path.normpath(source_dir / target))
        if path.name in ROOT_PAGES and path.parent == ROOT:
            path = DOCS / ROOT_PAGES[path.name]
        elif not path.is_relative_to(DOCS):
            return match.group(0)  # outside the site: left for mkdocs --strict to report
        return f"]({Path(os.path.relpath(path, page_dir)).as_posix()}{anchor})"

    markdown = LINK.sub(site_link, markdown)
    if src_uri == CONFIG_PAGE:
        markdown, found = CONFIG_MARKER.subn(lambda _: config_reference(), markdown)
        if not found:
            raise ValueError(f"{CONFIG_PAGE} lost its marker for the generated key list")
    return markdown


if __name__ == "__main__":
    print(config_reference(), end="")
