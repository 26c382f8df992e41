"""Finding, loading and caching definitions: built-in ones and users' files.

Built-in definitions live in ``definitions/`` at the repository root and are
copied into the wheel as ``peerflow/definitions``; a source checkout (editable
install) reads them from the root.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from peerflow._errors import DefinitionError, EventError, Problem, UnknownDefinition
from peerflow.engine._compiled import CompiledDefinition, compile_text
from peerflow.events._envelope import Event


def builtin_dir() -> Path:
    """Where the built-in definition files are, in a wheel or in a checkout."""
    packaged = Path(str(resources.files("peerflow"))) / "definitions"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[3] / "definitions"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError("peerflow's built-in definitions are missing from this install")


@cache
def _builtin_files() -> tuple[tuple[str, Path], ...]:
    return tuple((path.stem, path) for path in sorted(builtin_dir().glob("*.yaml")))


def builtin_files() -> dict[str, Path]:
    """Built-in definition id -> file; the file is named after the id."""
    return dict(_builtin_files())


_builtins: dict[str, CompiledDefinition] = {}


def load_definition(path: str | Path) -> CompiledDefinition:
    """Load, check and compile a definition file (cached by content)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DefinitionError([Problem(str(path), 0, "", f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError:
        raise DefinitionError([Problem(str(path), 0, "", "not UTF-8 text")]) from None
    return compile_text(text, path.name)


def builtin_definition(name: str, version: int | None = None) -> CompiledDefinition:
    """A built-in definition by id only: what a history's start event may name.

    A history is data from elsewhere: the name it gives is never taken for a file to read.
    """
    try:
        return definition(name, version)
    except UnknownDefinition as exc:
        raise UnknownDefinition(
            f"{exc}; give the definition explicitly (--definition FILE)", exc.name, exc.version
        ) from None


def definition(name: str, version: int | None = None) -> CompiledDefinition:
    """A built-in definition by its id (``"prospect-peer-mentoring"``).

    Only ids: a portal passing a user's text here never reads a file. Read your own
    definition files with :func:`load_definition`. ``version`` guards against running a
    programme on a definition it was not started on.
    """
    compiled = _builtins.get(name) if isinstance(name, str) else None
    if compiled is None:
        files = builtin_files()
        if not isinstance(name, str) or name not in files:
            known = ", ".join(files) or "none"
            hint = (
                "; to read a file, use peerflow.load_definition(path)"
                if isinstance(name, str) and ("/" in name or name.endswith((".yaml", ".yml")))
                else ""
            )
            raise UnknownDefinition(
                f"no built-in definition {name!r} (built-in: {known}){hint}", name, version
            )
        compiled = _builtins[name] = load_definition(files[name])
    if version is not None and compiled.version != version:
        raise UnknownDefinition(
            f"definition '{name}' is at version {compiled.version}, not {version}", name, version
        )
    return compiled


def definition_or_file(text: str) -> CompiledDefinition:
    """What a person typed where a definition is asked for: a built-in id, or a file path.

    For the command line, whose user names their own files; never for data from elsewhere.
    """
    if text in builtin_files():
        return definition(text)
    if Path(text).suffix in {".yaml", ".yml"} or Path(text).exists():
        return load_definition(text)
    known = ", ".join(builtin_files()) or "none"
    raise UnknownDefinition(
        f"no built-in definition '{text}' (built-in: {known}) and no such file", text
    )


def definition_of(start: Event) -> CompiledDefinition:
    """The built-in definition a ``start`` event names (id and version)."""
    name = start.payload.get("definition")
    if not isinstance(name, str):
        raise EventError("start payload must name its 'definition'", seq=start.seq)
    version = start.payload.get("version")
    try:
        return builtin_definition(name, version if isinstance(version, int) else None)
    except LookupError as exc:
        raise EventError(str(exc), seq=start.seq) from None


def example_path(definition_id: str) -> Path:
    """The example history that ships with the package for a definition."""
    path = Path(str(resources.files("peerflow"))) / "examples" / f"{definition_id}.jsonl"
    if not path.is_file():
        raise UnknownDefinition(f"no example history ships for '{definition_id}'", definition_id)
    return path
