"""Marquee's browser UI (Gradio): a thin adapter over ``marquee.service.Marquee``, mounted by
``marquee.web`` at ``/``.

Each assistant turn carries its cards inside the chat transcript (title, year, genres, why,
poster when known) with labelled Like / Dislike / Seen buttons; the transcript is rebuilt from
the database, so a reload or a restart shows the same thing. Every handler, including the ones
only the page calls, opens a conversation only with the browser's signed credential
(``Guard.browser_conversation``); the gradio_client API (``/recommend``, ``/feedback``,
``/reset``) asks for a site key in the ``X-Marquee-Key`` header, like the JSON API.
"""

from __future__ import annotations

import html
import logging
import os
from contextlib import contextmanager

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from marquee.api_models import decode_picture, image_url, result_json  # noqa: E402
from marquee.doors import Guard  # noqa: E402
from marquee.errors import BadInput, MarqueeError  # noqa: E402
from marquee.security import KEY_HEADER, ApiError  # noqa: E402
from marquee.service import GivenDemographics, Marquee  # noqa: E402
from retrieval.demographics import AGE_GROUPS, OCCUPATIONS  # noqa: E402

log = logging.getLogger(__name__)

SKIP = "Prefer not to say"
AGE_CHOICES = [SKIP, *AGE_GROUPS]
GENDER_CHOICES = [SKIP, "Female", "Male"]  # the rating data behind cold start records only these
OCCUPATION_CHOICES = [SKIP, *sorted(OCCUPATIONS, key=str.lower)]
MAX_PICTURE_BYTES = 20_000_000  # retrieval.images refuses larger files; read one byte more to let it say so
BUTTONS = (("liked", "Like", "Liked"), ("disliked", "Dislike", "Disliked"), ("seen", "Seen it", "Seen"))
CONFIRM = {"liked": "Noted: you liked {title}. I'll look for more like it.",
           "disliked": "Noted: you disliked {title}. I'll keep it and its like out.",
           "seen": "Noted: you've seen {title}. I won't suggest it again."}
GREETING = "Tell me what you'd like to watch, e.g. “a feel-good 90s comedy, nothing with Adam Sandler”."

# The page tells the server which card button was pressed (the chat transcript is rendered
# HTML, so its buttons are plain <button>s; their name is the feedback, their value the item).
BRIDGE_JS = """
document.addEventListener('click', (event) => {
  const button = event.target.closest && event.target.closest('#mq-chat button.mq-act');
  if (!button || button.classList.contains('mq-busy')) return;
  button.classList.add('mq-busy');
  trigger('click', {item: button.value, kind: button.name});
});
"""


# --- rendering ---------------------------------------------------------------------------------


def as_text(text: str) -> str:
    """``text`` for the chat's Markdown renderer, shown exactly as typed: HTML and Markdown
    characters are escaped (a user's ``<b>`` or ``**`` is not interpreted)."""
    out = []
    for char in text:
        if char in "&<>\"'":
            out.append(html.escape(char))
        elif char.isascii() and not char.isalnum() and not char.isspace():
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def card_html(item: dict, position: int, pressed: dict[str, set[str]]) -> str:
    """One card; every field is escaped (titles and whys are data, not markup)."""
    esc = html.escape
    title = esc(item["title"])
    year = f" ({item['year']})" if item.get("year") else ""
    genres = ", ".join(item.get("genres") or []) or "genres unknown"
    directors = (item.get("people") or {}).get("directors") or []
    credit = f" · directed by {esc(', '.join(directors[:2]))}" if directors else ""
    src = image_url(item["id"], item.get("image"))
    poster = (f"<img class='mq-poster' src='{esc(src, quote=True)}' alt='Poster of {esc(item['title'], quote=True)}'>"
              if src else "")
    buttons = "".join(
        f"<button type='button' class='mq-act{' mq-on' if item['id'] in pressed[kind] else ''}' name='{kind}' "
        f"value='{esc(item['id'], quote=True)}'>{done if item['id'] in pressed[kind] else label}"
        f"<span class='mq-sr'> {title}</span></button>"
        for kind, label, done in BUTTONS
    )
    return (f"<li class='mq-card' id='mq-item-{position}'>{poster}<div class='mq-body'>"
            f"<h4><span class='mq-num'>{position}</span> {title}{esc(year)}</h4>"
            f"<p class='mq-meta'>{esc(genres)}{credit}</p><p class='mq-why'>{esc(item.get('why') or '')}</p>"
            f"<div class='mq-actions' role='group'>{buttons}</div></div></li>")


