"""SQL is parameterised everywhere: no query text is built from values at runtime.

A static walk over `extensions/steward` finds the SQL text of every `execute`, `executemany`,
`copy` and `stream` call and every `sql.SQL(...)`, and traces where it comes from. Safe text is
made only of string literals and numbers: module constants (imported ones too), local names
assigned only such text (`" FOR UPDATE" if lock else ""`), lists of clauses appended from literals
and joined, loops over literal tuples, `enumerate` counters, lookups in constant dicts, and
psycopg's `sql.SQL(<safe>).format(sql.Identifier(...))`, which quotes what it inserts. Text that
arrives as a function parameter is traced to every call of that function. Anything else (an
f-string, `%` or `.format()` over a value, another function's result, an attribute) is a finding,
unless `REVIEWED` lists the place with the reason it is safe. Values always travel as `%s`.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "extensions" / "steward"
EXECUTORS = {"execute", "executemany", "copy", "stream"}
SQL_QUOTED = {"Identifier", "Literal", "Placeholder"}  # psycopg.sql parts that quote their argument
NUMBERS = {"int", "float", "len", "round", "abs", "min", "max", "sum"}
# Calls that never change a list they are given (anything else might append to it).
READ_ONLY_CALLS = {
    "join",
    "len",
    "list",
    "tuple",
    "sorted",
    "str",
    "set",
    "any",
    "all",
    "execute",
    "executemany",
    "fetchone",
    "fetchall",
    "enumerate",
    "zip",
    "map",
    "min",
    "max",
    "sum",
    "isinstance",
    "Jsonb",
}
STR_METHODS = {"strip", "lstrip", "rstrip", "lower", "upper", "replace", "format"}

# (file under extensions/steward, function) -> why the SQL text built there from a value is safe.
# Reviewed 2026-11-21; an entry that no longer matches anything fails the suite, so the list stays true.
REVIEWED: dict[tuple[str, str], str] = {
    ("core/llm/accounting.py", "record"): "_INSERT names the fields of the CallRecord dataclass: source identifiers",
    ("core/migrations.py", "migrate"): "runs the repository's own migration files from sql/, never input",
    ("memory/fulltext.py", "rows"): "self.table is set only by TermStats('memories') and TermStats('doc_chunks')",
    ("memory/store.py", "fetch_candidates"): "_time_filters appends only fixed clauses; values go into args",
    ("memory/retrieval.py", "_fulltext"): "fulltext_filters joins fixed clauses (its own and _time_filters')",
    ("planner/store.py", "insert_plan"): "column names are the keyword names its one caller (planner.service) writes",
    ("planner/tracking.py", "move"): "**extra is one of two dict literals with fixed keys (activated_at, finished_at)",
    ("planner/tracking.py", "update_step"): "**fields keys come from a fixed tuple and literals, never from the body",
    ("sync/ack.py", "_failed"): "**values is a dict literal with fixed keys (last_error, last_http_status...)",
    ("sync/store.py", "update_state"): "column names are callers' keywords; Raw SQL only from constants (NOW, "
    "Raw('token_resets + 1'), Raw('full_sync_count + 1'))",
    ("llm/routes.py", "get_usage"): "group_by is validated to the Dimension literals, and summarise() looks each "
    "up in the constant DIMENSIONS (KeyError for anything else) before it is used",
}


@dataclass(frozen=True)
class Finding:
    path: str
    function: str
    line: int
    source: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} in {self.function}(): SQL text built from a value: {self.source[:200]}"


@dataclass(frozen=True)
class Param:
    """SQL text that arrives as parameter `name` of `function` (defined in `module`)."""

    module: str
    function: str
    name: str
    index: int
    method: bool
    kind: str = "plain"  # "args" for *args, "kwargs" for **kwargs (the text then holds their names)


class Module:
    def __init__(self, path: Path, source: str | None = None) -> None:
        self.path = path
        self.rel = str(path.relative_to(PACKAGE))
        self.dotted = "steward." + self.rel.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        self.tree = ast.parse(source if source is not None else path.read_text(), filename=str(path))
        self.imports: dict[str, tuple[str, str | None]] = {}  # local name -> (module, attribute or None)
        for node in self.tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = (node.module, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    self.imports[alias.asname or alias.name.split(".")[0]] = (alias.name, None)
        self.scope = Scope(self.tree, None, self, "<module>")


class Scope:
    """What one function (or the module) binds: parameters, assignments, appends to lists."""

    def __init__(self, node: ast.AST, parent: Scope | None, module: Module, name: str) -> None:
        self.node, self.parent, self.module, self.name = node, parent, module, name
        self.params: list[str] = []
        self.kinds: dict[str, str] = {}
        self.method = False
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            args = node.args
            self.params = [a.arg for a in [*args.posonlyargs, *args.args]]
            if args.vararg:
                self.params.append(args.vararg.arg)
                self.kinds[args.vararg.arg] = "args"
            self.params += [a.arg for a in args.kwonlyargs]
            if args.kwarg:
                self.params.append(args.kwarg.arg)
                self.kinds[args.kwarg.arg] = "kwargs"
            self.method = bool(self.params) and self.params[0] in ("self", "cls")
        self.bound: dict[str, list[ast.expr | None]] = {}
        self.handed_out: set[str] = set()
        for child in _own_nodes(node):
            if isinstance(child, ast.Assign):
                for target in child.targets:
                    self._bind(target, child.value)
            elif isinstance(child, ast.AnnAssign | ast.AugAssign | ast.NamedExpr) and child.value is not None:
                self._bind(child.target, child.value)
            elif isinstance(child, ast.For | ast.AsyncFor):
                for name, value in _iteration(child.target, child.iter):
                    self.bound.setdefault(name, []).append(value)
            elif isinstance(child, ast.With | ast.AsyncWith):
                for item in child.items:
                    if item.optional_vars is not None:
                        self._bind(item.optional_vars, None)
            if isinstance(child, ast.Call):
                self._note_call(child)

    def _note_call(self, call: ast.Call) -> None:
        """Appends to a list name; and list names handed to other functions, which may append."""
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and call.args:
            if func.attr in ("append", "insert"):
                self.bound.setdefault(func.value.id, []).append(call.args[-1])
            elif func.attr == "extend":
                self.bound.setdefault(func.value.id, []).append(_element_of(call.args[0]))
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name not in READ_ONLY_CALLS:
            for arg in [*call.args, *(k.value for k in call.keywords)]:
                if isinstance(arg, ast.Name):
                    self.handed_out.add(arg.id)

    def _bind(self, target: ast.expr, value: ast.expr | None) -> None:
        if isinstance(target, ast.Name):
            self.bound.setdefault(target.id, []).append(value)
        elif isinstance(target, ast.Tuple | ast.List):
            pairs = isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(target.elts)
            for n, element in enumerate(target.elts):
                self._bind(element, value.elts[n] if pairs else _element_of(value))  # type: ignore[union-attr]

    def lookup(self, name: str) -> tuple[Scope, list[ast.expr | None], Param | None] | None:
        """The scope binding `name`, what it assigns to it, and the parameter it is (if it is one)."""
        param = None
        if name in self.params:
            kind = self.kinds.get(name, "plain")
            param = Param(self.module.rel, self.name, name, self.params.index(name), self.method, kind)
        if param is not None or name in self.bound:
            return self, self.bound.get(name, []), param
        return self.parent.lookup(name) if self.parent else None


def _own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Nodes of this scope, not of the functions, classes and comprehensions nested in it."""
    for child in ast.iter_child_nodes(node):
        yield child
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, *_COMPREHENSIONS)):
            yield from _own_nodes(child)


