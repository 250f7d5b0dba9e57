"""Extract a reward program from an LLM response.

The response is markdown: prose around fenced code blocks (```` ```python ````,
```` ``` ````, ``~~~``). :func:`extract_program` finds the blocks, picks the one
that defines ``compute_reward`` at top level and keeps the *whole* block (its
imports, constants and helper functions, before or after ``compute_reward``,
nested ones included). Names that block uses but defines nowhere are looked up
in the other blocks (top-level functions, classes, constants, imports) and
merged in, so a response that puts a helper in its own block still works.

Everything is decided on the syntax tree (:mod:`ast` and :mod:`symtable`),
never by scanning lines for ``def``: Eureka kept only the text after the last
``def``, which silently dropped helpers defined before ``compute_reward`` and
broke nested functions.

The result is typed (:class:`Extraction`); its ``message`` is fit to send back
to the LLM as is::

    ex = extract_program(response_text)
    if ex.status != "ok":
        ask_again(ex.message)
"""

from __future__ import annotations

import ast
import builtins
import re
import symtable
from dataclasses import dataclass
from typing import Literal

from eureka_kit.python_parse import parse_module
from eureka_kit.reward.program import ENTRY_POINT

ExtractionStatus = Literal["ok", "no_code", "no_entry_point", "ambiguous", "truncated", "syntax_error"]

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*?)[ \t]*$")
# The first line of unfenced code after some prose (only used when the response has no fences).
_CODE_START = re.compile(r"^(import\s+\w|from\s+[\w.]+\s+import\s|def\s+\w+\s*\(|@\w|class\s+\w)")
_TRUNCATION_HINTS = ("never closed", "unexpected eof", "eof while", "unterminated triple-quoted", "was not closed")
_BUILTINS = frozenset(dir(builtins)) | {"__name__", "__file__", "__doc__", "__builtins__"}

_ASK = f"Reply with exactly one ```python code block that defines `{ENTRY_POINT}(...)` at top level."


@dataclass(frozen=True)
class Extraction:
    """Outcome of :func:`extract_program`.

    ``source`` is the program text when ``status == "ok"`` and ``None``
    otherwise; ``message`` says what was found, or what is wrong and what to
    send instead (fit to send to the LLM as is). ``merged`` names the
    definitions copied in from other code blocks.
    """

    status: ExtractionStatus
    source: str | None
    message: str
    merged: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class _Block:
    """One fenced code block (or the whole unfenced response)."""

    index: int  # 1-based, in order of appearance
    text: str
    closed: bool
    info: str


@dataclass(frozen=True)
class _Parsed:
    block: _Block
    tree: ast.Module