def reply_content(reply, pressed: dict[str, set[str]]) -> str:
    """An assistant turn: its text, its notes and its cards, in one chat message."""
    parts = [as_text(reply.text)]
    parts += [f"<p class='mq-note'>{html.escape(note)}</p>" for note in reply.notes]
    if reply.items:
        cards = "".join(card_html(card.model_dump(), n, pressed) for n, card in enumerate(reply.items, start=1))
        parts.append(f"<ol class='mq-cards'>{cards}</ol>")
    return "\n\n".join(parts)


def transcript(marquee: Marquee, conversation_id: str) -> list[dict]:
    """The chat as stored since the last "start over": exchanges and feedback, oldest first."""
    turns = marquee.turns(conversation_id)
    state = marquee.state(conversation_id)
    pressed = {"liked": set(state.liked_ids), "disliked": set(state.disliked_ids), "seen": set(state.seen_ids)}
    start = max((n for n, t in enumerate(turns) if t.reply_model().cleared), default=0)
    shown = turns[start:]
    since = shown[0].created_at if shown else None
    titles = {card.id: card.title for t in turns for card in t.reply_model().items}
    events = [(t.created_at, 0, t) for t in shown]
    events += [(f.created_at, 1, f) for f in marquee.feedback_given(conversation_id)
               if since is None or f.created_at >= since]
    messages: list[dict] = []
    for _, kind, row in sorted(events, key=lambda e: (e[0], e[1])):
        if kind == 0:
            messages.append({"role": "user", "content": as_text(row.utterance)})
            messages.append({"role": "assistant", "content": reply_content(row.reply_model(), pressed)})
        else:
            title = titles.get(row.item_id) or (marquee.catalog.get(row.item_id).title
                                                 if marquee.catalog.get(row.item_id) else row.item_id)
            messages.append({"role": "assistant",
                             "content": as_text(CONFIRM.get(row.kind, "Noted.").format(title=title))})
    return messages


def about_you(age: str | None, gender: str | None, occupation: str | None) -> GivenDemographics:
    """The "About you" choices as given ("Prefer not to say" = not given)."""
    given = [None if value in (None, "", SKIP) else value for value in (age, gender, occupation)]
    return GivenDemographics(age=given[0], gender=given[1], occupation=given[2])


def read_picture(path: str | None) -> bytes | None:
    """The bytes of a picture the UI received (Gradio hands over a temporary file), or None."""
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_PICTURE_BYTES + 1)
    except OSError as exc:
        raise BadInput(f"the picture could not be read ({exc.strerror})") from exc


@contextmanager
def user_errors():
    """Turn Marquee's errors and refusals into messages the caller sees (gr.Error is shown, not hidden)."""
    try:
        yield
    except ApiError as exc:
        raise gr.Error(exc.message) from exc
    except MarqueeError as exc:
        raise gr.Error(str(exc)) from exc


def client_ip(request: gr.Request | None) -> str | None:
    client = getattr(request, "client", None)
    return getattr(client, "host", None)


# --- the app -----------------------------------------------------------------------------------


