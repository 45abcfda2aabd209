"""Languages: a file's from its name or extension (never its contents), and a tree's, with
each one's share of the code."""

from __future__ import annotations

from collections.abc import Mapping

from core.bootstrap.discovery.result import Language

_LANGUAGES: dict[str, tuple[str, ...]] = {
    "Python": (".py", ".pyi", ".pyw"),
    "JavaScript": (".js", ".mjs", ".cjs", ".jsx"),
    "TypeScript": (".ts", ".tsx", ".mts", ".cts"),
    "Go": (".go",), "Rust": (".rs",), "Java": (".java",), "Kotlin": (".kt", ".kts"),
    "Scala": (".scala", ".sc"), "Groovy": (".groovy", ".gradle"), "C": (".c", ".h"),
    "C++": (".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx"), "C#": (".cs",), "F#": (".fs",),
    "Ruby": (".rb", ".rake"), "PHP": (".php",), "Swift": (".swift",), "Objective-C": (".m", ".mm"),
    "Shell": (".sh", ".bash", ".zsh"), "PowerShell": (".ps1", ".psm1"), "Batchfile": (".bat",),
    "Perl": (".pl", ".pm"), "Lua": (".lua",), "R": (".r",), "Julia": (".jl",),
    "Haskell": (".hs",), "Elixir": (".ex", ".exs"), "Erlang": (".erl",), "Clojure": (".clj",),
    "Dart": (".dart",), "Zig": (".zig",), "OCaml": (".ml", ".mli"), "Nix": (".nix",),
    "Solidity": (".sol",), "CUDA": (".cu",), "Assembly": (".asm", ".s"), "Fortran": (".f90",),
    "Starlark": (".bzl",), "CMake": (".cmake",), "Makefile": (".mk",),
    "Vue": (".vue",), "Svelte": (".svelte",), "HTML": (".html", ".htm"), "CSS": (".css",),
    "SCSS": (".scss",), "Sass": (".sass",), "Less": (".less",), "SQL": (".sql",),
    "HCL": (".tf", ".tfvars", ".hcl"), "Jinja": (".j2", ".jinja", ".jinja2"),
    "Protocol Buffers": (".proto",), "GraphQL": (".graphql", ".gql"),
    "Markdown": (".md", ".markdown"), "MDX": (".mdx",), "reStructuredText": (".rst",),
    "AsciiDoc": (".adoc", ".asciidoc"), "TeX": (".tex",),
    "YAML": (".yml", ".yaml"), "TOML": (".toml",), "INI": (".ini", ".cfg"),
    "JSON": (".json", ".jsonc", ".json5"), "XML": (".xml",), "CSV": (".csv", ".tsv"),
    "SVG": (".svg",), "Jupyter Notebook": (".ipynb",),
}  # fmt: skip
_LANGUAGE_BY_EXT = {ext: name for name, exts in _LANGUAGES.items() for ext in exts}
_LANGUAGE_BY_NAME = {
    "Dockerfile": "Dockerfile", "Containerfile": "Dockerfile", "Makefile": "Makefile",
    "GNUmakefile": "Makefile", "makefile": "Makefile", "Jenkinsfile": "Groovy",
    "CMakeLists.txt": "CMake", "Rakefile": "Ruby", "Gemfile": "Ruby",
}  # fmt: skip
# Data formats are listed but take no share: a lock file or a fixture is not the project's code.
DATA_LANGUAGES = frozenset({"JSON", "XML", "CSV", "SVG", "Jupyter Notebook"})


def language_of(path: str) -> str | None:
    """The language of a file, from its name or extension; None when unknown (or binary)."""
    name = path.rpartition("/")[2]
    known = _LANGUAGE_BY_NAME.get(name)
    if known is None and name.startswith("Dockerfile."):
        known = "Dockerfile"
    if known is None:
        stem, dot, ext = name.rpartition(".")
        known = _LANGUAGE_BY_EXT.get(f".{ext.lower()}") if dot and stem else None
    return known


def languages(files: Mapping[str, int]) -> list[Language]:
    """Files and bytes per language, with each one's share of the non-data bytes, largest
    first; files of no known language (binaries, unknown extensions) are left out."""
    totals: dict[str, list[int]] = {}
    for path, size in files.items():
        name = language_of(path)
        if name is not None:
            counts = totals.setdefault(name, [0, 0])
            counts[0] += 1
            counts[1] += size
    code = sum(size for name, (_, size) in totals.items() if name not in DATA_LANGUAGES)
    found = [
        Language(name, count, size, _share(size, code) if name not in DATA_LANGUAGES else None)
        for name, (count, size) in totals.items()
    ]
    return sorted(found, key=lambda lang: (lang.share is None, -lang.bytes, lang.name))


def _share(size: int, total: int) -> float:
    return round(size / total, 4) if total else 0.0
