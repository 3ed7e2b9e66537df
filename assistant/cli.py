"""The ``assistant`` command: a thin layer over ``Assistant`` and the app/bot entry points."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .dates import ACCEPTED_FORMATS, parse_user_date

if TYPE_CHECKING:
    from .pipeline import Assistant
    from .settings import Settings
    from .types import Answer, Filters, IngestReport


def load_settings(data_dir: Path | None = None) -> Settings:
    """Settings from the environment, with ``--data-dir`` taking precedence."""
    from pydantic import ValidationError

    from .settings import Settings

    try:
        settings = Settings()
        settings.auth_pairs()
    except ValidationError as exc:  # one line per field; the value is never echoed (it may be a secret)
        fields = "; ".join(f"ASSISTANT_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise click.ClickException(f"bad setting: {fields}") from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    return settings


def open_assistant(settings: Settings) -> Assistant:
    """Build the assistant, turning set-up errors into a clear message and exit code 2."""
    from .embedding import EmbeddingError
    from .pipeline import Assistant
    from .store import ModelMismatchError

    try:
        return Assistant(settings)
    except (ModelMismatchError, EmbeddingError) as exc:
        raise click.ClickException(str(exc)) from exc


data_dir_option = click.option(
    "--data-dir", type=click.Path(path_type=Path), default=None, help="Data directory (ASSISTANT_DATA_DIR)."
)


@click.group()
@click.version_option(package_name="news-assistant")
def main() -> None:
    """Ask questions about a corpus of news articles; answers quote the sources verbatim."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--prune", is_flag=True, help="Remove stored articles whose files under PATHS are gone.")
@click.option("--json", "as_json", is_flag=True, help="Print the per-file results as JSON.")
@data_dir_option
def ingest(paths: tuple[Path, ...], prune: bool, as_json: bool, data_dir: Path | None) -> None:
    """Load, chunk, embed and store articles (.txt, .md, .html, .jsonl files or folders)."""
    settings = load_settings(data_dir)
    assistant = open_assistant(settings)
    report = run_ingest(assistant, list(paths), prune)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print_report(report)
    sys.exit(1 if report.failed and not (report.count("added") + report.count("updated") + report.count("unchanged")) else 0)


def run_ingest(assistant: Assistant, paths: list[Path], prune: bool) -> IngestReport:
    """Ingest with a progress bar over articles."""
    from tqdm import tqdm

    bar = tqdm(total=0, unit="article", desc="ingest", file=sys.stderr, disable=None)

    def progress(what: str, done: int, total: int) -> None:
        if what == "chunks":  # files (articles) with rate and ETA on the bar; chunks stored and their rate beside it
            rate = done / max(1e-9, bar.format_dict["elapsed"])
            bar.set_postfix(chunks=done, chunks_per_s=f"{rate:.1f}", refresh=False)
            return
        bar.total = total
        bar.update(done - bar.n)

    try:
        return assistant.ingest(paths, prune=prune, progress=progress)
    finally:
        bar.close()


def print_report(report: IngestReport) -> None:
    """A line per stored, removed or duplicate file, each failure with its reason, then the summary line."""
    for result in report.results:
        if result.status in ("added", "updated", "removed"):
            click.echo(f"{result.status:8} {result.path} ({result.chunks} chunks)" if result.chunks else
                       f"{result.status:8} {result.path}")
            if result.reason:
                click.echo(f"note     {result.path}: {result.reason}", err=True)
        elif result.status == "duplicate":  # an exact copy of a stored article: not stored again, not a failure
            click.echo(f"duplicate {result.path}: {result.reason}" if result.reason else f"duplicate {result.path}")
    for result in report.failed:
        click.echo(f"failed   {result.path}: {result.reason}", err=True)
    click.echo(report.summary())


