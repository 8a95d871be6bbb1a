"""The catalog-aware rule parser, one module per kind of expression it reads.

It works offline and in a few milliseconds. One reading (``chat.rules.parser.RuleParser``) goes:

1. clean the text (control characters out, capped length) and tokenize it (``utterance``);
2. correct words that exist nowhere (catalog titles, people, lexicon, common words) to the
   closest known word ("jurasic" -> "jurassic", "thriler" -> "thriller") (``speller``);
3. find titles and people: every word span that is a catalog title or name. A title made of
   everyday words ("Up", "It", "Heat wave") is only taken when there is evidence that a title is
   meant: quotes, a cue before it ("like", "seen", "hated"), title-case in the middle of a
   sentence, or being one of the items just shown (``titles``, ``people``, ``names``);
4. find references to shown items ("the second one", "#3", "all of those") (``references``),
   years and decades (``years``), runtimes (``runtimes``), then the lexicon's phrases: genres,
   moods, critiques, negation, intents (``phrases``, ``critiques``);
5. walk the utterance left to right: a negation ("no", "nothing with", "anything but", "I
   don't want") rules out what follows it up to a comma or a "but"; "seen" / "hated" / "loved"
   say what happens to the titles after them (``walk``, ``negation``, ``slots``);
6. decide the intent and keep the words nothing claimed as the free-text ``query``
   (``intent``, ``result``).

Nothing is imported here, so ``chat.parser`` and the modules of this package import each other
without cycles.
"""