_COMPREHENSIONS = (ast.GeneratorExp, ast.ListComp, ast.SetComp, ast.DictComp)


def _element_of(container: ast.expr | None) -> ast.expr | None:
    """An element of `container`: as safe as the whole container is."""
    return None if container is None else ast.Subscript(value=container, slice=ast.Constant(0), ctx=ast.Load())


def _iteration(target: ast.expr, iterable: ast.expr) -> Iterator[tuple[str, ast.expr | None]]:
    """What each name in a loop target is bound to, when looping over `iterable`."""
    call = iterable.func.id if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name) else ""
    if call == "range":
        yield from ((n.id, ast.Constant(0)) for n in ast.walk(target) if isinstance(n, ast.Name))
    elif call == "enumerate" and isinstance(target, ast.Tuple) and len(target.elts) == 2:
        yield from _iteration(target.elts[0], ast.Call(ast.Name("range"), [], []))
        yield from _iteration(target.elts[1], iterable.args[0])  # type: ignore[union-attr]
    elif isinstance(iterable, ast.Tuple | ast.List) and isinstance(target, ast.Tuple):
        for element in iterable.elts:
            same = isinstance(element, ast.Tuple) and len(element.elts) == len(target.elts)
            for n, name in enumerate(target.elts):
                value = element.elts[n] if same else _element_of(element)  # type: ignore[attr-defined]
                yield from (
                    _iteration(name, ast.Tuple([value], ast.Load()))
                    if isinstance(name, ast.Tuple)
                    else ([(name.id, value)] if isinstance(name, ast.Name) else [])
                )
    elif isinstance(target, ast.Name):
        if isinstance(iterable, ast.Tuple | ast.List):
            yield from ((target.id, element) for element in iterable.elts)
        else:
            yield target.id, _element_of(iterable)
    else:
        yield from ((n.id, _element_of(iterable)) for n in ast.walk(target) if isinstance(n, ast.Name))


