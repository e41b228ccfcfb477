"""The docs stay true: their settings, option, preset and endpoint tables match the code, and they name nothing
outside the repository (no machine, date, issue or path of the machine they were written on)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bgremover.models.catalog import CATALOG, UNSERVED, Licence
from bgremover.processing.options import OPTIONS
from bgremover.processing.presets import PRESETS
from bgremover.settings import Settings, setting_name
from tests.conftest import ROOT

DOCS = ROOT / "docs"
BY_CORES = {"model_threads": "2 (1 on a one-core machine)"}


def cell(value: object) -> str:
    """A default as the tables write it: `value`, or — when there is none."""
    if value is None or value == []:
        return "—"
    if isinstance(value, Path):
        value = str(value)
    elif isinstance(value, bool):
        value = str(value).lower()
    elif isinstance(value, list):
        value = ",".join(value)
    return f"`{value}`"


def settings_table() -> str:
    """The settings table of docs/operations.md, as the Settings class declares it."""
    rows = ["| setting | default | meaning |", "|---|---|---|"]
    for name, info in Settings.model_fields.items():
        default = BY_CORES.get(name) or cell(info.get_default(call_default_factory=True))
        current, _, old = setting_name(name).partition(" (or ")
        label = f"`{current}`" + (f" (old name `{old.rstrip(')')}`)" if old else "")
        rows.append(f"| {label} | {default} | {info.description} |")
    return "\n".join(rows)


def options_table() -> str:
    """The option table of docs/api.md, as processing/options.py declares it."""
    rows = ["| option | accepts | default | meaning |", "|---|---|---|---|"]
    rows += [f"| `{o.name}` | {o.expected} | {cell(o.default)} | {o.doc} |" for o in OPTIONS]
    return "\n".join(rows)


def presets_table() -> str:
    """The preset table of docs/api.md, as processing/presets.py declares it."""
    rows = ["| preset | format | quality | box | for |", "|---|---|---|---|---|"]
    for name, p in PRESETS.items():
        box = f"{p.max_width}×{p.max_height}" if p.max_width else "original size"
        rows.append(f"| `{name}` | {p.format} | {p.quality} | {box} | {p.description} |")
    return "\n".join(rows)


def commercial(licence: Licence) -> str:
    """Whether the licence lets a deployment serve the model commercially, as the catalog knows it."""
    if licence.noncommercial:
        return "no: needs a separate agreement (`ACCEPT_NONCOMMERCIAL_MODELS`)"
    return "unknown" if licence.name == "unknown" else "yes"


def licences_table() -> str:
    """The licence table of docs/models.md, as the model catalog declares it (rembg's unserved sessions too)."""
    rows = ["| model | licence | commercial use | source | served here |", "|---|---|---|---|---|"]
    for name, row in {**CATALOG, **UNSERVED}.items():
        served = f"no: {UNSERVED[name].reason}" if name in UNSERVED else "yes"
        rows.append(f"| `{name}` | {row.licence.name} | {commercial(row.licence)} | {row.licence.source} | {served} |")
    return "\n".join(rows)


def text(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "page,table",
    [
        ("operations.md", settings_table),
        ("api.md", options_table),
        ("api.md", presets_table),
        ("models.md", licences_table),
    ],
    ids=["settings", "options", "presets", "licences"],
)
def test_the_tables_are_the_codes(page, table):
    expected = table()
    assert expected in text(page), f"docs/{page} should hold this table, as the code declares it:\n{expected}"


def test_the_endpoint_table_lists_every_route_and_no_other(app):
    section = text("api.md").split("## Endpoints", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/[^`?\s]*)[^`]*`", section, re.M))
    served = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert documented == served, f"only in the docs: {documented - served}; only in the code: {served - documented}"


def test_the_matting_bounds_are_the_codes():
    """docs/dropins.md states the bounds processing/matting.py declares."""
    from bgremover.processing import matting

    section = " ".join(text("dropins.md").split())
    stated = [
        f"more than {matting.MAX_SOLVE_PIXELS // 1_000_000} MP",
        f"more than {matting.MAX_UNKNOWN_PIXELS:,} unknown pixels",
        f"than {matting.MAX_DEEP_PIXELS:,} that lie over {matting.DEEP} px",
        f"at most {matting.FILL_PER_PIXEL} entries per unknown pixel",
        f"at most {matting.MAX_ITERATIONS} iterations",
    ]
    assert [phrase for phrase in stated if phrase not in section] == []


def test_the_env_sample_calls_ort_threads_the_old_name():
    sample = (ROOT / ".env.sample").read_text()
    assert "ORT_THREADS is its old name" in sample and not re.search(r"^ORT_THREADS=", sample, re.M)


TOP_PAGES = ("README.md", "CONTRIBUTING.md", "SECURITY.md", "CHANGELOG.md")
PAGES = sorted([*(ROOT / name for name in TOP_PAGES), *DOCS.glob("*.md")])
FORBIDDEN = {
    "a path outside the repository": r"\.\./shared|/work/|/home/|/tmp/studio",
    "a machine": r"EPYC|Xeon|Ryzen|\bAMD\b|\bIntel\b|this machine|this (VM|box|CPU)|\d-core",
    "a date (dated figures live in BENCHMARKS.md)": r"\b20\d\d-\d\d-\d\d\b",
    "an issue or a session": r"\bissue\s*#?\d+|\bthe issue\b|\b(this|the|a) session\b|before this change",
}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
@pytest.mark.parametrize("what", FORBIDDEN)
def test_no_page_names(page: Path, what: str):
    found = [
        f"{page.name}:{number}: {line.strip()}"
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(FORBIDDEN[what], line, re.I)
    ]
    assert not found, f"{what}:\n" + "\n".join(found)


def anchors(page: Path) -> set[str]:
    """The anchors GitHub makes of a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_link_between_pages_leads_somewhere():
    missing = []
    for page in PAGES:
        for target, anchor in re.findall(r"\]\(([^)#:\s]*)(?:#([^)]*))?\)", page.read_text(encoding="utf-8")):
            path = (page.parent / target).resolve() if target else page
            if path in LATER:
                continue
            if not path.exists():
                missing.append(f"{page.name} -> {target}")
            elif anchor and path.suffix == ".md" and anchor not in anchors(path):
                missing.append(f"{page.name} -> {target}#{anchor}")
    assert not missing, missing


def test_every_test_and_file_the_pages_name_exists():
    """A page that says `test_x` proves something, or names `bench/x.py` or `python -m bench.x`, names what is there."""
    tests = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("*.py"))
    missing = []
    for page in PAGES:
        body = page.read_text(encoding="utf-8")
        missing += [f"{page.name}: {n}" for n in re.findall(r"`(test_\w+)`", body) if f"def {n}(" not in tests]
        modules = re.findall(r"python -m (bench\.\w+)", body)
        runnable = ("{}.py", "{}/__main__.py")  # a module, or a package with a command line
        missing += [
            f"{page.name}: {m}"
            for m in modules
            if not any((ROOT / form.format(m.replace(".", "/"))).exists() for form in runnable)
        ]
        for path in re.findall(r"`((?:bgremover|bench|tests|deploy|nginx|templates|static)/[\w./-]*\w)`", body):
            if not (ROOT / path).exists() and not (ROOT / "bgremover" / path).exists():
                missing.append(f"{page.name}: {path}")
    assert not missing, missing


# Pages that other work adds; README links them already.
LATER = {DOCS / name for name in ("container.md", "pipeline.md", "soak.md", "editor.md")}