def extract_program(response: str) -> Extraction:
    """Find the reward program in an LLM ``response``. Never raises for any input text."""
    blocks = _fenced_blocks(response)
    if not blocks:
        return _from_unfenced(response)

    unclosed = [b for b in blocks if not b.closed and b.text.strip()]
    if unclosed:
        b = unclosed[-1]
        return Extraction(
            "truncated",
            None,
            f"The response ends inside code block {b.index}, which is never closed: it was probably cut off "
            f"before the end. Send the complete program again, shorter if needed, in one ```python block "
            f"closed with ```.",
        )
    blocks = [b for b in blocks if b.text.strip()]
    if not blocks:
        return Extraction("no_code", None, f"The response contains only empty code blocks. {_ASK}")

    parsed: list[_Parsed] = []
    broken: list[tuple[_Block, SyntaxError]] = []
    for block in blocks:
        try:
            parsed.append(_Parsed(block, parse_module(block.text)))
        except SyntaxError as err:
            broken.append((block, err))
        except (ValueError, RecursionError, MemoryError) as err:  # null bytes, absurd nesting
            broken.append((block, SyntaxError(str(err))))

    defining = [p for p in parsed if _entry_points(p.tree)]
    broken_defining = [(b, err) for b, err in broken if _mentions_entry_point(b.text)]

    if broken_defining:
        bad, error = broken_defining[0]
        also = ""
        if defining:
            indices = ", ".join(str(p.block.index) for p in defining)
            also = f" (block(s) {indices} also define `{ENTRY_POINT}`; send only one, corrected, definition)"
        return Extraction(
            "syntax_error",
            None,
            f"Code block {bad.index}, which defines `{ENTRY_POINT}`, has a syntax error"
            f"{_where(error, bad.text)}{also}. "
            f"Fix it and send the whole program in one ```python block.",
        )

    if not defining:
        names = sorted({n for p in parsed for n in _top_level_functions(p.tree)})
        found = f" (the code defines: {', '.join(names)})" if names else ""
        nested = [p for p in parsed if _defines_nested_entry_point(p.tree)]
        hint = f" `{ENTRY_POINT}` is defined inside another function or class; move it to top level." if nested else ""
        which = "The code block does not" if len(blocks) == 1 else f"None of the {len(blocks)} code blocks"
        verb = "define" if len(blocks) == 1 else "defines"
        return Extraction(
            "no_entry_point",
            None,
            f"{which} {verb} a top-level function `{ENTRY_POINT}`{found}.{hint} {_ASK}",
        )

    # Several definitions inside ONE block are the critic's business (it names their lines).
    distinct: dict[str, list[_Parsed]] = {}
    for p in defining:
        key = "\n".join(ast.dump(fn) for fn in _entry_points(p.tree))
        distinct.setdefault(key, []).append(p)
    if len(distinct) > 1:
        where = "; ".join("block " + ", ".join(str(p.block.index) for p in ps) for ps in distinct.values())
        return Extraction(
            "ambiguous",
            None,
            f"The response contains {len(distinct)} different definitions of `{ENTRY_POINT}` ({where}), so it is "
            f"not clear which one to use. {_ASK} Put only the final version in it.",
        )

    chosen = max(defining, key=lambda p: (len(p.tree.body), -p.block.index))
    others = [p for p in parsed if p is not chosen]
    source, merged = _merge_helpers(chosen, others)
    where = f"code block {chosen.block.index} of {len(blocks)}" if len(blocks) > 1 else "the code block"
    msg = f"Found `{ENTRY_POINT}` in {where}."
    if merged:
        msg += f" Added definitions of {', '.join(merged)} from the other code block(s)."
    return Extraction("ok", source, msg, merged)


# --------------------------------------------------------------------------- blocks


