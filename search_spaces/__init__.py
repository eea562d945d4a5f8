"""Search spaces: parameter types, conditional sub-spaces, unit-cube encoding.

Installed as ``hpo.search_spaces``; always import it under that name.
"""

from hpo.errors import ConfigError, SearchSpaceError
from hpo.search_spaces._io import load_space
from hpo.search_spaces._params import Categorical, Choice, Fixed, Float, Int, Param
from hpo.search_spaces._space import INACTIVE_VALUE, Dim, SearchSpace

__all__ = [
    "Param",
    "Float",
    "Int",
    "Categorical",
    "Fixed",
    "Choice",
    "SearchSpace",
    "Dim",
    "INACTIVE_VALUE",
    "load_space",
    "SearchSpaceError",
    "ConfigError",
]