class UserDate(click.ParamType):
    """A date option in any format the web chat takes (2025-10-27, 27.10.2025, 27 октября 2025)."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date | None:
        """The date, or a usage error naming the option and the accepted formats."""
        if isinstance(value, date):
            return value
        try:
            return parse_user_date(value, param.opts[0] if param else "date")
        except ValueError as exc:
            raise click.UsageError(str(exc), ctx) from None


def parse_filters(date_from: date | None, date_to: date | None, sources: tuple[str, ...]) -> Filters:
    """Filters from CLI options."""
    from .types import Filters

    return Filters(date_from=date_from, date_to=date_to, sources=tuple(sources))


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@click.option("--from", "date_from", type=UserDate(), default=None,
              help=f"Only articles dated on or after DATE: {ACCEPTED_FORMATS}.")
@click.option("--to", "date_to", type=UserDate(), default=None,
              help=f"Only articles dated on or before DATE: {ACCEPTED_FORMATS}.")
@click.option("--source", "sources", multiple=True, help="Only articles from this source (repeatable).")
@data_dir_option
def ask(question: str, as_json: bool, date_from: date | None, date_to: date | None, sources: tuple[str, ...],
        data_dir: Path | None) -> None:
    """Answer QUESTION with quoted passages from the stored articles."""
    settings = load_settings(data_dir)
    filters = parse_filters(date_from, date_to, sources)
    if not question.strip():  # before the model is loaded
        raise click.ClickException("the question is empty: ask something, e.g. «Что подписали во время визита?»")
    check_utf8(question, "the question", *sources)
    assistant = open_assistant(settings)
    try:
        answer = assistant.ask(question, filters=filters)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(format_answer(answer))


def check_utf8(text: str, what: str, *more: str) -> None:
    """Refuse arguments that are not valid UTF-8 (bytes the terminal passed through undecoded) with a clear message."""
    for value in (text, *more):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            shown = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise click.ClickException(f"{what if value is text else 'a --source'} is not valid UTF-8 text "
                                       f"({shown[:60]}): check the terminal's encoding (UTF-8)") from None


def format_answer(answer: Answer) -> str:
    """The answer for a terminal: text, then each citation with title, date, source and score."""
    lines = [answer.text]
    for c in answer.citations:
        lines.append(f"\n[{c.n}] {c.title} — {c.date or 'без даты'} — {c.source or '?'}  (score {c.score:.3f})")
        lines.append(f"    «{c.quote}»")
        lines.append(f"    {c.doc_id} [{c.start}:{c.end}]" + (f"  {c.url}" if c.url else ""))
    if not answer.filters_applied.is_empty():
        label = "Применены фильтры" if answer.lang == "ru" else "Filters applied"
        lines.append(f"\n{label}: {answer.filters_applied.describe(answer.lang)}")
    return "\n".join(lines)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@data_dir_option
def stats(as_json: bool, data_dir: Path | None) -> None:
    """Documents, chunks, model and where the data lives."""
    from dataclasses import asdict

    info = open_assistant(load_settings(data_dir)).stats()
    if as_json:
        click.echo(json.dumps(asdict(info), ensure_ascii=False, indent=2))
        return
    click.echo(f"documents:  {info.documents}\nchunks:     {info.chunks}\nmodel:      {info.model}\n"
               f"data dir:   {info.data_dir}\ncollection: {info.collection}")
    for source, n in info.sources.items():
        click.echo(f"  {source or '(no source)'}: {n}")


@main.command()
@click.option("--repair", is_flag=True, help="Remove orphan index entries and re-add missing ones.")
@data_dir_option
def check(repair: bool, data_dir: Path | None) -> None:
    """Verify that Chroma and the keyword index hold exactly the stored articles' chunks (exit 1 if not)."""
    from .integrity import check as run_check

    report = run_check(open_assistant(load_settings(data_dir)), repair=repair)
    for line in report.lines():
        click.echo(line)
    sys.exit(0 if report.ok or repair else 1)


@main.command("eval")
@click.argument("dataset", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--corpus", type=click.Path(path_type=Path, exists=True), default=None,
              help="Articles for a JSONL question set (SQuAD JSON brings its own paragraphs).")