def build_ui(marquee: Marquee, guard: Guard) -> gr.Blocks:
    """The Blocks app. Its gradio_client API: ``recommend``, ``feedback``, ``reset`` (see README)."""

    def opened(token: object) -> str | None:
        return guard.browser_conversation(token)

    def about_values(conversation_id: str | None) -> list:
        if conversation_id is None:
            return [SKIP, SKIP, SKIP]
        profile = marquee.demographics(conversation_id)
        return [profile.age_group or SKIP, {"F": "Female", "M": "Male"}.get(profile.gender or "", SKIP),
                profile.occupation or SKIP]

    def whose(conversation_id: str | None) -> str:
        if conversation_id is None:
            return "Nothing is stored yet."
        return f"Your user id (for the site's operator): `{marquee.user_of(conversation_id)}`"

    def on_load(token: object):
        conversation_id = opened(token)
        messages = transcript(marquee, conversation_id) if conversation_id else []
        return [token if conversation_id else None, messages, *about_values(conversation_id), whose(conversation_id)]

    def on_send(message: dict | None, token: object, age: str | None, gender: str | None, occupation: str | None,
                request: gr.Request):
        message = message or {}
        text = message.get("text") or ""
        files = message.get("files") or []
        picture = files[0] if files else None
        picture = picture.get("path") if isinstance(picture, dict) else picture
        conversation_id = opened(token)
        history = transcript(marquee, conversation_id) if conversation_id else []
        said = as_text(text) + (" *(with a picture)*" if picture else "")
        pending = [*history, {"role": "user", "content": said}, {"role": "assistant", "content": "…"}]
        yield [gr.update(value=None), pending, token, gr.update()]
        try:
            if conversation_id is None:
                guard.allow_new_user(client_ip(request))
                conversation_id = marquee.new_conversation(demographics=about_you(age, gender, occupation))
                token = guard.browser_token(conversation_id)
            marquee.respond(conversation_id, text, image=read_picture(picture))
        except (MarqueeError, ApiError) as exc:
            reason = exc.message if isinstance(exc, ApiError) else str(exc)
            yield [gr.update(value=message), [*pending[:-1], {"role": "assistant", "content": as_text(f"Sorry: {reason}")}],
                   token, gr.update()]
            return
        yield [gr.update(value=None), transcript(marquee, conversation_id), token, whose(conversation_id)]

    def on_card(token: object, event: gr.EventData):
        conversation_id = opened(token)
        data = getattr(event, "_data", None) or {}
        if conversation_id is None:
            raise gr.Error("This conversation is not open in this browser.")
        item_id, kind = str(data.get("item", "")), str(data.get("kind", ""))
        with user_errors():
            marquee.feedback(conversation_id, item_id, kind)  # type: ignore[arg-type]
        return transcript(marquee, conversation_id)

    def on_reset(token: object):
        conversation_id = opened(token)
        if conversation_id is None:
            return []
        marquee.reset(conversation_id)
        return transcript(marquee, conversation_id)

    def on_about(age: str | None, gender: str | None, occupation: str | None, token: object):
        conversation_id = opened(token)
        if conversation_id is not None:  # before the first message, the choices go with it
            with user_errors():
                marquee.set_demographics(conversation_id, about_you(age, gender, occupation))

    def on_delete(token: object):
        conversation_id = opened(token)
        if conversation_id is not None:
            marquee.delete_user(marquee.user_of(conversation_id))
        gr.Info("Your conversation, feedback and what you told about yourself are deleted.")
        return [None, [], SKIP, SKIP, SKIP, gr.update(visible=False), whose(None)]

    with gr.Blocks(title="Marquee", fill_height=True) as demo:
        token = gr.BrowserState(None, storage_key="marquee_ui", secret=guard.browser_state_secret())
        with gr.Sidebar(label="Options", open=False, elem_id="mq-options", position="right") as options:
            gr.Markdown("### About you (optional)\nHelps the first recommendations. Stored with your "
                        "conversation only if you choose something; deleted with it.")
            age = gr.Dropdown(AGE_CHOICES, value=SKIP, label="Age range", elem_id="mq-age")
            gender = gr.Dropdown(GENDER_CHOICES, value=SKIP, label="Gender", elem_id="mq-gender")
            occupation = gr.Dropdown(OCCUPATION_CHOICES, value=SKIP, label="Occupation", elem_id="mq-occupation")
            gr.Markdown("### Your data\nDeletes this conversation, your feedback and what you told about "
                        "yourself from the server.")
            who = gr.Markdown(whose(None), elem_id="mq-who")
            delete_button = gr.Button("Delete my data", variant="stop", size="sm", elem_id="mq-delete")
            confirm_button = gr.Button("Yes, delete everything", variant="stop", size="sm", visible=False,
                                       elem_id="mq-delete-confirm")
        gr.Markdown("## Marquee: movie picks", elem_id="mq-title")
        chatbot = gr.Chatbot(elem_id="mq-chat", show_label=False, buttons=[], latex_delimiters=[],
                             placeholder=GREETING, height="68vh", min_height=320, layout="bubble",
                             feedback_options=None)
        box = gr.MultimodalTextbox(elem_id="mq-input", show_label=False, file_types=["image"], file_count="single",
                                   sources=["upload"], placeholder="Type what you'd like to watch; attach a poster "
                                   "to find ones that look like it", submit_btn="Send", max_lines=4)
        with gr.Row(elem_id="mq-tools"):
            options_button = gr.Button("About you & your data", size="sm", elem_id="mq-open-options", min_width=100)
            reset_button = gr.Button("Reset", size="sm", elem_id="mq-reset", min_width=100)
        bridge = gr.HTML("", js_on_load=BRIDGE_JS, elem_id="mq-bridge", visible="hidden")

        private = {"api_visibility": "private"}
        box.submit(on_send, [box, token, age, gender, occupation], [box, chatbot, token, who], **private)
        bridge.click(on_card, [token], [chatbot], **private)
        reset_button.click(on_reset, [token], [chatbot], **private)
        chatbot.clear(on_reset, [token], [chatbot], **private)  # the transcript's own "Clear" is a start over too
        options_button.click(lambda: gr.Sidebar(open=True), None, [options], **private)
        for dropdown in (age, gender, occupation):
            dropdown.input(on_about, [age, gender, occupation, token], None, **private)
        delete_button.click(lambda: gr.update(visible=True), None, [confirm_button], **private)
        confirm_button.click(on_delete, [token], [token, chatbot, age, gender, occupation, confirm_button, who],
                             **private)
        demo.load(on_load, [token], [token, chatbot, age, gender, occupation, who], **private)

        add_client_api(marquee, guard)
    return demo


