"""Marquee's browser UI (Gradio): a thin adapter over ``marquee.service.Marquee``.

``python app.py`` starts it (the Hugging Face Spaces convention), as does ``marquee serve``.
Nothing here decides anything about recommendations: it renders replies and forwards clicks.
"""

from __future__ import annotations

import html
import logging
import os
from contextlib import contextmanager

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from marquee.api_models import item_image_url  # noqa: E402
from marquee.errors import BadInput, MarqueeError, NotFound  # noqa: E402
from marquee.service import GivenDemographics, Marquee, TurnResult  # noqa: E402
from marquee.settings import Settings  # noqa: E402
from marquee.streaming import turn_pieces  # noqa: E402
from retrieval.demographics import AGE_GROUPS, OCCUPATIONS  # noqa: E402

log = logging.getLogger(__name__)

N_CARDS = 5
SKIP = "Prefer not to say"
AGE_CHOICES = [SKIP, *AGE_GROUPS]
GENDER_CHOICES = [SKIP, "Female", "Male"]  # the rating data behind cold start records only these
OCCUPATION_CHOICES = [SKIP, *sorted(OCCUPATIONS, key=str.lower)]
STREAM_CHUNK = 24  # characters per streamed update
MAX_PICTURE_BYTES = 20_000_000  # retrieval.images refuses larger files; read one byte more to let it say so
CSS = """
.mq-card {border: 1px solid #ddd; border-radius: 10px; padding: 10px 12px; min-height: 120px}
.mq-card h4 {margin: 0 0 4px 0}
.mq-card .mq-meta {color: #666; font-size: 0.9em}
.mq-card .mq-why {margin-top: 6px}
.mq-card img {max-height: 160px; float: right; margin-left: 8px; border-radius: 6px}
"""


def card_html(item: dict) -> str:
    """One recommendation card; every field is escaped (titles and whys are data, not markup)."""
    esc = html.escape
    year = f" ({item['year']})" if item.get("year") else ""
    genres = ", ".join(item.get("genres") or []) or "genres unknown"
    people = item.get("people") or {}
    credit = ""
    if people.get("directors"):
        credit = f"<div class='mq-meta'>Directed by {esc(', '.join(people['directors'][:2]))}</div>"
    image = ""
    src = image_url(item["id"], item.get("image"))
    if src:
        image = f"<img src='{esc(src, quote=True)}' alt='poster of {esc(item['title'], quote=True)}'>"
    return (
        f"<div class='mq-card'>{image}<h4>{esc(item['title'])}{esc(year)}</h4>"
        f"<div class='mq-meta'>{esc(genres)}</div>{credit}<div class='mq-why'>{esc(item.get('why', ''))}</div></div>"
    )


def about_you(age: str | None, gender: str | None, occupation: str | None) -> GivenDemographics:
    """The "About you" choices as given ("Prefer not to say" = not given)."""
    given = [None if value in (None, "", SKIP) else value for value in (age, gender, occupation)]
    return GivenDemographics(age=given[0], gender=given[1], occupation=given[2])


def reply_markdown(result: TurnResult) -> str:
    text = html.escape(result.reply.text)  # the reply can echo the user's words: show them as text
    if result.reply.notes:
        text += "\n\n" + "\n".join(f"_Note: {html.escape(note)}_" for note in result.reply.notes)
    return text


def image_url(item_id: str, image: str | None) -> str | None:
    """A card's poster as a browser loads it: http(s) as is, a local file through the API (never its path)."""
    if not image:
        return None
    return image if image.startswith(("http://", "https://")) else item_image_url(item_id)


def result_json(result: TurnResult) -> dict:
    """The JSON shape shared by ``marquee recommend --json`` and the Gradio API."""
    return {
        "conversation": result.conversation_id,
        "reply": result.reply.text,
        "question": result.reply.question,
        "notes": result.reply.notes,
        "items": [
            {"id": c.id, "title": c.title, "year": c.year, "genres": c.genres, "people": c.people,
             "image": image_url(c.id, c.image), "why": c.why}
            for c in result.reply.items
        ],
    }


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
    """Turn Marquee's errors into messages the caller sees (gr.Error is shown, not hidden)."""
    try:
        yield
    except MarqueeError as exc:
        raise gr.Error(str(exc)) from exc