@click.option("--unanswerable", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="Questions the news corpus cannot answer (RuBQ JSON or JSONL); measures the declined rate.")
@click.option("--news-corpus", type=click.Path(path_type=Path, exists=True), default=None,
              help="The news corpus for --unanswerable (default: the demo corpus).")
@click.option("--baselines/--no-baselines", default=True, show_default=True,
              help="Also measure BM25 alone, dense alone and a plain LangChain pipeline.")
@click.option("--limit", type=int, default=None, help="Only the first N questions of each set.")
@click.option("--report", "report_path", type=click.Path(path_type=Path), default=None,
              help="Also write the tables (markdown) to this file.")
@click.option("--chart", "chart_path", type=click.Path(path_type=Path), default=None, help="Write a bar chart PNG.")
@click.option("--store", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Keep the evaluated corpus in this data dir and reuse it next time (default: a fresh temp dir).")
def eval_command(dataset: Path, corpus: Path | None, unanswerable: Path | None, news_corpus: Path | None,
                 baselines: bool, limit: int | None, report_path: Path | None, chart_path: Path | None,
                 store: Path | None) -> None:
    """Measure retrieval, quoting and refusal on a question set (XQuAD SQuAD JSON, or JSONL)."""
    from tqdm import tqdm

    from .evalrun import bar_chart, evaluate

    bars: dict[str, tqdm] = {}

    def progress(name: str, done: int, total: int) -> None:
        bar = bars.setdefault(name, tqdm(total=total, desc=name[:40], file=sys.stderr, disable=None))
        bar.update(done - bar.n)

    report = evaluate(load_settings(), dataset, corpus, unanswerable, news_corpus, baselines, limit, progress,
                      store=store)
    for bar in bars.values():
        bar.close()
    click.echo(report.markdown())
    if report_path:
        report_path.write_text(report.markdown() + "\n", encoding="utf-8")
    if chart_path:
        bar_chart(report, chart_path)


@main.command()
@click.option("--host", default=None, help="Address to listen on (ASSISTANT_HOST, default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (ASSISTANT_PORT, default 7860).")
@click.option("--demo/--no-demo", default=True, show_default=True,
              help="Ingest the demo corpus on start when the store is empty.")
@data_dir_option
def serve(host: str | None, port: int | None, demo: bool, data_dir: Path | None) -> None:
    """Start the web chat (Gradio) and its HTTP API."""
    from .web import serve as serve_web

    settings = load_settings(data_dir)
    updates = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    serve_web(settings.model_copy(update=updates), demo=demo)


@main.command()
@click.option("--mode", type=click.Choice(["socket", "http"]), default=None,
              help="Socket Mode (needs SLACK_APP_TOKEN) or HTTP mode on /slack/events (needs SLACK_SIGNING_SECRET). "
                   "Default: socket when an app token is set, else http.")
@click.option("--port", type=int, default=None, help="Port in HTTP mode (ASSISTANT_SLACK_PORT, default 3000).")
@data_dir_option
def slack(mode: str | None, port: int | None, data_dir: Path | None) -> None:
    """Start the Slack bot (see README: Slack set-up with slack/manifest.yml)."""
    from .slackbot import run as run_slack

    settings = load_settings(data_dir)
    if port is not None:
        settings = settings.model_copy(update={"slack_port": port})
    run_slack(settings, mode=mode)


@main.group()
def feedback() -> None:
    """Ratings given in the web chat and in Slack."""


@feedback.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--out", "out_path", type=click.Path(path_type=Path), default=None, help="File to write (default stdout).")
@data_dir_option
def feedback_export(fmt: str, out_path: Path | None, data_dir: Path | None) -> None:
    """Write all feedback as JSONL or CSV."""
    from .feedback import FeedbackStore

    store = FeedbackStore(load_settings(data_dir).feedback_path)
    if out_path is None:
        n = store.export(sys.stdout, fmt)
    else:
        with out_path.open("w", encoding="utf-8", newline="") as fh:
            n = store.export(fh, fmt)
    click.echo(f"exported {n} feedback records", err=True)


if __name__ == "__main__":
    main()