def _fenced_blocks(text: str) -> list[_Block]:
    """Fenced code blocks, CommonMark-style: a fence closes on a line of the same char, at least as long."""
    blocks: list[_Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, indent, info = m["fence"], len(m["indent"].expandtabs(4)), m["info"].strip()
        body: list[str] = []
        closed = False
        i += 1
        while i < len(lines):
            line = lines[i]
            stripped = line.strip()
            if stripped and set(stripped) == {fence[0]} and len(stripped) >= len(fence):
                closed = True
                i += 1
                break
            body.append(_dedent_line(line, indent))
            i += 1
        blocks.append(_Block(len(blocks) + 1, "\n".join(body) + "\n", closed, info))
    return blocks


def _dedent_line(line: str, indent: int) -> str:
    """Remove up to ``indent`` columns of leading whitespace (fences indented in lists)."""
    n = 0
    while n < len(line) and n < indent and line[n] in " \t":
        n += 1
    return line[n:]


def _from_unfenced(response: str) -> Extraction:
    """No fences: the whole response is code if it parses and has statements, else look for code after prose."""
    if not response.strip():
        return Extraction("no_code", None, f"The response is empty. {_ASK}")
    tree = _try_parse(response)
    if tree is not None and _looks_like_code(tree):
        return _single_block(_Parsed(_Block(1, response, True, ""), tree))

    lines = response.splitlines()
    start = next((i for i, line in enumerate(lines) if _CODE_START.match(line)), None)
    if start is None:
        return Extraction("no_code", None, f"The response contains no Python code. {_ASK}")
    code = "\n".join(lines[start:]) + "\n"
    try:
        tree = parse_module(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        if not _mentions_entry_point(code):
            return Extraction("no_code", None, f"The response contains no Python code defining `{ENTRY_POINT}`. {_ASK}")
        err = e if isinstance(e, SyntaxError) else SyntaxError(str(e))
        if _at_end(err, code):
            return Extraction(
                "truncated",
                None,
                f"The code at the end of the response is incomplete{_where(err, code)}: it was probably cut off. "
                f"Send the complete program again in one ```python block closed with ```.",
            )
        return Extraction(
            "syntax_error",
            None,
            f"The code in the response (not in a ``` block) has a syntax error{_where(err, code)}. "
            f"Send the program alone in one ```python block, without prose inside it.",
        )
    return _single_block(_Parsed(_Block(1, code, True, ""), tree))


def _single_block(p: _Parsed) -> Extraction:
    if len(_entry_points(p.tree)) == 0:
        names = _top_level_functions(p.tree)
        found = f" (it defines: {', '.join(names)})" if names else ""
        return Extraction(
            "no_entry_point", None, f"The code does not define a top-level function `{ENTRY_POINT}`{found}. {_ASK}"
        )
    return Extraction("ok", p.block.text, f"Found `{ENTRY_POINT}` in the response (no code fences).")


def _try_parse(text: str) -> ast.Module | None:
    try:
        return parse_module(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _looks_like_code(tree: ast.Module) -> bool:
    """A parse of prose is at most a bare expression ("Sure" is a Name); code defines or imports something."""
    return any(not isinstance(s, ast.Expr) for s in tree.body)


def _at_end(e: SyntaxError, code: str) -> bool:
    """Whether a syntax error is the kind a cut-off text produces: at its last line, or an unclosed bracket."""
    msg = (e.msg or "").lower()
    if any(h in msg for h in _TRUNCATION_HINTS):
        return True
    nonblank = [i for i, line in enumerate(code.splitlines(), start=1) if line.strip()]
    return e.lineno is None or not nonblank or e.lineno >= nonblank[-1]


def _where(e: SyntaxError, code: str) -> str:
    if not e.lineno:
        return f": {e.msg}"
    lines = code.splitlines()
    text = lines[e.lineno - 1].strip() if 0 < e.lineno <= len(lines) else ""
    shown = f" (`{text[:120]}`)" if text else ""
    return f" at line {e.lineno}{shown}: {e.msg}"


# --------------------------------------------------------------------------- names


def _entry_points(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [s for s in tree.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef) and s.name == ENTRY_POINT]


def _mentions_entry_point(text: str) -> bool:
    return re.search(rf"^\s*(async\s+)?def\s+{ENTRY_POINT}\b", text, re.MULTILINE) is not None


def _defines_nested_entry_point(tree: ast.Module) -> bool:
    return any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == ENTRY_POINT for n in ast.walk(tree))


def _top_level_functions(tree: ast.Module) -> list[str]:
    return [s.name for s in tree.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)]


def _bound_names(stmt: ast.stmt) -> set[str]:
    """Module-level names a top-level statement defines (functions, classes, assignments, imports)."""
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {stmt.name}
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        out = set()
        for a in stmt.names:
            if a.name != "*":
                out.add(a.asname or a.name.split(".")[0])
        return out
    targets: list[ast.expr] = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        targets = [stmt.target]
    names: set[str] = set()
    for t in targets:
        for n in ast.walk(t):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                names.add(n.id)
    return names


def _module_names(tree: ast.Module) -> set[str]:
    """Every name bound at module level, including inside top-level if/try/for/with."""
    names: set[str] = set()
    for stmt in tree.body:
        names |= _bound_names(stmt)
        if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for n in ast.walk(stmt):
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                    names.add(n.id)
                elif isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    names.add(n.name)
                elif isinstance(n, ast.alias) and n.name != "*":
                    names.add(n.asname or n.name.split(".")[0])
    return names


def _free_names(source: str) -> set[str]:
    """Global names that ``source`` reads at any depth but does not define (builtins excluded).

    Uses the compiler's own scope analysis (:mod:`symtable`), so parameters,
    locals, nested functions and comprehension variables are not mistaken for
    globals.
    """
    try:
        top = symtable.symtable(source, "<block>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    used: set[str] = set()
    for s in top.get_symbols():
        if s.is_referenced() and not (s.is_assigned() or s.is_imported() or s.is_namespace()):
            used.add(s.get_name())
    stack = list(top.get_children())
    while stack:
        t = stack.pop()
        for s in t.get_symbols():
            if s.is_global() and s.is_referenced():
                used.add(s.get_name())
        stack.extend(t.get_children())
    tree = _try_parse(source)
    defined = _module_names(tree) if tree is not None else set()
    return used - defined - _BUILTINS


def _stmt_source(block_text: str, stmt: ast.stmt) -> str:
    lines = block_text.splitlines()
    decorators = getattr(stmt, "decorator_list", [])
    start = min([stmt.lineno, *(d.lineno for d in decorators)])
    end = stmt.end_lineno or stmt.lineno
    return "\n".join(lines[start - 1 : end])


def _merge_helpers(chosen: _Parsed, others: list[_Parsed]) -> tuple[str, tuple[str, ...]]:
    """The chosen block plus the top-level definitions it needs from ``others`` (first in document order)."""
    text = chosen.block.text
    missing = _free_names(text)
    if not missing or not others:
        return text, ()

    providers: dict[str, tuple[_Parsed, ast.stmt]] = {}
    for p in others:
        for stmt in p.tree.body:
            for name in _bound_names(stmt):
                if name != ENTRY_POINT and name not in providers:
                    providers[name] = (p, stmt)

    picked: list[tuple[_Parsed, ast.stmt]] = []
    merged: list[str] = []
    have = _module_names(chosen.tree)
    todo = sorted(missing)
    while todo:
        name = todo.pop(0)
        if name in have or name not in providers:
            continue
        p, stmt = providers[name]
        if all(stmt is not s for _, s in picked):
            picked.append((p, stmt))
            new = _bound_names(stmt)
            have |= new
            merged.extend(sorted(n for n in new if n in missing or n == name))
            todo.extend(sorted(_free_names(_stmt_source(p.block.text, stmt)) - have))
        have.add(name)
    if not picked:
        return text, ()

    picked.sort(key=lambda ps: (not isinstance(ps[1], ast.Import | ast.ImportFrom), ps[0].block.index, ps[1].lineno))
    future = [s for _, s in picked if isinstance(s, ast.ImportFrom) and s.module == "__future__"]
    added = "\n".join(_stmt_source(p.block.text, s) for p, s in picked if s not in future)
    head_end = _header_end(chosen.tree)
    lines = text.splitlines()
    future_src = "\n".join(_stmt_source(p.block.text, s) for p, s in picked if s in future)
    head = "\n".join(lines[:head_end])
    body = "\n".join(lines[head_end:])
    parts = [part for part in (future_src, head, added, body) if part.strip()]
    source = "\n\n".join(parts) + "\n"
    if _try_parse(source) is None:  # should not happen; never hand out code that does not parse
        return text, ()
    return source, tuple(dict.fromkeys(merged))


def _header_end(tree: ast.Module) -> int:
    """Line after the leading docstring and imports: merged definitions go right after them."""
    end = 0
    for i, stmt in enumerate(tree.body):
        is_doc = i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        if not (is_doc or isinstance(stmt, ast.Import | ast.ImportFrom)):
            break
        end = stmt.end_lineno or stmt.lineno
    return end