def add_client_api(marquee: Marquee, guard: Guard) -> None:
    """The gradio_client API: each call sends a site key in the X-Marquee-Key header and reaches
    only the conversations that key created (as the JSON API)."""

    def site_key(request: gr.Request | None) -> str:
        headers = getattr(request, "headers", None) or {}
        return guard.site_key(headers.get(KEY_HEADER.lower()), headers.get("origin"))

    def owned(conversation_id: str, key: str) -> str:
        return guard.owned_by_key(conversation_id, key).id

    def api_recommend(message: str, conversation_id: str = "", picture: str = "",
                      request: gr.Request = None) -> dict:  # type: ignore[assignment]
        """One turn; an empty conversation_id starts a new conversation. ``picture``: an optional
        base64 JPEG/PNG/WebP sent with the message ("more like this")."""
        with user_errors():
            key = site_key(request)
            image = decode_picture(picture) if picture else None
            conversation = owned(conversation_id, key) if conversation_id else \
                marquee.new_conversation(owner_key=key)
            return result_json(marquee.respond(conversation, message, image=image))

    def api_feedback(conversation_id: str, item_id: str, kind: str,
                     request: gr.Request = None) -> dict:  # type: ignore[assignment]
        """Record liked / disliked / seen on an item."""
        with user_errors():
            state = marquee.feedback(owned(conversation_id, site_key(request)), item_id, kind)  # type: ignore[arg-type]
        return {"conversation": conversation_id, "liked": state.liked_ids,
                "disliked": state.disliked_ids, "seen": state.seen_ids}

    def api_reset(conversation_id: str, request: gr.Request = None) -> dict:  # type: ignore[assignment]
        """Clear the conversation's preferences."""
        with user_errors():
            marquee.reset(owned(conversation_id, site_key(request)))
        return {"conversation": conversation_id, "reset": True}

    gr.api(api_recommend, api_name="recommend")
    gr.api(api_feedback, api_name="feedback")
    gr.api(api_reset, api_name="reset")