class Tracer:
    """Works out whether SQL text is safe: the parameters it depends on, or None when unsafe."""

    def __init__(self, modules: dict[str, Module]) -> None:
        self.modules = modules
        self.by_dotted = {m.dotted: m for m in modules.values()}

    def deps(self, expr: ast.expr | None, scope: Scope, seen: frozenset = frozenset()) -> frozenset[Param] | None:
        if expr is None:
            return None
        if isinstance(expr, ast.Constant):
            return frozenset() if expr.value is None or isinstance(expr.value, str | int | float | bool) else None
        if isinstance(expr, ast.FormattedValue):
            return self.deps(expr.value, scope, seen)
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add | ast.Mod | ast.Mult):
            return self._all([expr.left, expr.right], scope, seen)
        if isinstance(expr, ast.IfExp):
            return self._all([expr.body, expr.orelse], scope, seen)
        if isinstance(expr, ast.JoinedStr | ast.Tuple | ast.List | ast.Set):
            return self._all(expr.values if isinstance(expr, ast.JoinedStr) else expr.elts, scope, seen)
        if isinstance(expr, ast.Dict):
            return self._all(list(expr.values), scope, seen)
        if isinstance(expr, ast.Subscript):
            return self.deps(expr.value, scope, seen)
        if isinstance(expr, _COMPREHENSIONS):
            return self._comprehension(expr, scope, seen)
        if isinstance(expr, ast.Call):
            return self._call(expr, scope, seen)
        if isinstance(expr, ast.Name):
            return self._name(expr.id, scope, seen)
        if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
            imported = scope.module.imports.get(expr.value.id)
            if imported and imported[1] is None or imported and f"{imported[0]}.{imported[1]}" in self.by_dotted:
                dotted = imported[0] if imported[1] is None else f"{imported[0]}.{imported[1]}"
                target = self.by_dotted.get(dotted)
                return self._name(expr.attr, target.scope, seen) if target else None
        return None

    def _all(self, exprs, scope: Scope, seen) -> frozenset[Param] | None:
        found: set[Param] = set()
        for expr in exprs:
            part = self.deps(expr, scope, seen)
            if part is None:
                return None
            found |= part
        return frozenset(found)

    def _name(self, name: str, scope: Scope, seen) -> frozenset[Param] | None:
        key = (id(scope), name)
        if key in seen:
            return frozenset()
        found = scope.lookup(name)
        if found is None:
            imported = scope.module.imports.get(name)
            target = self.by_dotted.get(imported[0]) if imported and imported[1] else None
            return self._name(imported[1], target.scope, seen | {key}) if target and imported else None
        owner, values, param = found
        if name in owner.handed_out and any(isinstance(v, ast.List | ast.ListComp) for v in values):
            return None  # a list another function may have appended to
        assigned = self._all(values, owner, seen | {key})
        return None if assigned is None else assigned | ({param} if param else set())

    def _comprehension(self, expr, scope: Scope, seen) -> frozenset[Param] | None:
        inner = Scope(ast.Module(body=[], type_ignores=[]), scope, scope.module, scope.name)
        iterables = []
        for generator in expr.generators:
            iterables.append((generator.iter, scope if not inner.bound else inner))
            for name, value in _iteration(generator.target, generator.iter):
                inner.bound.setdefault(name, []).append(value)
        element = expr.value if isinstance(expr, ast.DictComp) else expr.elt
        return self.deps(element, inner, seen)

    def _call(self, call: ast.Call, scope: Scope, seen) -> frozenset[Param] | None:
        func = call.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        qualified = ast.unparse(func)
        if isinstance(func, ast.Name) and name in NUMBERS:
            return frozenset()
        if isinstance(func, ast.Name) and name in ("str", "list", "tuple", "sorted") and len(call.args) == 1:
            return self.deps(call.args[0], scope, seen)
        if isinstance(func, ast.Attribute) and name in ("items", "keys", "values") and not call.args:
            return self.deps(func.value, scope, seen)
        if qualified in {f"sql.{n}" for n in SQL_QUOTED} or name in SQL_QUOTED and isinstance(func, ast.Name):
            return frozenset()
        if qualified in ("sql.SQL", "SQL"):
            return self._all(call.args, scope, seen)
        if isinstance(func, ast.Name) and name == "map" and len(call.args) == 2:
            quoted = ast.unparse(call.args[0]) in {f"sql.{n}" for n in SQL_QUOTED}
            return frozenset() if quoted else None
        if isinstance(func, ast.Attribute) and name in STR_METHODS:  # text from text (and safe arguments)
            return self._all([func.value, *call.args, *(k.value for k in call.keywords)], scope, seen)
        if isinstance(func, ast.Attribute) and name == "join" and len(call.args) == 1:
            return self._all([func.value, _element_of(call.args[0])], scope, seen)
        return None