def build_ui(marquee: Marquee) -> gr.Blocks:
    """The Blocks app. ``api_name``s: ``recommend``, ``feedback``, ``reset`` (see README)."""

    def ensure_conversation(conversation_id: str | None) -> str:
        if conversation_id and marquee.has_conversation(conversation_id):
            return conversation_id
        return marquee.new_conversation()

    def cards_update(items: list[dict]) -> list:
        updates = []
        for slot in range(N_CARDS):
            item = items[slot] if slot < len(items) else None
            updates.append(gr.update(value=card_html(item) if item else "", visible=item is not None))
            updates.append(gr.update(visible=item is not None))
        return updates

    def on_load(conversation_id: str | None):
        conversation_id = ensure_conversation(conversation_id)
        messages, items = [], []
        for turn in marquee.turns(conversation_id):
            reply = turn.reply_model()
            messages += [{"role": "user", "content": turn.utterance}, {"role": "assistant", "content": reply.text}]
            items = [c.model_dump() for c in reply.items] if reply.items else items
        profile = marquee.demographics(conversation_id)
        about = [profile.age_group or SKIP, {"F": "Female", "M": "Male"}.get(profile.gender or "", SKIP),
                 profile.occupation or SKIP]
        return [conversation_id, messages, items, *cards_update(items), *about]

    def on_send(message: str, history: list, conversation_id: str | None, items: list,
                age: str | None = None, gender: str | None = None, occupation: str | None = None,
                picture_path: str | None = None):
        conversation_id = ensure_conversation(conversation_id)
        said = message if not picture_path else f"{message} 🖼️ (picture)".strip()
        history = [*history, {"role": "user", "content": said}]
        written = ""  # a model's reply text, shown as it is written
        try:
            marquee.set_demographics(conversation_id, about_you(age, gender, occupation))
            picture = read_picture(picture_path)
            for piece in turn_pieces(lambda on_text: marquee.respond(conversation_id, message, image=picture,
                                                                     on_text=on_text)):
                if not isinstance(piece, str):
                    result = piece
                    continue
                written += piece
                yield ["", [*history, {"role": "assistant", "content": written}], conversation_id, items,
                       *[gr.update() for _ in range(2 * N_CARDS)], gr.update()]
        except MarqueeError as exc:
            history.append({"role": "assistant", "content": f"⚠️ {exc}"})
            yield ["", history, conversation_id, items, *cards_update(items), gr.update()]
            return
        text = reply_markdown(result)
        for end in range(STREAM_CHUNK, 0 if written else len(text), STREAM_CHUNK):  # a template reply, in chunks
            yield ["", [*history, {"role": "assistant", "content": text[:end]}], conversation_id, items,
                   *[gr.update() for _ in range(2 * N_CARDS)], gr.update()]
        new_items = [c.model_dump() for c in result.reply.items] or items
        history.append({"role": "assistant", "content": text})
        yield ["", history, conversation_id, new_items, *cards_update(new_items), None]

    def on_press(slot: int, kind: str, conversation_id: str | None, items: list, history: list):
        if not conversation_id or slot >= len(items):
            return history
        item = items[slot]
        try:
            marquee.feedback(conversation_id, item["id"], kind)
        except (MarqueeError, NotFound) as exc:
            return [*history, {"role": "assistant", "content": f"⚠️ {exc}"}]
        verb = {"liked": "👍 Noted: you liked", "disliked": "👎 Noted: you disliked", "seen": "👁 Noted: you've seen"}[kind]
        return [*history, {"role": "assistant", "content": f"{verb} {html.escape(item['title'])}. I'll take it into account."}]

    def on_reset(conversation_id: str | None):
        conversation_id = ensure_conversation(conversation_id)
        marquee.reset(conversation_id)
        message = {"role": "assistant", "content": "Preferences cleared. What would you like to watch?"}
        return [conversation_id, [message], [], *cards_update([])]

    with gr.Blocks(title="Marquee") as demo:
        gr.Markdown("## 🎬 Marquee — tell me what you'd like to watch")
        conversation = gr.BrowserState(None, storage_key="marquee_conversation")
        shown = gr.State([])
        chatbot = gr.Chatbot(height=420, label="Conversation", elem_id="mq-chat")
        with gr.Row():
            box = gr.Textbox(placeholder="e.g. a feel-good 90s comedy, nothing with Adam Sandler",
                             show_label=False, scale=8, elem_id="mq-input", max_lines=4)
            send_button = gr.Button("Send", variant="primary", scale=1, elem_id="mq-send")
            reset_button = gr.Button("Reset", scale=1, elem_id="mq-reset")
        with gr.Accordion("More like a picture (optional)", open=False, elem_id="mq-picture-box"):
            picture = gr.Image(type="filepath", sources=["upload", "clipboard"], label="A poster or any picture",
                               elem_id="mq-picture", height=180)
            gr.Markdown("Send it with a message (or an empty one): I'll look for posters that look like it.")
        with gr.Accordion("About you (optional): helps the first recommendations", open=False, elem_id="mq-about"):
            with gr.Row():
                age = gr.Dropdown(AGE_CHOICES, value=SKIP, label="Age range", elem_id="mq-age")
                gender = gr.Dropdown(GENDER_CHOICES, value=SKIP, label="Gender", elem_id="mq-gender")
                occupation = gr.Dropdown(OCCUPATION_CHOICES, value=SKIP, label="Occupation", elem_id="mq-occupation")
            gr.Markdown("Stored with your profile only if you choose something; deleted with it.")
        card_outputs: list = []
        with gr.Row():
            for slot in range(N_CARDS):
                with gr.Column(min_width=180):
                    card = gr.HTML(visible=False, elem_id=f"mq-card-{slot}")
                    with gr.Row(visible=False) as buttons:
                        for kind, label in (("liked", "👍"), ("disliked", "👎"), ("seen", "👁 Seen")):
                            gr.Button(label, size="sm", elem_id=f"mq-{kind}-{slot}").click(
                                lambda c, i, h, s=slot, k=kind: on_press(s, k, c, i, h),
                                [conversation, shown, chatbot], [chatbot], api_visibility="private",
                            )
                    card_outputs += [card, buttons]
        outputs = [box, chatbot, conversation, shown, *card_outputs, picture]
        for trigger in (box.submit, send_button.click):
            trigger(on_send, [box, chatbot, conversation, shown, age, gender, occupation, picture], outputs,
                    api_visibility="private")
        reset_button.click(on_reset, [conversation], [conversation, chatbot, shown, *card_outputs], api_visibility="private")
        demo.load(on_load, [conversation], [conversation, chatbot, shown, *card_outputs, age, gender, occupation],
                  api_visibility="private")

        def api_recommend(message: str, conversation_id: str = "", picture: str = "") -> dict:
            """One turn; an empty conversation_id starts a new conversation. ``picture``: an optional
            base64 JPEG/PNG/WebP sent with the message ("more like this")."""
            from marquee.web import decode_picture

            with user_errors():
                image = decode_picture(picture) if picture else None
                return result_json(marquee.respond(ensure_conversation(conversation_id or None), message, image=image))

        def api_feedback(conversation_id: str, item_id: str, kind: str) -> dict:
            """Record liked / disliked / seen on an item."""
            with user_errors():
                state = marquee.feedback(conversation_id, item_id, kind)
            return {"conversation": conversation_id, "liked": state.liked_ids,
                    "disliked": state.disliked_ids, "seen": state.seen_ids}

        def api_reset(conversation_id: str) -> dict:
            """Clear the conversation's preferences."""
            with user_errors():
                marquee.reset(conversation_id)
            return {"conversation": conversation_id, "reset": True}

        gr.api(api_recommend, api_name="recommend")
        gr.api(api_feedback, api_name="feedback")
        gr.api(api_reset, api_name="reset")
    return demo


def main(settings: Settings | None = None) -> None:
    """Serve the whole web app with uvicorn on ``settings.host:settings.port`` (``settings.workers``):
    this UI at ``/``, the JSON API under ``/api/v1``, the widget at ``/widget.js``, ``/healthz``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from marquee.web import serve

    serve(settings or Settings())


if __name__ == "__main__":
    main()
