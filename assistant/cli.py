"""The ``assistant`` command: a thin layer over ``Assistant`` and the app/bot entry points."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .dates import ACCEPTED_FORMATS, parse_user_date

if TYPE_CHECKING:
    from .loading import Shard
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
    from .backends import BackendError
    from .embedding import EmbeddingError
    from .pipeline import Assistant
    from .store import ChromaUnavailableError, ModelMismatchError

    try:
        return Assistant(settings)
    except (ModelMismatchError, EmbeddingError, BackendError, ChromaUnavailableError) as exc:
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
@click.option("--shard", "shard_text", default=None, metavar="K/N",
              help="Take only shard K of N (by a stable hash of each article id): N workers given K = 1…N and the "
                   "same PATHS split them with no overlap (server mode: one database and Chroma server).")
@data_dir_option
def ingest(paths: tuple[Path, ...], prune: bool, as_json: bool, shard_text: str | None, data_dir: Path | None) -> None:
    """Load, chunk, embed and store articles (.txt, .md, .html, .jsonl files or folders)."""
    from .loading import Shard

    try:
        shard = Shard.parse(shard_text) if shard_text else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--shard") from None
    settings = load_settings(data_dir)
    assistant = open_assistant(settings)
    report = run_ingest(assistant, list(paths), prune, shard)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print_report(report)
    sys.exit(1 if report.failed and not (report.count("added") + report.count("updated") + report.count("unchanged")) else 0)


def run_ingest(assistant: Assistant, paths: list[Path], prune: bool, shard: Shard | None = None) -> IngestReport:
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
        return assistant.ingest(paths, prune=prune, progress=progress, shard=shard)
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
    from .web.render import balanced

    lines = [answer.text]
    for c in answer.citations:
        lines.append(f"\n[{c.n}] {c.title} — {c.date or 'без даты'} — {c.source or '?'}  (score {c.score:.3f})")
        lines.append(f"    «{balanced(c.quote)}»")
        lines.append(f"    {c.doc_id} [{c.start}:{c.end}]" + (f"  {c.url}" if c.url else ""))
    if not answer.filters_applied.is_empty():
        label = "Применены фильтры" if answer.lang == "ru" else "Filters applied"
        lines.append(f"\n{label}: {answer.filters_applied.describe(answer.lang)}")
    if answer.notes:  # e.g. the LLM endpoint failed, a question was shortened, a quote was dropped
        label = "Примечание" if answer.lang == "ru" else "Note"
        lines.append("")
        lines.extend(f"{label}: {note}" for note in answer.notes)
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
    sys.exit(0 if report.ok or (repair and not report.deferred) else 1)


@main.command()
@click.option("--to-database", "database_url", required=True, envvar="ASSISTANT_DATABASE_URL",
              help="PostgreSQL URL of the target (an empty database; default ASSISTANT_DATABASE_URL).")
@click.option("--to-chroma", "chroma_url", required=True, envvar="ASSISTANT_CHROMA_URL",
              help="Chroma server URL of the target (default ASSISTANT_CHROMA_URL).")
@data_dir_option
def migrate(database_url: str, chroma_url: str, data_dir: Path | None) -> None:
    """Copy the embedded store (SQLite files + embedded Chroma) into PostgreSQL and a Chroma server, without
    embedding again; then check the target."""
    from pydantic import SecretStr

    from .backends import BackendError
    from .backends.migrate import migrate as run_migrate
    from .integrity import check as run_check

    source = load_settings(data_dir).model_copy(update={"database_url": SecretStr(""), "chroma_url": ""})
    target = source.model_copy(update={"database_url": SecretStr(database_url), "chroma_url": chroma_url})
    try:
        done = run_migrate(source, target, progress=lambda line: click.echo(line, err=True))
    except BackendError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(done.line())
    report = run_check(open_assistant(target))
    for line in report.lines():
        click.echo(line)
    sys.exit(0 if report.ok else 1)


@main.command("eval")
@click.argument("dataset", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=False)
@click.option("--corpus", type=click.Path(path_type=Path, exists=True), default=None,
              help="Articles for a JSONL question set (SQuAD JSON brings its own paragraphs).")
@click.option("--dev-part", "dev_part", default=None, metavar="NAME|all",
              help="Instead of DATASET: development parts of ../shared/eval-data/news-qa-dev (nerel, w2, telegram, "
                   "corus, comma-separated, or all), each on its own corpus built by the shared builder scripts.")
@click.option("--shared", type=click.Path(path_type=Path, exists=True, file_okay=False), default=Path("../shared"),
              show_default=True, help="The shared data folder (for --dev-part).")
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
@click.option("--outcomes", "outcomes_path", type=click.Path(path_type=Path), default=None,
              help="Also write the assistant's outcome per question (JSONL) to this file.")
@click.option("--store", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Keep the evaluated corpus in this data dir and reuse it next time (default: a fresh temp dir); "
                   "with --dev-part a folder holding one store per corpus and the built corpora.")
def eval_command(dataset: Path | None, corpus: Path | None, dev_part: str | None, shared: Path,
                 unanswerable: Path | None, news_corpus: Path | None, baselines: bool, limit: int | None,
                 report_path: Path | None, chart_path: Path | None, outcomes_path: Path | None,
                 store: Path | None) -> None:
    """Measure retrieval, quoting and refusal on a question set (XQuAD SQuAD JSON, or JSONL) or the dev parts."""
    from tqdm import tqdm

    from .evaluation.headline import headline_table
    from .evaluation.run import bar_chart, evaluate, evaluate_dev_parts

    if (dataset is None) == (dev_part is None):
        raise click.UsageError("give either DATASET or --dev-part NAME|all")
    bars: dict[str, tqdm] = {}

    def progress(name: str, done: int, total: int) -> None:
        bar = bars.setdefault(name, tqdm(total=total, desc=name[:40], file=sys.stderr, disable=None))
        if done < bar.n:
            bar.reset(total)
        bar.update(done - bar.n)

    if dev_part is not None:
        try:
            reports = evaluate_dev_parts(load_settings(), shared, dev_part, store, baselines, limit, progress)
        except (FileNotFoundError, ValueError) as exc:
            raise click.UsageError(str(exc)) from exc
    else:
        assert dataset is not None
        reports = [evaluate(load_settings(), dataset, corpus, unanswerable, news_corpus, baselines, limit, progress,
                            store=store)]
    for bar in bars.values():
        bar.close()
    text = "\n\n".join(r.markdown() for r in reports)
    if len(reports) > 1:
        text = "All parts:\n\n" + headline_table([h for r in reports for h in r.headlines]) + "\n\n" + text
    click.echo(text)
    if report_path:
        report_path.write_text(text + "\n", encoding="utf-8")
    if chart_path:
        bar_chart(reports[0], chart_path)
    if outcomes_path:
        lines = [json.dumps(r, ensure_ascii=False) for report in reports for r in report.records]
        outcomes_path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


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
    from .backends import BackendError, open_feedback

    try:
        store = open_feedback(load_settings(data_dir))
    except BackendError as exc:
        raise click.ClickException(str(exc)) from exc
    if out_path is None:
        n = store.export(sys.stdout, fmt)
    else:
        with out_path.open("w", encoding="utf-8", newline="") as fh:
            n = store.export(fh, fmt)
    click.echo(f"exported {n} feedback records", err=True)


# ---- feeds and standing questions ---------------------------------------------------------------------------------


def open_following_store(data_dir: Path | None, make: Callable[[Settings], Any]) -> Any:
    """A feed or watch store alone (``make_feed_store``, ``make_watch_store``), where every store lives (SQLite in
    the data dir, or PostgreSQL); no model loaded; a database error is one line."""
    from .backends import BackendError

    try:
        return make(load_settings(data_dir))
    except BackendError as exc:
        raise click.ClickException(str(exc)) from exc


def open_feed_store(data_dir: Path | None) -> Any:
    """The feed store alone (``feeds.sqlite``, or PostgreSQL)."""
    from .feeds.store import make_feed_store

    return open_following_store(data_dir, make_feed_store)


@main.group()
def feeds() -> None:
    """RSS, Atom, JSON Feed and sitemap feeds that keep the archive current."""


@feeds.command("add")
@click.argument("url")
@click.option("--name", default="", help="Source name for its articles (default: the feed's title).")
@click.option("--every", default=None, help="Poll interval: 15m, 2h, 1d (ASSISTANT_FEED_EVERY, default 15m).")
@data_dir_option
def feeds_add(url: str, name: str, every: str | None, data_dir: Path | None) -> None:
    """Follow the feed at URL (polled by `feeds poll`, `feeds run` and `serve`)."""
    from .following import parse_every

    if not url.startswith(("http://", "https://")):
        raise click.ClickException(f"url: {url!r} is not an http(s) URL of a feed or sitemap")
    settings = load_settings(data_dir)
    try:
        every_s = parse_every(every or settings.feed_every)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    feed = open_feed_store(data_dir).add(url, name, every_s)
    click.echo(f"following feed {feed.id}: {feed.url} (every {every_s // 60} min)")


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@data_dir_option
def feeds_list(as_json: bool, data_dir: Path | None) -> None:
    """Followed feeds with their last poll's result or error."""
    items = open_feed_store(data_dir).all()
    if as_json:
        click.echo(json.dumps([f.to_dict() for f in items], ensure_ascii=False, indent=2))
        return
    if not items:
        click.echo("no feeds: add one with `assistant feeds add URL`")
    for feed in items:
        click.echo(f"{feed.id:3} {feed.name or '-'}  {feed.url}  every {feed.every_s // 60} min")
        click.echo(f"    last poll: {feed.last_result or 'never polled'}"
                   + (f"  (failed {feed.failures}x in a row)" if feed.failures else ""))


