"""The documentation stays true to the repository and to the code.

- No link in README.md, docs/*.md, CHANGELOG.md, examples/README.md or the generated READMEs
  (BUILD/hls/README.md, BUILD/fsic/README.md, BUILD/pynq/README.md, from a random network) leaves the repository, and no
  text names the design files that live outside it.
- The register tables of docs/registers.md are what the code renders.
- docs/cli.md documents every command `unetaccel --help` lists, and every option of each.
- Each figure of the README's Measured section appears there only.
"""
import re
from pathlib import Path

import pytest

from unetaccel.codegen import generate, regmap
from unetaccel.ir import randnet

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "examples" / "README.md", *DOCS]
GENERATED_READMES = ("hls/README.md", "fsic/README.md", "pynq/README.md")
#: Names that point outside a user's clone: the design notes this project was started from.
FORBIDDEN = ("../shared", "DESIGN.md", "TOOLCHAIN.md")


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    """BUILD (hls, rtl, fsic) generated from a tiny random network."""
    out = tmp_path_factory.mktemp("docs") / "BUILD"
    generate(randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=1), out)
    return out


def _prose(text: str) -> str:
    """Markdown without its code: fenced blocks, indented blocks and code spans (links there are text)."""
    text = re.sub(r"^```.*?^```[^\n]*$", "", text, flags=re.M | re.S)
    text = re.sub(r"^(?: {4}|\t).*$", "", text, flags=re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def links(text: str) -> list[str]:
    """The targets of inline links and images `[x](target "title")`, reference definitions
    `[x]: target`, autolinks `<scheme:...>` and HTML href/src attributes, outside code."""
    prose = _prose(text)
    out = re.findall(r"\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'(][^)]*)?\)", prose)
    out += re.findall(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", prose, flags=re.M)
    out += re.findall(r"<([a-zA-Z][a-zA-Z0-9+.-]*:[^>\s]+)>", prose)
    out += re.findall(r"(?:href|src)\s*=\s*[\"']([^\"']+)[\"']", prose)
    return out


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    h = re.sub(r"`", "", heading.strip().lower())
    return re.sub(r"\s", "-", re.sub(r"[^\w\- ]", "", h))


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", _fence_free(text), flags=re.M):
        s = slug(m.group(1))
        n = seen.get(s, 0)
        seen[s] = n + 1
        out.add(s if n == 0 else f"{s}-{n}")
    return out


def _fence_free(text: str) -> str:
    return re.sub(r"^```.*?^```[^\n]*$", "", text, flags=re.M | re.S)


def bad_links(page: Path, root: Path) -> list[str]:
    """Each link of `page` that leaves `root`: a relative path that resolves outside it or to
    nothing, an absolute path, a file: or other non-web scheme, or an anchor no heading has.
    A web address (https://...) is not a file of the repository and is allowed."""
    text = page.read_text()
    bad = []
    for target in links(text):
        if re.match(r"https?://", target) or target.startswith("mailto:"):
            continue
        if re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("/"):
            bad.append(f"{target}: not a path inside the repository")
            continue
        path, _, frag = target.partition("#")
        dest = (page.parent / path).resolve() if path else page.resolve()
        if not dest.is_relative_to(root.resolve()):
            bad.append(f"{target}: leaves {root.name}")
        elif not dest.exists():
            bad.append(f"{target}: no such file")
        elif frag and dest.suffix == ".md" and frag not in anchors(dest.read_text()):
            bad.append(f"{target}: {dest.name} has no heading with the anchor #{frag}")
    return bad


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_stay_in_the_repository(page):
    assert page.is_file(), page
    assert bad_links(page, ROOT) == [], page


@pytest.mark.parametrize("readme", GENERATED_READMES)
def test_generated_readme_links_stay_in_the_build_folder(build, readme):
    """A generated README goes wherever BUILD goes: its links may reach only BUILD's own files."""
    assert bad_links(build / readme, build) == []


def test_no_text_points_outside_the_clone(build):
    """The docs, requirements.txt and every generated file (READMEs, sources, scripts) name nothing
    outside a user's clone: the spec they need is in docs/."""
    texts = {str(p.relative_to(ROOT)): p.read_text() for p in [*PAGES, ROOT / "requirements.txt"]}
    texts |= {f"BUILD/{p.relative_to(build)}": p.read_text() for p in build.rglob("*")
              if p.is_file() and p.suffix not in (".mem", ".npz", ".bin")}
    found = [(name, word) for name, text in texts.items() for word in FORBIDDEN if word in text]
    assert found == []


def test_readme_links_every_doc():
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in links((ROOT / "README.md").read_text())}
    assert [p.name for p in DOCS if p.resolve() not in linked] == []


def test_rtl_register_table_is_the_rendering():
    """docs/registers.md holds regmap.markdown() verbatim: change the description, paste the table again."""
    assert regmap.markdown() in (ROOT / "docs" / "registers.md").read_text(), \
        "docs/registers.md's RTL table differs from unetaccel.codegen.regmap.markdown(): paste it again"


def test_hls_register_table_is_the_rendering(build):
    """The HLS core's table, as the generated BUILD/hls/README.md renders it (it depends on no
    network), is in docs/registers.md verbatim."""
    generated = (build / "hls" / "README.md").read_text()
    table = re.search(r"^\| offset \| register \| meaning \|\n(?:\|.*\n)+", generated, flags=re.M).group(0)
    assert "| 0x000 | CTRL (Vitis) |" in table
    assert table in (ROOT / "docs" / "registers.md").read_text(), \
        "docs/registers.md's HLS table differs from the one BUILD/hls/README.md renders: paste it again"


def _cli_sections() -> dict[str, str]:
    """docs/cli.md's sections by heading."""
    parts = re.split(r"^## (.+)$", (ROOT / "docs" / "cli.md").read_text(), flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def _cli():
    import typer.main

    from unetaccel.cli import app
    return typer.main.get_command(app)


def _options(command) -> list[str]:
    return [o for p in command.params if not getattr(p, "hidden", False) for o in p.opts if o != "--help"]


def test_cli_doc_has_every_command_and_option():
    """Each command `unetaccel --help` lists has a section `## unetaccel NAME` in docs/cli.md that
    names each of its options; each global option is in the section "Global options"."""
    from typer.testing import CliRunner

    from unetaccel.cli import app
    group = _cli()
    listed = [name for name in group.list_commands(None) if not group.commands[name].hidden]
    help_text = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"}).output
    assert listed and all(re.search(rf"\b{name}\b", help_text) for name in listed), help_text
    sections = _cli_sections()
    missing = [name for name in listed if f"unetaccel {name}" not in sections]
    assert missing == [], f"docs/cli.md has no section '## unetaccel NAME' for {missing}"
    undocumented = {name: [o for o in _options(group.commands[name]) if not _names(o, sections[f"unetaccel {name}"])]
                    for name in listed}
    assert {k: v for k, v in undocumented.items() if v} == {}
    assert [o for o in _options(group) if not _names(o, sections["Global options"])] == []


def _names(option: str, text: str) -> bool:
    """Whether `text` names the option (--ir, not --ir-file)."""
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


#: A figure: a number written with a thousands separator (486,613; 3,072,708) or with three
#: decimals or more (0.8764, 1.045). Widths lists such as 8,16,32,64,128 are not figures: a group of
#: digits next to another comma or digit does not start or end one.
FIGURE = re.compile(r"(?<![\d,.])(?:\d{1,3}(?:,\d{3})+(?!\d|,\d)|\d+\.\d{3,}(?!\d|\.\d))")


def _measured(readme: str) -> tuple[str, str]:
    """(the Measured section, the README without it)."""
    m = re.search(r"^## Measured\n.*?(?=^## |\Z)", readme, flags=re.M | re.S)
    assert m, "README.md has no '## Measured' section"
    return m.group(0), readme[:m.start()] + readme[m.end():]


def test_measured_figures_appear_once():
    """Every measured figure lives in the README's Measured section, with its command, and nowhere
    else: not elsewhere in the README, nor in docs/, the changelog or examples/README.md (a copy
    goes stale when the figure is measured again). A figure is a number with a thousands
    separator or with at least three decimals (FIGURE): counts of parameters, MACs, cycles, LUTs
    and seconds, accuracies, ratios. Numbers like these that are not measurements (a bank of 1024
    words) are written without the separator outside Measured."""
    measured, rest = _measured((ROOT / "README.md").read_text())
    figures = set(FIGURE.findall(measured))
    assert {"0.8764", "486,613", "791,776"} <= figures  # the rule sees the figures it is for
    others = {"README.md outside Measured": rest}
    others |= {str(p.relative_to(ROOT)): p.read_text() for p in PAGES if p.name != "README.md" or p.parent != ROOT}
    repeated = {name: sorted(figures & set(FIGURE.findall(text))) for name, text in others.items()}
    assert {k: v for k, v in repeated.items() if v} == {}


def test_figure_rule():
    assert FIGURE.findall("486,613 and 3,072,708 cycles, 0.8764, 1.045x") == ["486,613", "3,072,708", "0.8764", "1.045"]
    assert FIGURE.findall("widths 8,16,32,64,128; torch==2.13.0; 104.38 MHz; 1,2.5,1; v0.70.0.0") == []
