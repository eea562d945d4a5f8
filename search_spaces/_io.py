"""Loading a search space from a YAML or JSON file (used by the CLI)."""

from __future__ import annotations

import json
from pathlib import Path

from hpo.errors import SearchSpaceError
from hpo.search_spaces._space import SearchSpace

__all__ = ["load_space"]


def load_space(path: str | Path) -> SearchSpace:
    """Read a space written as ``{name: {"type": "float", "low": ..., "high": ..., "log": true}}``.

    ``.json`` files are read as JSON, ``.yaml``/``.yml`` (and anything else) as YAML.
    Types: ``float``, ``int`` (``low``, ``high``, ``log``, ``step``), ``categorical``
    (``choices``), ``fixed`` (``value``) and ``choice`` (``options``: option name to sub-space).

    Raises:
        SearchSpaceError: naming the file if it is missing or unparsable, or the parameter
            if the space is invalid.
    """
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise SearchSpaceError(None, f"cannot read space file {str(p)!r}: {exc.strerror}") from None
    if p.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SearchSpaceError(None, f"{str(p)!r} is not valid JSON: {exc}") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SearchSpaceError(None, f"{str(p)!r} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SearchSpaceError(None, f"{str(p)!r} must hold a mapping of parameter name to spec")
    return SearchSpace(data)