def _executed_sql(call: ast.Call) -> ast.expr | None:
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr in EXECUTORS and call.args:
        return call.args[0]
    if ast.unparse(func) in ("sql.SQL", "SQL") and call.args:
        return call.args[0]
    return None


def _walk(module: Module) -> Iterator[tuple[ast.Call, Scope]]:
    """Every call in the module with the scope it is made in."""

    def visit(node: ast.AST, scope: Scope) -> Iterator[tuple[ast.Call, Scope]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                name = getattr(child, "name", "<lambda>")
                qualified = name if scope.name == "<module>" else f"{scope.name}.{name}"
                yield from visit(child, Scope(child, scope, module, qualified))
                continue
            if isinstance(child, ast.Call):
                yield child, scope
            yield from visit(child, scope)

    yield from visit(module.tree, module.scope)


def _calls(func: ast.expr, name: str, caller: Module, defined: Module, method: bool) -> bool:
    """Whether `func` names function `name` of module `defined` (any `x.name(...)` for a method)."""
    if isinstance(func, ast.Name):
        imported = caller.imports.get(func.id)
        return (caller is defined and func.id == name) or imported == (defined.dotted, name)
    if isinstance(func, ast.Attribute) and func.attr == name:
        if method:
            return True
        owner = func.value
        imported = caller.imports.get(owner.id) if isinstance(owner, ast.Name) else None
        return imported is not None and (
            imported == (defined.dotted, None) or f"{imported[0]}.{imported[1]}" == defined.dotted
        )
    return False


def _argument(call: ast.Call, param: Param, via_attribute: bool) -> ast.expr | None:
    """What the call passes for `param`; None when that cannot be read from the call."""
    if param.kind == "kwargs":  # the keywords' names are source text; a `**mapping` is not known
        unpacked = [k.value for k in call.keywords if k.arg is None]
        return ast.Constant("") if not unpacked else None
    for keyword in call.keywords:
        if keyword.arg == param.name:
            return keyword.value
    index = param.index - (1 if param.method and via_attribute else 0)
    if any(isinstance(a, ast.Starred) for a in call.args[: index + 1]):
        return None
    if param.kind == "args":
        return ast.Tuple(call.args[index:], ast.Load())
    return call.args[index] if index < len(call.args) else ast.Constant("")  # a default: source text


def scan(modules: dict[str, Module]) -> list[Finding]:
    tracer = Tracer(modules)
    calls = [(module, call, scope) for module in modules.values() for call, scope in _walk(module)]
    findings: list[Finding] = []
    pending: list[tuple[Param, Finding]] = []  # (parameter the text comes from, where the SQL is run)
    for module, call, scope in calls:
        text = _executed_sql(call)
        if text is None:
            continue
        here = Finding(module.rel, scope.name, call.lineno, ast.unparse(text))
        deps = tracer.deps(text, scope)
        if deps is None:
            findings.append(here)
        else:
            pending += [(param, here) for param in deps]
    checked: set[tuple[Param, Finding]] = set()
    while pending:
        param, origin = pending.pop()
        if (param, origin) in checked:
            continue
        checked.add((param, origin))
        defined = modules[param.module]
        short = param.function.rsplit(".", 1)[-1]
        callers = [(m, c, s) for m, c, s in calls if _calls(c.func, short, m, defined, param.method)]
        if not callers:  # called from outside (a route, a framework): the value is not ours to trust
            findings.append(
                Finding(origin.path, origin.function, origin.line, f"parameter {param.name}: {origin.source}")
            )
        for module, call, scope in callers:
            argument = _argument(call, param, isinstance(call.func, ast.Attribute))
            deps = tracer.deps(argument, scope)
            if deps is None:
                shown = ast.unparse(argument) if argument is not None else ast.unparse(call)
                findings.append(Finding(module.rel, scope.name, call.lineno, f"{param.name}={shown}"))
            else:
                here = Finding(module.rel, scope.name, call.lineno, ast.unparse(call))
                pending += [(p, here) for p in deps]
    return findings


@functools.cache
def _package() -> dict[str, Module]:
    modules = [Module(path) for path in sorted(PACKAGE.rglob("*.py"))]
    return {m.rel: m for m in modules}


@functools.cache
def _findings() -> list[Finding]:
    return list(dict.fromkeys(scan(_package())))


def test_no_sql_text_is_built_from_values():
    unreviewed = [f for f in _findings() if (f.path, f.function) not in REVIEWED]
    assert not unreviewed, "pass values as %s parameters (or review and list the place in REVIEWED):\n" + "\n".join(
        map(str, unreviewed)
    )


def test_every_reviewed_place_still_builds_sql():
    stale = set(REVIEWED) - {(f.path, f.function) for f in _findings()}
    assert not stale, f"remove from REVIEWED, the code no longer builds SQL there: {sorted(stale)}"


def _probe(source: str) -> list[Finding]:
    module = Module(PACKAGE / "sql_probe.py", source)
    return scan({**_package(), module.rel: module})


def test_the_walk_finds_text_built_from_values():
    findings = _probe(
        """
def by_name(conn, name, table):
    conn.execute(f"SELECT * FROM users WHERE name = '{name}'")
    conn.execute("SELECT * FROM users WHERE name = '%s'" % name)
    conn.execute("SELECT * FROM {} ".format(table))
    query = "SELECT * FROM t WHERE a = " + name
    conn.execute(query)
    conn.execute(sql.SQL(f"SELECT {name}"))
    conn.executemany(build(name), [])

def _run(conn, text):
    return conn.execute(text)

def caller(conn, request):
    _run(conn, "SELECT 1")
    _run(conn, request.args["q"])
"""
    )
    assert sorted({f.line for f in findings if f.path == "sql_probe.py"}) == [3, 4, 5, 7, 8, 9, 16]


def test_the_walk_accepts_composition_from_constants():
    findings = _probe(
        """
from steward.items.store import COLUMNS as ITEM_COLUMNS

COLUMNS = "id, name"
TABLES = {"a": "alpha", "b": "beta"}

def by_id(conn, user_id, lock, column, kind, filters):
    suffix = " FOR UPDATE" if lock else ""
    conn.execute(f"SELECT {COLUMNS}, {ITEM_COLUMNS} FROM users WHERE id = %s{suffix}", (user_id,))
    conn.execute(sql.SQL("UPDATE users SET {} = %s").format(sql.Identifier(column)), (1,))
    where, args = ["client_id = %s"], [user_id]
    for name, value in (("kind", kind), ("lock", lock)):
        where.append(f"{name} = %s")
    conn.execute(f"SELECT 1 FROM {TABLES[kind]} WHERE {' AND '.join(where)}", args)
    flags = ", ".join(f"m{n} = %s" for n, _ in enumerate(filters))
    conn.execute(f"SELECT {flags}")
    _run(conn, f"SELECT {COLUMNS}")

def _run(conn, text):
    return conn.execute(text)
"""
    )
    assert [f for f in findings if f.path == "sql_probe.py"] == []