# Gradio scopes CSS to its content; the page's own side padding is set from <head> instead.
HEAD = "<style>@media (max-width: 640px) {.gradio-container .main.app {padding-left: 8px; padding-right: 8px}}</style>"
CSS = """
#mq-title h2 {margin: 0; font-size: 1.25rem}
#mq-chat .bot-row, #mq-chat .bot-row .flex-wrap, #mq-chat .bot-row .message {max-width: 100% !important}
#mq-chat .mq-cards {list-style: none; margin: 10px 0 0; padding: 0; display: grid; gap: 10px;
  grid-template-columns: repeat(auto-fill, minmax(300px, 1fr))}
#mq-chat .mq-card {display: flex; gap: 10px; margin: 0; padding: 10px; border: 1px solid var(--border-color-primary);
  border-radius: 10px; background: var(--background-fill-primary); min-width: 0}
#mq-chat .mq-card::marker {content: none}
#mq-chat .mq-poster {flex: none; width: 64px; height: 96px; margin: 0; object-fit: cover; border-radius: 6px;
  background: var(--background-fill-secondary)}
#mq-chat .mq-body {display: flex; flex-direction: column; gap: 4px; min-width: 0; flex: 1}
#mq-chat .mq-body h4 {margin: 0; font-size: 0.98rem; line-height: 1.3; overflow-wrap: anywhere}
#mq-chat .mq-num {display: inline-block; min-width: 1.4em; padding: 0 4px; margin-right: 2px; border-radius: 6px;
  font-size: 0.8rem; text-align: center; background: var(--color-accent-soft); color: var(--body-text-color)}
#mq-chat .mq-meta {margin: 0; font-size: 0.82rem; color: var(--body-text-color); opacity: 0.75; overflow-wrap: anywhere}
#mq-chat .mq-why {margin: 0; font-size: 0.88rem; overflow-wrap: anywhere}
#mq-chat .mq-note {margin: 4px 0 0; font-size: 0.82rem; font-style: italic; color: var(--body-text-color); opacity: 0.75}
#mq-chat .mq-actions {display: flex; flex-wrap: wrap; gap: 6px; margin-top: auto; padding-top: 4px}
#mq-chat .mq-act {display: inline-flex; align-items: center; gap: 4px; height: 28px; box-sizing: border-box;
  margin: 0; padding: 0 10px; font-size: 0.8rem;
  line-height: 1.4; border: 1px solid var(--border-color-primary); border-radius: 999px; cursor: pointer;
  background: var(--background-fill-primary); color: var(--body-text-color)}
#mq-chat .mq-act:hover {border-color: var(--color-accent)}
#mq-chat .mq-act:focus-visible {outline: 2px solid var(--color-accent); outline-offset: 2px}
#mq-chat .mq-act.mq-on {background: var(--color-accent); border-color: var(--color-accent); color: white}
#mq-chat .mq-act.mq-busy {opacity: 0.6}
#mq-chat .mq-act::before {content: ""; width: 14px; height: 14px; background: currentColor;
  -webkit-mask: var(--mq-icon) center / contain no-repeat; mask: var(--mq-icon) center / contain no-repeat}
#mq-chat .mq-act[name=liked] {--mq-icon: url("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24'%3E%3Cpath d='M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z'/%3E%3C/svg%3E")}
#mq-chat .mq-act[name=disliked] {--mq-icon: url("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24'%3E%3Cpath d='M15 3H6c-.83 0-1.54.5-1.84 1.22l-3.02 7.05c-.09.23-.14.47-.14.73v2c0 1.1.9 2 2 2h6.31l-.95 4.57-.03.32c0 .41.17.79.44 1.06L9.83 23l6.59-6.59c.36-.36.58-.86.58-1.41V5c0-1.1-.9-2-2-2zm4 0v12h4V3h-4z'/%3E%3C/svg%3E")}
#mq-chat .mq-act[name=seen] {--mq-icon: url("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24'%3E%3Cpath d='M12 4.5C7 4.5 2.73 7.61 1 12c1.73 4.39 6 7.5 11 7.5s9.27-3.11 11-7.5c-1.73-4.39-6-7.5-11-7.5zM12 17a5 5 0 1 1 0-10 5 5 0 0 1 0 10zm0-8a3 3 0 1 0 0 6 3 3 0 0 0 0-6z'/%3E%3C/svg%3E")}
#mq-chat .mq-sr {position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap}
#mq-tools {justify-content: flex-end; gap: 8px}
#mq-tools button {flex: none}
@media (max-width: 640px) {
  #mq-chat .message-row {margin-left: 2px !important; margin-right: 2px !important}
  #mq-chat .mq-act {padding: 0 8px; gap: 3px}
  #mq-chat .mq-actions {gap: 4px}
  #mq-chat .mq-cards {grid-template-columns: 1fr; gap: 8px}
  #mq-chat .mq-poster {width: 48px; height: 72px}
  #mq-chat .mq-card {padding: 8px}
  #mq-title h2 {font-size: 1.05rem}
}
"""
