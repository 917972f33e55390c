"""``safe_calc``: exact arithmetic over a parsed expression, within fixed size limits."""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from types import MappingProxyType

from pytest_llmserver.toolbench.tools.base import CalcError

_CALC_MAX_LEN = 200
_CALC_MAX_NODES = 100
_CALC_MAX_DEPTH = 30
_CALC_LIMIT = 10**15
_CALC_MAX_EXP = 100
_CALC_CONSTS: Mapping[str, float] = MappingProxyType({"pi": math.pi, "e": math.e})
_CALC_FUNCS: tuple[str, ...] = ("sqrt", "abs", "round", "min", "max", "floor", "ceil")


def _calc_check(value: int | float) -> int | float:
    too_big = CalcError(f"number too large (limit {_CALC_LIMIT:.0e})")
    if isinstance(value, int):
        if abs(value) > _CALC_LIMIT:
            raise too_big
    elif not math.isfinite(value) or abs(value) > _CALC_LIMIT:
        raise too_big
    return value


def _calc_power(base: int | float, exp: int | float) -> int | float:
    if abs(exp) > _CALC_MAX_EXP:
        raise CalcError(f"exponent too large (limit {_CALC_MAX_EXP})")
    if base == 0:
        if exp < 0:
            raise CalcError("division by zero")
        return 0 if exp > 0 else 1
    if base < 0 and not float(exp).is_integer():
        raise CalcError("fractional power of a negative number")
    if exp * math.log10(abs(base)) > 15.0 + 1e-9:
        raise CalcError(f"number too large (limit {_CALC_LIMIT:.0e})")
    result: int | float = base**exp
    return result


def _calc_binop(op: ast.operator, a: int | float, b: int | float) -> int | float:
    if isinstance(op, ast.Add):
        return a + b
    if isinstance(op, ast.Sub):
        return a - b
    if isinstance(op, ast.Mult):
        return a * b
    if isinstance(op, ast.Pow):
        return _calc_power(a, b)
    if isinstance(op, (ast.Div, ast.FloorDiv, ast.Mod)) and b == 0:
        raise CalcError("division by zero")
    if isinstance(op, ast.Div):
        if isinstance(a, int) and isinstance(b, int) and a % b == 0:
            return a // b
        return a / b
    if isinstance(op, ast.FloorDiv):
        return a // b
    if isinstance(op, ast.Mod):
        return a % b
    raise CalcError(f"operator {type(op).__name__} is not allowed")


def _calc_call(name: str, args: list[int | float]) -> int | float:
    if name in ("sqrt", "abs", "floor", "ceil") and len(args) != 1:
        raise CalcError(f"{name}() takes exactly 1 argument")
    if name == "sqrt":
        if args[0] < 0:
            raise CalcError("sqrt() of a negative number")
        return math.sqrt(args[0])
    if name == "abs":
        return abs(args[0])
    if name == "floor":
        return math.floor(args[0])
    if name == "ceil":
        return math.ceil(args[0])
    if name == "round":
        if len(args) == 1:
            return round(args[0])
        if len(args) == 2 and isinstance(args[1], int) and 0 <= args[1] <= 12:
            return round(args[0], args[1])
        raise CalcError("round() takes a number and optionally 0-12 decimal places")
    if not 1 <= len(args) <= 20:
        raise CalcError(f"{name}() takes 1 to 20 arguments")
    return min(args) if name == "min" else max(args)


def _calc_eval(node: ast.expr, depth: int) -> int | float:
    if depth > _CALC_MAX_DEPTH:
        raise CalcError("expression is nested too deeply")
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CalcError(f"{type(value).__name__} values are not allowed")
        return _calc_check(value)
    if isinstance(node, ast.Name):
        if node.id in _CALC_CONSTS:
            return _CALC_CONSTS[node.id]
        raise CalcError(f"name '{node.id}' is not allowed")
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.UAdd, ast.USub)):
            raise CalcError(f"operator {type(node.op).__name__} is not allowed")
        operand = _calc_eval(node.operand, depth + 1)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        left = _calc_eval(node.left, depth + 1)
        right = _calc_eval(node.right, depth + 1)
        return _calc_check(_calc_binop(node.op, left, right))
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _CALC_FUNCS:
            raise CalcError(
                f"calling {ast.unparse(node.func)!r} is not allowed "
                f"(functions: {', '.join(_CALC_FUNCS)})"
            )
        if node.keywords:
            raise CalcError("keyword arguments are not allowed")
        args = [_calc_eval(arg, depth + 1) for arg in node.args]
        return _calc_check(_calc_call(node.func.id, args))
    raise CalcError(f"{type(node).__name__} is not allowed")


def _tidy(value: int | float) -> int | float:
    """Round a float to 12 significant digits; return an int when it is whole."""
    if isinstance(value, float):
        value = float(f"{value:.12g}")
        if value.is_integer():
            return int(value)
    return value


def safe_calc(expression: str) -> int | float:
    """Evaluate arithmetic (``^`` means power) within fixed size limits, or raise CalcError."""
    if not isinstance(expression, str):
        raise CalcError("expression must be a string")
    text = expression.strip().replace("^", "**")
    if not text:
        raise CalcError("empty expression")
    if len(text) > _CALC_MAX_LEN:
        raise CalcError(f"expression too long ({len(text)} characters, limit {_CALC_MAX_LEN})")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise CalcError(f"invalid expression: {expression!r}") from None
    if sum(1 for _ in ast.walk(tree)) > _CALC_MAX_NODES:
        raise CalcError(f"expression too complex (limit {_CALC_MAX_NODES} syntax nodes)")
    return _tidy(_calc_eval(tree.body, 0))
