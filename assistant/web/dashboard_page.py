"""The operators' dashboard: a page at /admin, for the users named in ASSISTANT_ADMINS.

It is one of Gradio's multipage routes. Its figures come from the database's daily
summaries (insights/dashboard.py), so they cover every replica. Anyone who is not an
admin gets 404 for the page and its config (admin_gate.py), and "Not found" from its
events, which clients cannot list.
"""

from __future__ import annotations

import asyncio
import datetime
import time
from typing import Any, Callable, Mapping

import gradio as gr
import pandas as pd  # type: ignore[import-untyped]

from ..insights.dashboard import PERIODS, QUESTIONS_READ, Dashboard, build_dashboard
from ..quotas.policy import LimitSettings
from ..storage.repository import Store
from .callers import Identity
from .reply_stats import dollars
from .safe_markdown import markdown_text

PATH = "admin"
DEFAULT_PERIOD = "7 days"
NOT_FOUND = "Not found."


class DashboardPage:
    def __init__(self, store: Store, identity: Identity, admins: frozenset[str],
                 kinds: Mapping[str, str], limits: LimitSettings,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.identity = identity
        self.admins = admins  # owners: user:NAME, hf:NAME
        self.kinds = kinds  # each backend's kind, for prices
        self.limits = limits
        self.clock = clock

    def is_admin(self, request: Any) -> bool:
        """Only a signed-in user can be one: an anonymous token never names an admin."""
        owner = self.identity.signed_in(request)
        return owner is not None and owner in self.admins

    def render(self, demo: gr.Blocks) -> None:
        """Adds the page; call outside `with demo`."""
        with demo.route("Dashboard", f"/{PATH}", show_in_navbar=False):
            gr.HTML('<h1>Dashboard</h1><p><a href="./">← Back to the chat</a></p>', padding=False)
            with gr.Row():
                period = gr.Radio(list(PERIODS), value=DEFAULT_PERIOD, label="Period",
                                  scale=3)
                refresh = gr.Button("Refresh", scale=1, size="sm")
            summary = gr.Markdown(elem_id="dashboard-summary")
            counts: dict[str, Any] = {"y_lim": [0, None]}  # bars and counts start at 0
            with gr.Row():
                activity = gr.LinePlot(x="day", y="count", color="series", x_title="Day",
                                       y_title="Count", title="Messages and active users",
                                       elem_id="chart-activity", **counts)
                ttft = gr.LinePlot(x="day", y="seconds", color="percentile", x_title="Day",
                                   y_title="Seconds", title="Time to first token",
                                   elem_id="chart-ttft")
            with gr.Row():
                tokens = gr.BarPlot(x="day", y="tokens", color="backend", x_title="Day",
                                    y_title="Tokens", title="Tokens by backend",
                                    x_label_angle=-45, elem_id="chart-tokens", **counts)
                outcomes = gr.BarPlot(x="outcome", y="replies", x_title="Outcome",
                                      y_title="Replies", title="Outcomes",
                                      elem_id="chart-outcomes", **counts)
            usage = gr.Dataframe(label="Tokens and estimated cost by model", interactive=False,
                                 elem_id="table-usage")
            with gr.Row():
                tool_calls = gr.BarPlot(x="tool", y="calls", color="result", x_title="Tool",
                                        y_title="Calls", title="Tool calls",
                                        elem_id="chart-tools", **counts)
                documents = gr.BarPlot(x="kind", y="MB", x_title="Kind", y_title="MB",
                                       title="Documents stored", elem_id="chart-documents",
                                       **counts)
            tools_table = gr.Dataframe(label="Tools", interactive=False, elem_id="table-tools")
            documents_table = gr.Dataframe(label="Documents", interactive=False,
                                           elem_id="table-documents")
            users = gr.Dataframe(label="Heaviest users", interactive=False, elem_id="table-users")
            topics = gr.Markdown(elem_id="dashboard-topics")
            outputs = [summary, activity, ttft, tokens, outcomes, usage, tool_calls, documents,
                       tools_table, documents_table, users, topics]
            quiet: dict[str, Any] = {"api_visibility": "private", "show_progress": "minimal"}
            demo.load(self.show, period, outputs, **quiet)
            period.change(self.show, period, outputs, **quiet)
            refresh.click(self.show, period, outputs, **quiet)

    async def show(self, period: str, request: gr.Request) -> tuple[Any, ...]:
        if not self.is_admin(request):
            raise gr.Error(NOT_FOUND)
        days = PERIODS.get(period, PERIODS[DEFAULT_PERIOD])
        dashboard = await asyncio.to_thread(build_dashboard, self.store, days, self.clock(),
                                            self.kinds, self.limits)
        return drawn(dashboard)


def drawn(d: Dashboard) -> tuple[Any, ...]:
    """The page's outputs, in `render`'s order."""
    days = [pd.Timestamp(day) for day in d.days]
    activity = pd.DataFrame(
        [{"day": day, "series": "messages", "count": n} for day, n in zip(days, d.replies)]
        + [{"day": day, "series": "active users", "count": n}
           for day, n in zip(days, d.active_users)], columns=["day", "series", "count"])
    ttft = pd.DataFrame(
        [{"day": day, "percentile": name, "seconds": round(value, 3)}
         for day, pair in zip(days, d.ttft) for name, value in zip(("p50", "p95"), pair)
         if value is not None], columns=["day", "percentile", "seconds"])
    tokens = pd.DataFrame(
        [{"day": _date(day), "backend": backend, "tokens": n}  # ISO: sorts as dates
         for day, by_backend in zip(d.days, d.tokens) for backend, n in by_backend.items()],
        columns=["day", "backend", "tokens"])
    outcomes = pd.DataFrame([{"outcome": k, "replies": v} for k, v in d.outcomes.items()],
                            columns=["outcome", "replies"])
    usage = pd.DataFrame(
        [{"backend": r.backend, "model": r.model, "input tokens": r.prompt_tokens,
          "output tokens": r.completion_tokens, "estimated cost": _dollars(r.cost)}
         for r in d.usage],
        columns=["backend", "model", "input tokens", "output tokens", "estimated cost"])
    tool_calls = pd.DataFrame(
        [{"tool": t.tool, "result": result, "calls": n} for t in d.tools
         for result, n in (("ok", t.calls - t.failures), ("failed", t.failures)) if n],
        columns=["tool", "result", "calls"])
    tools_table = pd.DataFrame(
        [{"tool": t.tool, "calls": t.calls, "failed": t.failures,
          "mean seconds": round(t.mean_seconds, 3), "slowest seconds": round(t.slowest_seconds, 3)}
         for t in d.tools], columns=["tool", "calls", "failed", "mean seconds", "slowest seconds"])
    documents = pd.DataFrame([{"kind": kind, "MB": round(size / 1e6, 3)}
                              for kind, _, size in d.documents], columns=["kind", "MB"])
    documents_table = pd.DataFrame(
        [{"kind": kind, "documents": n, "MB": round(size / 1e6, 3)} for kind, n, size in d.documents],
        columns=["kind", "documents", "MB"])
    users = pd.DataFrame(
        [{"user": u.name, "messages": u.replies, "tokens": u.tokens,
          "tokens today": u.today, "limit hits": u.limit_hits} for u in d.users],
        columns=["user", "messages", "tokens", "tokens today", "limit hits"])
    return (summary_line(d), activity, ttft, tokens, outcomes, usage, tool_calls, documents,
            tools_table, documents_table, users, topics_markdown(d))


def summary_line(d: Dashboard) -> str:
    known, unknown = d.total_cost
    cost = _dollars(known) + (" + unknown" if unknown and known is not None else "")
    p50s = [p50 for p50, _ in d.ttft if p50 is not None]
    ttft = f"{p50s[-1]:.2f} s" if p50s else "none yet"
    documents = sum(n for _, n, _ in d.documents)
    added = sum(n for n, _ in d.documents_added)
    return (f"**{_date(d.days[0])} to {_date(d.days[-1])}** (UTC): "
            f"**{sum(d.replies):,}** messages, up to **{max(d.active_users, default=0):,}** "
            f"active users a day, **{sum(sum(t.values()) for t in d.tokens):,}** tokens, "
            f"estimated cost **{cost}**, latest daily time to first token (p50) {ttft}, "
            f"**{sum(t.calls for t in d.tools):,}** tool calls, **{documents:,}** documents "
            f"stored ({added:,} added).")


def topics_markdown(d: Dashboard) -> str:
    lines = ["### What people ask",
             "From the questions of users who agreed to show them (“Help improve this "
             f"assistant”), the newest {QUESTIONS_READ:,} at most."]
    if not d.topics:
        lines.append("No topics yet: too few shared questions in this period.")
    for topic in d.topics:
        lines.append(f"- **{markdown_text(topic.name)}**: {topic.questions:,} questions")
        lines += [f"    - “{markdown_text(example)}”" for example in topic.examples]
    if d.unsorted_questions:
        lines.append(f"- In no topic: {d.unsorted_questions:,} questions")
    return "\n".join(lines)


def _date(day: datetime.date) -> str:
    return day.isoformat()


def _dollars(value: float | None) -> str:
    return "unknown" if value is None else dollars(value)
