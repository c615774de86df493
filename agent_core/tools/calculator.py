"""Safe arithmetic: the expression is parsed with `ast` and walked; nothing is ever evaluated.

Allowed: numbers, + - * / // % **, unary + and -, parentheses, the constants pi and e, and the
functions round, abs, min, max, sqrt, floor and ceil. Commas work as thousands separators
("2,340 * 3") when that reading is unambiguous; inside function calls a comma separates
arguments, and a number that looks thousands-separated there ("max(1,234)") is refused.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable

from agent_core.tools.errors import ToolError

MAX_LENGTH = 500  # characters in an expression
MAX_INT_BITS = 10_000  # about 3,000 decimal digits: below Python's int-to-str limit
MAX_ROUND_DIGITS = 100
_DIGITS = f"about {MAX_INT_BITS * 3 // 10:,}"

_KNOWN = "numbers, + - * / // % **, parentheses, pi, e and round, abs, min, max, sqrt, floor, ceil"
_OPERATORS: dict[type, Callable] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_CONSTANTS = {"pi": math.pi, "e": math.e}
_FUNCTIONS: dict[str, tuple[Callable, int, int]] = {  # name -> (function, min args, max args)
    "round": (round, 1, 2),
    "abs": (abs, 1, 1),
    "min": (min, 2, 100),
    "max": (max, 2, 100),
    "sqrt": (math.sqrt, 1, 1),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
}
_THOUSANDS = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?!\d)(?!,\d)")
_CALL = re.compile(r"[A-Za-z_]\w*\s*\(")
_SUSPECT_COMMA = re.compile(r"\d,\d{3}(?!\d)")


class CalculatorError(ToolError):
    """The expression is not something the calculator can or will compute."""


Number = int | float


def evaluate(expression: str) -> Number:
    """The value of an arithmetic expression; CalculatorError with a fix-naming message if not."""
    if not isinstance(expression, str) or not expression.strip():
        raise CalculatorError("the expression is empty; write arithmetic such as '2 * (3 + 4)'")
    if len(expression) > MAX_LENGTH:
        raise CalculatorError(
            f"the expression is {len(expression)} characters long; the limit is {MAX_LENGTH}"
        )
    text = _strip_thousands(expression.strip())
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        detail = getattr(exc, "msg", None) or type(exc).__name__
        raise CalculatorError(f"cannot read {expression!r} as arithmetic ({detail})") from None
    try:
        value = _eval(tree.body)
    except CalculatorError:
        raise
    except ZeroDivisionError:
        raise CalculatorError(f"{expression!r} divides by zero") from None
    except (OverflowError, MemoryError, RecursionError):
        raise CalculatorError(f"{expression!r} is too large to compute") from None
    except (ValueError, TypeError) as exc:
        raise CalculatorError(f"cannot compute {expression!r}: {exc}") from None
    return _check_result(value)


def format_number(value: Number) -> str:
    """A result as text: integers exactly, floats to 12 significant digits."""
    if isinstance(value, int):
        return str(value)
    return f"{value:.12g}"


def _strip_thousands(text: str) -> str:
    """Remove commas that can only be thousands separators; refuse the ambiguous ones."""
    if _CALL.search(text):
        if _SUSPECT_COMMA.search(text):
            raise CalculatorError(
                f"{text!r} is ambiguous: inside a function call a comma separates arguments; "
                "write numbers without thousands separators (2340, not 2,340) and arguments "
                "with a space after the comma (max(1, 234))"
            )
        return text
    return _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)


def _eval(node: ast.AST) -> Number:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return node.value
        raise CalculatorError(f"only numbers are allowed, not {node.value!r}; use {_KNOWN}")
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        return _check_result(_OPERATORS[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise CalculatorError(f"unknown name {node.id!r}; the calculator knows {_KNOWN}")
    if isinstance(node, ast.Call):
        return _call(node)
    raise CalculatorError(_refusal(node))


def _call(node: ast.Call) -> Number:
    if not isinstance(node.func, ast.Name):
        raise CalculatorError(_refusal(node.func))
    if node.func.id not in _FUNCTIONS:
        raise CalculatorError(f"unknown function {node.func.id!r}; the calculator knows {_KNOWN}")
    name = node.func.id
    fn, least, most = _FUNCTIONS[name]
    if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
        raise CalculatorError(f"{name}() takes plain numbers as arguments")
    if not least <= len(node.args) <= most:
        count = "1 argument" if most == 1 else f"{least} to {most} arguments"
        raise CalculatorError(f"{name}() takes {count}, got {len(node.args)}")
    args = [_eval(a) for a in node.args]
    if name == "round" and len(args) == 2:
        if not isinstance(args[1], int) or abs(args[1]) > MAX_ROUND_DIGITS:
            limit = MAX_ROUND_DIGITS
            raise CalculatorError(f"round()'s digits must be a whole number, at most {limit}")
    if name == "sqrt" and args[0] < 0:
        raise CalculatorError("sqrt() of a negative number is not a real number")
    return _check_result(fn(*args))


def _check_power(base: Number, exponent: Number) -> None:
    """Refuse integer powers whose result would be too large, before computing them."""
    if isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1 and exponent > 0:
        bits = exponent * (abs(base).bit_length() - 1)
        if exponent > MAX_INT_BITS or bits > MAX_INT_BITS:
            raise CalculatorError(
                f"{base} ** {exponent} is too large; results are limited to {_DIGITS} digits"
            )


def _check_result(value: object) -> Number:
    if isinstance(value, complex):
        raise CalculatorError("the result is a complex number; the calculator works with reals")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise CalculatorError(f"the result is too large; results are limited to {_DIGITS} digits")
    if isinstance(value, float) and not math.isfinite(value):
        raise CalculatorError("the result is not a finite number (too large or undefined)")
    if not isinstance(value, int | float):
        raise CalculatorError(f"the result is not a number ({type(value).__name__})")
    return value


def _refusal(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"attribute access ('.{node.attr}') is not allowed; use {_KNOWN}"
    if isinstance(node, ast.Tuple):
        return (
            "commas are accepted only as thousands separators (like 2,340); "
            "write one expression, e.g. '2340 * 3'"
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitXor):
        return "'^' is not supported; use ** for powers (2 ** 10)"
    return f"{type(node).__name__} is not allowed; the calculator knows {_KNOWN}"
