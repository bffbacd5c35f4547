"""Pages made at build time by mkdocs-gen-files (see ``plugins`` in mkdocs.yml).

1. The API reference, ``api/*.md`` and its navigation ``api/SUMMARY.md`` (read by
   mkdocs-literate-nav): every name of ``bayescale.__all__``, found from the package's
   ``_EXPORTS`` table without importing bayescale, plus the public modules listed in
   ``MODULE_PAGES``. A module of ``_EXPORTS`` that no page claims gets a page of its own,
   so a new public name cannot go undocumented.
2. The figure gallery: every ``docs/gallery/[a-z]*.py`` script runs here, in this
   process, and its PNG replaces the committed one in the built site (the files in
   ``docs/gallery`` are left alone). ``BAYESCALE_GALLERY_DRAWS=N`` keeps N draws per
   chain, for a quicker build; by default all draws are used, as in the gallery's text.
   ``BAYESCALE_DOCS_GALLERY=0`` skips the scripts and shows the committed figures.
"""

from __future__ import annotations

import ast
import os
import runpy
import sys
import tempfile
import time
from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "bayescale"
GALLERY = ROOT / "docs" / "gallery"

# Pages of names exported at the top level, by the module that defines them.
NAME_PAGES = {
    "data": ("Sweeps and datasets", ["bayescale.sweep", "bayescale.datasets"]),
    "fitting": (
        "Fitting",
        ["bayescale.inference", "bayescale.devices", "bayescale.pymc_frontend"],
    ),
    "posterior": (
        "Posteriors and draws",
        ["bayescale.posterior", "bayescale.draws", "bayescale.reference"],
    ),
    "errors": ("Errors and warnings", ["bayescale.errors"]),
}
# Public modules documented whole (their own ``__all__``); a missing module is skipped,
# so that a module still being written does not break the build.
MODULE_PAGES = {
    "laws": ("Laws", "bayescale.laws"),
    "schedules": ("Learning-rate schedules", "bayescale.schedules"),
    "hardware": ("Hardware, time, memory and cost", "bayescale.hardware"),
    "comparisons": ("Comparisons", "bayescale.comparisons"),
    "design": ("Which run next", "bayescale.design"),
    "evaluation": ("Evaluation", "bayescale.evaluation"),
    "plotting": ("Plotting", "bayescale.plotting"),
}


def module_path(module: str) -> Path | None:
    """The source file of ``module`` (a package's ``__init__.py``), or None."""
    rel = Path(*module.split(".")[1:])
    for path in (PACKAGE / rel / "__init__.py", PACKAGE / rel.with_suffix(".py")):
        if path.exists():
            return path
    return None


def assigned(path: Path, name: str):
    """The literal value assigned to ``name`` at the top of ``path``, or None."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return ast.literal_eval(node.value)
    return None


def sources(path: Path, module: str) -> dict[str, str]:
    """Where each name of ``module.__all__`` is defined: the module it is imported from
    in ``path``, else ``module`` itself. Documenting a name at its source keeps a function
    apart from a submodule of the same name (``bayescale.evaluation.backtest``)."""
    found = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update({alias.asname or alias.name: node.module for alias in node.names})
    return {name: found.get(name, module) for name in assigned(path, "__all__") or ()}


def api_pages() -> None:
    exports: dict[str, tuple[str, ...]] = assigned(PACKAGE / "__init__.py", "_EXPORTS")
    documented = {m for _, (_, mods) in NAME_PAGES.items() for m in mods}
    documented |= {m for _, m in MODULE_PAGES.values()}
    pages = {slug: (title, list(mods)) for slug, (title, mods) in NAME_PAGES.items()}
    for module in exports:
        if module not in documented:  # a new public module: a page of its own
            pages[module.rsplit(".", 1)[1]] = (module, [module])

    nav = ["* [Overview](index.md)"]
    index = [
        "# API reference",
        "",
        "Generated from the docstrings. `import bayescale as bs`; every name below is",
        "`bs.<name>` (imported from its module on first use).",
        "",
        "| name | defined in | page |",
        "|---|---|---|",
    ]
    page_of = {}
    for slug, (title, modules) in pages.items():
        lines = [f"# {title}", ""]
        for module in modules:
            for name in exports.get(module, ()):
                lines += [f"::: {module}.{name}", ""]
                page_of[name] = (module, slug)
        with mkdocs_gen_files.open(f"api/{slug}.md", "w") as f:
            f.write("\n".join(lines))
        nav.append(f"* [{title}]({slug}.md)")
    for slug, (title, module) in MODULE_PAGES.items():
        path = module_path(module)
        if path is None:
            continue
        names = sources(path, module)
        lines = [f"# {title}", "", f"::: {module}", ""]
        if names:  # the module's docstring, then each name of its __all__ at its source
            lines[3:3] = ["    options:", "      members: false"]
            lines += [line for name, src in names.items() for line in (f"::: {src}.{name}", "")]
        with mkdocs_gen_files.open(f"api/{slug}.md", "w") as f:
            f.write("\n".join(lines))
        nav.append(f"* [{title}]({slug}.md)")
        for name in exports.get(module, ()):
            page_of[name] = (names.get(name, module), slug)
    missing = sorted(set(assigned(PACKAGE / "__init__.py", "__all__")) - set(page_of))
    if missing:
        raise RuntimeError(f"bayescale.__all__ names with no API page: {missing}")
    for name in sorted(page_of, key=str.lower):
        module, slug = page_of[name]
        index.append(f"| [`{name}`]({slug}.md#{module}.{name}) | `{module}` | {slug} |")
    with mkdocs_gen_files.open("api/index.md", "w") as f:
        f.write("\n".join(index) + "\n")
    with mkdocs_gen_files.open("api/SUMMARY.md", "w") as f:
        f.write("\n".join(nav) + "\n")


def gallery() -> None:
    if os.environ.get("BAYESCALE_DOCS_GALLERY", "1") == "0":
        print("gallery: skipped (BAYESCALE_DOCS_GALLERY=0), committed figures shown")
        return
    import matplotlib.pyplot as plt

    plt.switch_backend("Agg")
    sys.path.insert(0, str(GALLERY))
    argv = sys.argv
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        for script in sorted(GALLERY.glob("[a-z]*.py")):
            tick = time.perf_counter()
            sys.argv = [str(script), "--out", out]
            try:
                runpy.run_path(str(script), run_name="__main__")
            finally:
                sys.argv = argv
                plt.close("all")
            png = Path(out) / f"{script.stem}.png"
            with mkdocs_gen_files.open(f"gallery/{png.name}", "wb") as f:
                f.write(png.read_bytes())
            print(f"gallery: {script.name} in {time.perf_counter() - tick:.1f} s")
    sys.path.remove(str(GALLERY))
    print(f"gallery: all scripts in {time.perf_counter() - start:.1f} s")


api_pages()
gallery()
