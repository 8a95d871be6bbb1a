"""A turn's reply text as it is written: what the SSE route and the Gradio chat iterate over.

``Marquee.respond(..., on_text=...)`` calls ``on_text`` with each piece of the reply's text while
a language model writes it (``chat.llm_planner.GuardedText``); the pieces concatenate to the
reply's text. A template reply (no model, or the model's text was not usable) calls nothing.
These helpers run a turn in a worker thread and hand its pieces over as they come, then the
``TurnResult``:

- ``turn_pieces`` (sync, for Gradio): ``for piece in turn_pieces(lambda on_text: marquee.respond(
  cid, text, on_text=on_text))`` yields ``str`` pieces, then the ``TurnResult`` last; an error
  of the turn is raised by the iteration.
- ``aturn_pieces`` (async, for the SSE route): the same over an awaitable that runs the turn.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator, TypeVar

T = TypeVar("T")
OnText = Callable[[str], None]
_DONE = object()


def turn_pieces(run: Callable[[OnText], T], *, poll_s: float = 0.05) -> Iterator[str | T]:
    """Run ``run(on_text)`` in a thread; yield each text piece as it arrives, then its result."""
    pieces: queue.Queue[Any] = queue.Queue()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = run(pieces.put)
        except BaseException as exc:  # re-raised in the caller's thread below
            outcome["error"] = exc
        finally:
            pieces.put(_DONE)

    thread = threading.Thread(target=work, name="marquee-turn", daemon=True)
    thread.start()
    while True:
        try:
            piece = pieces.get(timeout=poll_s)
        except queue.Empty:
            continue
        if piece is _DONE:
            break
        yield piece
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    yield outcome["result"]


async def aturn_pieces(start: Callable[[OnText], Awaitable[T]]) -> AsyncIterator[str | T]:
    """Await ``start(on_text)`` (a turn run in a worker thread); yield its text pieces as they
    arrive, then its result. ``on_text`` may be called from any thread."""
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue[str] = asyncio.Queue()
    task = asyncio.ensure_future(start(lambda piece: loop.call_soon_threadsafe(pieces.put_nowait, piece)))
    try:
        while not task.done():
            getter = asyncio.ensure_future(pieces.get())
            done, _ = await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                yield getter.result()
            else:
                getter.cancel()
        await asyncio.sleep(0)  # pieces scheduled just before the turn ended
        while not pieces.empty():
            yield pieces.get_nowait()
        yield task.result()
    finally:
        if not task.done():
            task.cancel()
