"""The end of `make mutation` (scripts/mutation.sh): hand-written mutations, then the score and the survivors.

1. Each mutation of tests/mutation/hand_mutations.py (what mutmut cannot make: module-level tables,
   decorated functions; and the mutations an audit once found surviving) is applied to the snapshot's
   source, its unit tests run, and the source restored: it must be killed.
2. mutmut's results (``mutants/**/*.meta``): per file killed / survived / no tests / timeout, the score
   (killed ÷ tested), and every survivor with its diff — with its reason when
   tests/mutation/equivalents.md lists it as equivalent, else marked UNEXPLAINED.

Exit status 1 when a hand mutation survives or a survivor is unexplained, so the run fails until each is
killed by a test or written down with its reason.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

KILLED, SURVIVED, NO_TESTS, TIMEOUT = "killed", "survived", "no tests", "timeout"
STATUS = {1: KILLED, 3: KILLED, 0: SURVIVED, 5: NO_TESTS, 33: NO_TESTS, 36: TIMEOUT, -24: TIMEOUT, 24: TIMEOUT,
          152: TIMEOUT, 255: TIMEOUT, 37: "caught by type check", 34: "skipped"}


@dataclass(frozen=True)
class Equivalent:
    function: str
    before: str
    after: str
    reason: str


def load_equivalents(path: Path) -> list[Equivalent]:
    """Rows of the table in equivalents.md: | `function` | `before` | `after` | reason | (a ``|`` inside a
    cell is written ``\\|``, as markdown wants)."""
    out = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line.startswith("| `"):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip("|"))]
        if len(cells) != 4:
            continue
        function, before, after = (c.removeprefix("`").removesuffix("`") for c in cells[:3])
        out.append(Equivalent(function, before, after, cells[3]))
    return out


def function_of(mutant: str) -> str:
    """``pipeline_py.deploy.analysis.x_wilson__mutmut_3`` → ``pipeline_py.deploy.analysis.wilson``;
    methods keep their class: ``…analysis.Analyzer.run_step``."""
    module, _, name = mutant.rpartition(".")
    name = re.sub(r"__mutmut_\d+$", "", name)
    name = name[2:] if name.startswith("x_") else name
    name = name.replace("xǁ", "", 1).replace("ǁ", ".")
    return f"{module}.{name}"


def changed_lines(diff: str) -> tuple[str, str]:
    minus = [ln[1:].strip() for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    plus = [ln[1:].strip() for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    return " ".join(minus), " ".join(plus)


def explain(mutant: str, diff: str, equivalents: list[Equivalent]) -> str | None:
    function = function_of(mutant)
    before, after = changed_lines(diff)
    for e in equivalents:
        if e.function == function and e.before == before and e.after == after:
            return e.reason
    return None


def diff_of(mutant: str, path: Path) -> str:
    try:
        from mutmut.mutation.diff_apply import get_diff_for_mutant
        return str(get_diff_for_mutant(mutant, path=path))
    except Exception as exc:  # mutmut's internals moved: the name is still worth printing
        return f"(no diff: {exc})"


def run_hand_mutations(root: Path, repo: Path, deselect: list[str]) -> list[str]:
    spec = importlib.util.spec_from_file_location("hand_mutations", repo / "tests" / "mutation" / "hand_mutations.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["hand_mutations"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    survivors = []
    print(f"-- {len(module.HAND_MUTATIONS)} hand-written mutations (tests/mutation/hand_mutations.py)")
    for m in module.HAND_MUTATIONS:
        path = root / m.path
        original = path.read_text()
        if original.count(m.old) != 1:
            print(f"   STALE    {m.name}: the text to mutate is not found once in {m.path}; update it")
            survivors.append(m.name)
            continue
        tests = [t for t in m.tests if (root / t).exists()]
        if not tests:
            print(f"   SURVIVED {m.name}: none of its tests exist ({', '.join(m.tests)})")
            survivors.append(m.name)
            continue
        try:
            path.write_text(original.replace(m.old, m.new))
            r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-x",
                                *tests, *deselect], cwd=root, capture_output=True, text=True, timeout=600)
        finally:
            path.write_text(original)
        if r.returncode == 1:
            failed = next((ln for ln in r.stdout.splitlines() if ln.startswith("FAILED")), "")
            print(f"   killed   {m.name}  [{failed.removeprefix('FAILED ').split(' - ')[0]}]")
        else:
            print(f"   SURVIVED {m.name} (pytest exit {r.returncode})")
            survivors.append(m.name)
    return survivors


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path.cwd(), help="the snapshot mutmut ran in")
    ap.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    ap.add_argument("--deselect", action="append", default=[])
    ap.add_argument("--no-hand", action="store_true", help="skip the hand-written mutations")
    args = ap.parse_args()
    root, repo = args.root.resolve(), args.repo.resolve()
    deselect = [x for d in args.deselect for x in ("--deselect", d)]

    hand_survivors = [] if args.no_hand else run_hand_mutations(root, repo, deselect)

    equivalents = load_equivalents(repo / "tests" / "mutation" / "equivalents.md")
    per_file: dict[str, Counter[str]] = {}
    survivors: list[tuple[str, Path]] = []
    sys.path.insert(0, str(root))
    for meta in sorted((root / "mutants").rglob("*.py.meta")):
        source = meta.relative_to(root / "mutants").with_suffix("")
        results = json.loads(meta.read_text()).get("exit_code_by_key", {})
        counts: Counter[str] = Counter()
        for mutant, code in results.items():
            if code is None:
                continue  # not part of this run (a narrowed run, or not yet checked)
            status = STATUS.get(code, "suspicious")
            counts[status] += 1
            if status == SURVIVED:
                survivors.append((mutant, source))
        if counts:
            per_file[str(source)] = counts

    print("\n-- mutmut: per file (score = killed / (killed + survived))")
    total: Counter[str] = Counter()
    print(f"   {'file':44} {'killed':>7} {'survived':>9} {'no tests':>9} {'other':>6} {'score':>7}")
    for name, c in per_file.items():
        total.update(c)
        other = sum(v for k, v in c.items() if k not in (KILLED, SURVIVED, NO_TESTS))
        tested = c[KILLED] + c[SURVIVED]
        file_score = f"{100 * c[KILLED] / tested:.1f}%" if tested else "-"
        print(f"   {name:44} {c[KILLED]:7} {c[SURVIVED]:9} {c[NO_TESTS]:9} {other:6} {file_score:>7}")
    tested = total[KILLED] + total[SURVIVED]
    score = 100 * total[KILLED] / tested if tested else 0.0
    print(f"   {'total':44} {total[KILLED]:7} {total[SURVIVED]:9} {total[NO_TESTS]:9} "
          f"{sum(total.values()) - tested - total[NO_TESTS]:6} {score:6.1f}%")

    unexplained = 0
    if survivors:
        print(f"\n-- {len(survivors)} surviving mutants")
    with_reason = []
    os.chdir(root)  # mutmut reads its files relative to the snapshot
    for mutant, source in survivors:
        diff = diff_of(mutant, source)
        reason = explain(mutant, diff, equivalents)
        if reason is None:
            unexplained += 1
            print(f"\n   UNEXPLAINED {mutant}\n" + "\n".join("      " + ln for ln in diff.splitlines()[2:]))
        else:
            with_reason.append(f"   equivalent  {mutant}: {reason}")
    if with_reason:
        print("\n" + "\n".join(with_reason))
    print(f"\nSCORE {score:.1f}% ({total[KILLED]} killed of {tested} tested mutants; {total[NO_TESTS]} without a "
          f"unit test); {len(survivors)} survived: {len(survivors) - unexplained} equivalent (tests/mutation/"
          f"equivalents.md), {unexplained} unexplained; hand-written mutations surviving: {len(hand_survivors)}")
    return 1 if unexplained or hand_survivors else 0


if __name__ == "__main__":
    sys.exit(main())