@feeds.command("remove")
@click.argument("ref")
@data_dir_option
def feeds_remove(ref: str, data_dir: Path | None) -> None:
    """Stop following a feed (by id, URL or name); its stored articles stay."""
    feed = open_feed_store(data_dir).remove(ref)
    if feed is None:
        raise click.ClickException(f"no feed {ref!r}: see `assistant feeds list`")
    click.echo(f"removed feed {feed.id}: {feed.url}")


@feeds.command("poll")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@data_dir_option
def feeds_poll(as_json: bool, data_dir: Path | None) -> None:
    """Poll every feed once now (for cron and tests); watches are asked over the new articles."""
    from .following import open_following

    settings = load_settings(data_dir)
    following = open_following(open_assistant(settings), settings)
    try:
        results = following.poller.poll_all()
    finally:
        following.close()
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2))
    for result in [] if as_json else results:
        click.echo(f"{result.url}: {result.summary()}")
    sys.exit(1 if results and all(r.status == "failed" for r in results) else 0)


@feeds.command("run")
@click.option("--tick", type=float, default=30.0, show_default=True, help="Seconds between checks for due feeds.")
@data_dir_option
def feeds_run(tick: float, data_dir: Path | None) -> None:
    """Poll due feeds until stopped (a worker for deployments that run the web app on several replicas)."""
    import time

    from .following import open_following

    settings = load_settings(data_dir)
    following = open_following(open_assistant(settings), settings)
    following.start_polling(tick)
    click.echo(f"polling {len(following.feeds.all())} feeds; Ctrl+C stops", err=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        following.close()


def open_watch_store(data_dir: Path | None) -> Any:
    """The watch store alone (``watches.sqlite``, or PostgreSQL)."""
    from .watches import make_watch_store

    return open_following_store(data_dir, make_watch_store)


@main.group()
def watch() -> None:
    """Standing questions: asked again over every batch of new articles; a confident answer is kept and sent."""


@watch.command("add")
@click.argument("question")
@click.option("--slack", "slack_target", default="", help="Also post new answers to this Slack channel or user id.")
@data_dir_option
def watch_add(question: str, slack_target: str, data_dir: Path | None) -> None:
    """Save QUESTION as a standing question."""
    try:
        item = open_watch_store(data_dir).add(question, "slack" if slack_target else "cli", slack_target)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"watch {item.id}: «{item.question}»")


