"""Does every visibility decision live in hub/policy.py?

The policy is the one place that decides who may see or learn what (SHARING_POLICY.md,
STYLE.md). These tests read the hub package's source (ast, and the templates as text) and fail on
the shapes a decision made elsewhere takes: an owner compared with a reader's organisation, a
TLP:RED check, an organisation-kind check. A few comparisons of that shape decide nothing about
visibility; each is listed below with its reason, and a listed one that disappears must leave the
list too, so that it stays short and true.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

HUB = Path(__file__).resolve().parent.parent / "hub"
POLICY = HUB / "policy.py"
# Models, the principal and TLP define the vocabulary the policy speaks; they decide nothing.
VOCABULARY = {HUB / "principal.py", HUB / "tlp.py"}
READERS = {"principal", "me", "p", "reader"}

# (path under hub/, enclosing function): why this comparison decides no visibility.
JUSTIFIED = {
    ("alerts/services.py", "_check_quota"):
        "counts the organisation's own subscriptions for a quota; it shows nothing",
    ("incidents/reminders.py", "_remind"):
        "finds the owner organisation's own e-mail subscriptions to remind it of its own deadlines",
    ("intel/audience.py", "resolve_audience"):
        "which sharing groups a sharer may name when writing (its own); reading asks the policy",
    ("intel/sightings.py", "_record_many"):
        "caches each owner's default sighting audience, which policy.default_sighting_audience_orgs decides",
    ("intel/reads.py", "_apply_filters"):
        "matches the owner slug a reader asked for; policy.owner_revealed_items keeps anonymous items out",
    ("intel/reads.py", "shared_not_supporting"):
        "an object supports another when its own owner's relationship ties them (which list rows to "
        "group); only relationships policy.readable_items_for lets the reader read count",
    ("taxii/collections.py", "membership"):
        "a collection's membership; every collection is read through policy.readable_items as well",
    ("taxii/collections.py", "_groups_of"):
        "the sharing groups the organisation belongs to, i.e. which collections it has",
    ("taxii/collections.py", "_defaults_of"):
        "the organisation's own per-collection default TLP settings",
}


def _modules():
    for path in sorted(HUB.rglob("*.py")):
        if path == POLICY or path in VOCABULARY or path.name == "models.py":
            continue
        yield path


def _is_attr(node, attr: str, base: str | None = None) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == attr and (
        base is None or (isinstance(node.value, ast.Name) and node.value.id == base))


def _reader_org(node) -> bool:
    """`principal.org_id`, `me.org_id`, `current_principal().org_id`."""
    if not _is_attr(node, "org_id"):
        return False
    owner = node.value
    return (isinstance(owner, ast.Name) and owner.id in READERS) or (
        isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "current_principal")


def _mentions(node, predicate) -> bool:
    return any(predicate(n) for n in ast.walk(node))


def _org_kind(node) -> bool:
    return _is_attr(node, "org_kind") or (
        isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "OrgKind")


def _decision(compare: ast.Compare) -> str | None:
    """What kind of visibility decision this comparison looks like, if any."""
    operands = [compare.left, *compare.comparators]
    join_key = any(_is_attr(o, "id") for o in operands)  # Incident.owner_org_id == Organisation.id
    if not join_key and any(_mentions(o, lambda n: _is_attr(n, "owner_org_id")) for o in operands):
        return "an owner compared outside the policy"
    if not join_key and any(_reader_org(o) for o in operands):
        return "a reader's organisation compared with an owner or a party"
    if any(_mentions(o, lambda n: _is_attr(n, "red", "TLP")) for o in operands):
        return "a TLP:RED check"
    if any(_mentions(o, _org_kind) for o in operands):
        return "an organisation-kind check"
    return None


def _findings():
    """(path, function, line, kind, source) of every decision-shaped comparison outside policy.py."""
    found = []
    for path in _modules():
        tree = ast.parse(path.read_text(), filename=str(path))
        enclosing: dict[int, str] = {}
        for function in ast.walk(tree):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(function):
                    enclosing[id(node)] = function.name  # innermost wins: walked later
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and (kind := _decision(node)):
                found.append((path.relative_to(HUB).as_posix(), enclosing.get(id(node), "<module>"),
                              node.lineno, kind, ast.unparse(node)))
    return found


def test_no_visibility_decision_is_made_outside_the_policy():
    unexplained = [f"hub/{path}:{line} in {function}: {kind}: {source}"
                   for path, function, line, kind, source in _findings() if (path, function) not in JUSTIFIED]
    assert not unexplained, (
        "Decide visibility in hub/policy.py (a named predicate or SQL filter citing its rule) and call "
        "it; or, if this decides nothing about visibility, add it to JUSTIFIED with the reason:\n"
        + "\n".join(unexplained))


def test_every_justified_exception_still_exists():
    """A stale exception would let a new decision slip in under an old excuse."""
    present = {(path, function) for path, function, *_ in _findings()}
    assert not set(JUSTIFIED) - present, sorted(set(JUSTIFIED) - present)


def test_every_justified_exception_gives_its_reason():
    assert all(isinstance(reason, str) and len(reason) > 20 for reason in JUSTIFIED.values())


# Where TLP:RED may be named outside the policy, and why.
RED_NAMED = {
    "intel/forms.py": "the label of the RED choice in the share form",
}


def test_tlp_red_is_named_only_by_the_policy():
    """A tuple such as (TLP.red, TLP.amber_strict) tested elsewhere would decide rule 1 quietly."""
    found = set()
    for path in _modules():
        tree = ast.parse(path.read_text(), filename=str(path))
        if any(_is_attr(node, "red", "TLP") for node in ast.walk(tree)):
            found.add(path.relative_to(HUB).as_posix())
    assert found == set(RED_NAMED), "ask policy.named_users_only / alert_carries_content / audit_content_withheld"


# In a template: `me.org_id == incident.owner_org_id`, `me.org_kind.value == 'national_cert'`.
TEMPLATE_DECISION = re.compile(r"\{%[^%]*(\borg_id\b|\bowner_org_id\b|\borg_kind\b)[^%]*%\}")


def test_templates_are_told_what_the_reader_may_do_and_never_work_it_out():
    found = []
    for template in sorted(HUB.rglob("templates/**/*.html")):
        for number, line in enumerate(template.read_text().splitlines(), 1):
            if TEMPLATE_DECISION.search(line):
                found.append(f"{template.relative_to(HUB)}:{number}: {line.strip()[:120]}")
    assert not found, "pass the policy's answer from the view instead:\n" + "\n".join(found)


def test_the_checker_sees_the_shapes_it_is_meant_to_see():
    """The patterns themselves, so that a refactoring of this test cannot blind it."""
    def kinds(source: str):
        return [_decision(n) for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Compare)]

    assert kinds("item.owner_org_id != current_principal().org_id") == ["an owner compared outside the policy"]
    assert kinds("case.org_id == principal.org_id") == ["a reader's organisation compared with an owner or a party"]
    assert kinds("item.tlp == TLP.red") == ["a TLP:RED check"]
    assert kinds("item.tlp in (TLP.red, TLP.amber_strict)") == ["a TLP:RED check"]
    assert kinds("principal.org_kind != OrgKind.national_cert") == ["an organisation-kind check"]
    assert kinds("Incident.owner_org_id == Organisation.id") == [None]
