"""How often Auto's rules pick the intended route, and the time a decision adds.

    python -m bench.routing

Scores the README's example routes on 100 labelled messages (bench/routing_messages.py;
some are hard on purpose: code questions in prose, a riddle), then times 20,000 decisions.
"""

from __future__ import annotations

import collections
import time

from assistant.conversation.routing import Asked, Router
from assistant.providers.backend_file import parse_backends
from bench.routing_messages import EXAMPLES, MESSAGES, RULES


def main() -> int:
    for title, rules in (("Rules only", RULES), ("Rules, plus examples for code and reasoning",
                                                 EXAMPLES)):
        print(f"\n## {title}\n")
        score(Router(parse_backends(rules, {}).routes))
    return 0


def score(router: Router) -> None:
    right: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    missed = []
    for text, images, documents, intended in MESSAGES:
        decision = router.decide(Asked(text, images, documents))
        picked = decision.route if decision else "none"
        total[intended] += 1
        right[intended] += picked == intended
        if picked != intended:
            missed.append(f"  {intended} -> {picked}: {text[:50]!r}")
    timings = []
    asked = [Asked(t, i, d) for t, i, d, _ in MESSAGES]
    for _ in range(200):
        for one in asked:
            started = time.perf_counter()
            router.decide(one)
            timings.append(time.perf_counter() - started)
    timings.sort()
    print("| Route | Messages | Picked as intended |")
    print("|---|---|---|")
    for route in total:
        print(f"| {route} | {total[route]} | {right[route]} ({right[route] / total[route]:.0%}) |")
    print(f"| all | {sum(total.values())} | {sum(right.values())} "
          f"({sum(right.values()) / sum(total.values()):.0%}) |")
    print(f"\nDecision time: p50 {timings[len(timings) // 2] * 1e3:.3f} ms, "
          f"p95 {timings[int(len(timings) * 0.95)] * 1e3:.3f} ms "
          f"({len(timings)} decisions, no embeddings)")
    print("\nMissed:\n" + "\n".join(missed))


if __name__ == "__main__":
    raise SystemExit(main())