@watch.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON, with every new answer.")
@data_dir_option
def watch_list(as_json: bool, data_dir: Path | None) -> None:
    """Standing questions with the new answers each has had."""
    store = open_watch_store(data_dir)
    rows = [(w, store.hits(w.id)) for w in store.all()]
    if as_json:
        click.echo(json.dumps([w.to_dict() | {"answers": [h.to_dict() for h in hits]} for w, hits in rows],
                              ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no watches: add one with `assistant watch add QUESTION`")
    for item, hits in rows:
        click.echo(f"{item.id:3} «{item.question}»{' (paused)' if item.paused else ''}  {len(hits)} new answers")
        for hit in hits[:5]:
            for c in hit.answer.get("citations", []):
                click.echo(f"    [{c.get('date') or 'без даты'}] «{c.get('quote')}» — {c.get('title')}")


def set_watch(watch_id: int, data_dir: Path | None, paused: bool | None) -> None:
    """Pause, resume (``paused``) or remove (None) a watch."""
    store = open_watch_store(data_dir)
    item = store.remove(watch_id) if paused is None else store.set_paused(watch_id, paused)
    if item is None:
        raise click.ClickException(f"no watch {watch_id}: see `assistant watch list`")
    click.echo(f"watch {watch_id} {'removed' if paused is None else 'paused' if paused else 'resumed'}")


@watch.command("pause")
@click.argument("watch_id", type=int)
@data_dir_option
def watch_pause(watch_id: int, data_dir: Path | None) -> None:
    """Pause a watch."""
    set_watch(watch_id, data_dir, True)


@watch.command("resume")
@click.argument("watch_id", type=int)
@data_dir_option
def watch_resume(watch_id: int, data_dir: Path | None) -> None:
    """Resume a paused watch."""
    set_watch(watch_id, data_dir, False)


@watch.command("remove")
@click.argument("watch_id", type=int)
@data_dir_option
def watch_remove(watch_id: int, data_dir: Path | None) -> None:
    """Delete a watch and its history."""
    set_watch(watch_id, data_dir, None)


if __name__ == "__main__":
    main()
