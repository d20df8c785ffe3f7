"""The expression language of rulesets: parsing, static checks and evaluation.

Rule authors write small expressions in YAML strings::

    person.found and person.status == 'normal'
    count(h in houses where h.usage == 'residential')
    round(form.price_yuan * rate.tax_rate, 2)

Values are Decimal (every number), str, bool, date, None (a declared "none"), lists and records.
A value that is not known (a field absent, a record not found, unreadable data) is ``MISSING``;
it propagates through every operation, so a condition that needs it is *unknown*, never true.

The phases live in their own modules: `syntax` (values and tree nodes), `parser` (lexer and
parser), `analysis` (the facts an expression reads, negation, suggestions), `values` (equality,
order, truth, paths), `functions` (the built-ins), `interpreter` (the tree-walking definition) and
`compiler` (the closures `evaluate` runs). The names below are the language's public interface.
"""

from engine.expr.analysis import free_paths, negate, suggest, unparse, walk
from engine.expr.compiler import _COMPILED, _COMPILED_IN, Compiled, evaluate, evaluate_in
from engine.expr.functions import COMPREHENSIONS, FUNCTION_ARITY, FUNCTIONS, add_months, age_on
from engine.expr.interpreter import interpret
from engine.expr.parser import Token, parse, tokenize
from engine.expr.syntax import (
    COMPARISONS,
    MISSING,
    Binary,
    Call,
    Comprehension,
    Env,
    ListExpr,
    Literal,
    Node,
    Path,
    Unary,
)
from engine.expr.values import compare, resolve

__all__ = [
    "COMPARISONS",
    "COMPREHENSIONS",
    "FUNCTIONS",
    "FUNCTION_ARITY",
    "MISSING",
    "_COMPILED",
    "_COMPILED_IN",
    "Binary",
    "Call",
    "Compiled",
    "Comprehension",
    "Env",
    "ListExpr",
    "Literal",
    "Node",
    "Path",
    "Token",
    "Unary",
    "add_months",
    "age_on",
    "compare",
    "evaluate",
    "evaluate_in",
    "free_paths",
    "interpret",
    "negate",
    "parse",
    "resolve",
    "suggest",
    "tokenize",
    "unparse",
    "walk",
]
