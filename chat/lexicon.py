"""Words the rule parser knows: genre synonyms, moods and themes, critiques, time and length
words, references to shown items, negation, intents. Data only; the rule parser (``chat.rules``)
reads it.

Phrases are written as people type them; the parser folds them with the same tokenizer it
applies to utterances (``"sci-fi"`` also matches ``sci fi``; plurals of genre words are added
by the parser). Genre names are MovieLens's; the parser maps them onto the catalog's spelling.
"""

from __future__ import annotations

# --- genres -------------------------------------------------------------------------------
# phrase -> MovieLens genre names. Words that name a topic more than a genre ("music",
# "sports", "history", "biopic") are keywords below, not genres.
GENRE_PHRASES: dict[str, tuple[str, ...]] = {
    "action": ("Action",), "action packed": ("Action",), "action-packed": ("Action",),
    "shoot em up": ("Action",), "shoot-em-up": ("Action",),
    "adventure": ("Adventure",), "adventures": ("Adventure",), "adventurous": ("Adventure",),
    "animated": ("Animation",), "animation": ("Animation",), "cartoon": ("Animation",),
    "cartoons": ("Animation",), "anime": ("Animation",), "stop motion": ("Animation",),
    "stop-motion": ("Animation",), "claymation": ("Animation",),
    "comedy": ("Comedy",), "comedic": ("Comedy",), "funny": ("Comedy",), "hilarious": ("Comedy",),
    "humorous": ("Comedy",), "comedies": ("Comedy",),
    "rom com": ("Romance", "Comedy"), "romcom": ("Romance", "Comedy"), "rom-com": ("Romance", "Comedy"),
    "romantic comedy": ("Romance", "Comedy"), "romantic comedies": ("Romance", "Comedy"),
    "crime": ("Crime",),
    "documentary": ("Documentary",), "documentaries": ("Documentary",), "docu": ("Documentary",),
    "doc": ("Documentary",), "docs": ("Documentary",),
    "drama": ("Drama",), "dramatic": ("Drama",),
    "fantasy": ("Fantasy",), "fantasies": ("Fantasy",),
    "film noir": ("Film-Noir",), "film-noir": ("Film-Noir",), "noir": ("Film-Noir",),
    "horror": ("Horror",), "scary": ("Horror",), "spooky": ("Horror",), "frightening": ("Horror",),
    "terrifying": ("Horror",),
    "imax": ("IMAX",),
    "musical": ("Musical",), "musicals": ("Musical",),
    "mystery": ("Mystery",), "mysteries": ("Mystery",), "whodunit": ("Mystery",),
    "whodunnit": ("Mystery",), "whodunits": ("Mystery",), "murder mystery": ("Mystery",),
    "romance": ("Romance",), "romantic": ("Romance",), "love story": ("Romance",),
    "love stories": ("Romance",),
    "sci-fi": ("Sci-Fi",), "sci fi": ("Sci-Fi",), "scifi": ("Sci-Fi",), "science fiction": ("Sci-Fi",),
    "science-fiction": ("Sci-Fi",),
    "thriller": ("Thriller",), "suspense": ("Thriller",), "suspenseful": ("Thriller",),
    "war": ("War",), "war movie": ("War",), "anti-war": ("War",),
    "western": ("Western",), "westerns": ("Western",), "cowboy": ("Western",), "cowboys": ("Western",),
    "spaghetti western": ("Western",),
}

# Nouns that mean "a movie": dropped after a genre word and from the free-text query.
MOVIE_NOUNS: frozenset[str] = frozenset(
    "movie movies film films flick flicks picture pictures pic pics one ones title titles stuff "
    "thing things show shows feature features cinema".split()
)

# --- audience -----------------------------------------------------------------------------
AUDIENCE_PHRASES: dict[str, str] = {
    "kids": "kids", "kid": "kids", "children": "kids", "child": "kids", "for kids": "kids",
    "for children": "kids", "kid friendly": "kids", "kid-friendly": "kids", "kids friendly": "kids",
    "child friendly": "kids", "family": "kids", "family friendly": "kids", "family-friendly": "kids",
    "whole family": "kids", "for the family": "kids", "little ones": "kids", "toddler": "kids",
    "toddlers": "kids", "little kids": "kids", "young kids": "kids", "small kids": "kids",
    "my son": "kids", "my daughter": "kids", "my kids": "kids", "the kids": "kids",
    "grandkids": "kids", "my nephew": "kids", "my niece": "kids", "kiddie": "kids", "kiddy": "kids",
    "children's": "kids", "childrens": "kids", "all ages": "kids", "g rated": "kids", "g-rated": "kids",
    "suitable for kids": "kids", "suitable for children": "kids", "age appropriate": "kids",
    "adults": "adults", "adult": "adults", "for adults": "adults", "grown ups": "adults",
    "grown-ups": "adults", "grownups": "adults", "grown up": "adults", "grown-up": "adults",
    "mature": "adults", "r rated": "adults", "r-rated": "adults", "not for kids": "adults",
    "adults only": "adults",
}

# "my little daughter", "our 8 year old son": an owner, an optional age word, a child noun.
KID_OWNERS: tuple[str, ...] = ("my", "our", "the", "with my", "with the", "for my", "for our")
KID_AGES: tuple[str, ...] = ("", "little", "young", "small", "younger", "youngest", "baby") + tuple(
    f"{n} year old" for n in range(2, 13)) + tuple(f"{n}-year-old" for n in range(2, 13))
KID_NOUNS: tuple[str, ...] = (
    "son", "sons", "daughter", "daughters", "kid", "kids", "child", "children", "boy", "boys", "girl",
    "girls", "nephew", "nephews", "niece", "nieces", "grandson", "granddaughter", "grandchildren",
    "toddler", "little ones", "one", "ones",
)

# --- moods and themes (keywords) ------------------------------------------------------------
# phrase -> the keyword recorded. Paraphrases map onto one usual wording.
KEYWORD_PHRASES: dict[str, str] = {
    "feel good": "feel-good", "feel-good": "feel-good", "feelgood": "feel-good",
    "uplifting": "uplifting", "heartwarming": "heartwarming", "heart warming": "heartwarming",
    "heart-warming": "heartwarming", "wholesome": "wholesome", "inspiring": "inspiring",
    "inspirational": "inspiring", "motivational": "inspiring", "cheerful": "cheerful",
    "lighthearted": "lighthearted", "light hearted": "lighthearted", "light-hearted": "lighthearted",
    "fun": "fun", "entertaining": "fun", "happy": "happy", "cute": "cute", "sweet": "sweet",
    "charming": "charming", "quirky": "quirky", "witty": "witty", "clever": "clever", "smart": "smart",
    "sad": "sad", "depressing": "depressing", "tearjerker": "tearjerker", "tear jerker": "tearjerker",
    "tear-jerker": "tearjerker", "emotional": "emotional", "moving": "moving", "touching": "touching",
    "heartbreaking": "heartbreaking", "bittersweet": "bittersweet", "melancholy": "melancholy",
    "make me cry": "sad", "makes me cry": "sad", "want to cry": "sad", "wanna cry": "sad", "cry": "sad",
    "a good cry": "sad", "weep": "sad", "tissues": "sad", "sob": "sad",
    "surprise me": "surprise", "hidden gem": "surprise", "hidden gems": "surprise", "underrated": "surprise",
    "something different": "surprise", "off the beaten path": "surprise", "lesser known": "surprise",
    "lesser-known": "surprise", "not mainstream": "surprise",
    "cosy": "cosy", "cozy": "cosy", "comfort movie": "cosy", "comfort film": "cosy", "rainy day": "cosy",
    "rainy sunday": "cosy",
    "dark": "dark", "gritty": "gritty", "bleak": "bleak", "grim": "grim", "disturbing": "disturbing",
    "violent": "violent", "gory": "gory", "gore": "gory", "bloody": "gory", "gruesome": "gory",
    "cheesy": "cheesy", "campy": "campy", "corny": "cheesy", "sappy": "sappy", "mushy": "sappy",
    "intense": "intense", "exciting": "exciting", "thrilling": "exciting", "fast paced": "fast-paced",
    "fast-paced": "fast-paced", "slow": "slow", "slow burn": "slow burn", "slow-burn": "slow burn",
    "slow paced": "slow", "slow-paced": "slow", "relaxing": "relaxing", "calm": "calm",
    "thoughtful": "thoughtful", "thought provoking": "thought-provoking",
    "thought-provoking": "thought-provoking", "philosophical": "philosophical", "deep": "deep",
    "cerebral": "cerebral", "intelligent": "smart",
    "mind bending": "mind-bending", "mind-bending": "mind-bending", "mindbending": "mind-bending",
    "mind blowing": "mind-bending", "mind-blowing": "mind-bending", "mind fuck": "mind-bending",
    "trippy": "trippy", "surreal": "surreal", "weird": "weird", "bizarre": "weird", "strange": "weird",
    "twist ending": "twist ending", "twist": "twist ending", "twists": "twist ending",
    "plot twist": "twist ending", "plot twists": "twist ending", "twisty": "twist ending",
    "surprise ending": "twist ending", "unexpected ending": "twist ending",
    "unpredictable": "twist ending", "cant guess the ending": "twist ending",
    "can't guess the ending": "twist ending", "cant predict the ending": "twist ending",
    "can't predict the ending": "twist ending", "didnt see coming": "twist ending",
    "didn't see coming": "twist ending", "never saw coming": "twist ending",
    "classic": "classic", "classics": "classic", "old school": "classic", "golden age": "classic",
    "oldie": "classic", "oldies": "classic", "cult": "cult", "cult classic": "cult classic",
    "old": "old", "black and white": "black and white", "silent": "silent",
    "epic": "epic", "blockbuster": "blockbuster", "indie": "indie", "independent": "indie",
    "foreign": "foreign", "subtitled": "foreign", "arthouse": "arthouse", "art house": "arthouse",
    "oscar winning": "oscar", "oscar-winning": "oscar", "oscar": "oscar", "oscars": "oscar",
    "award winning": "award-winning", "award-winning": "award-winning", "acclaimed": "acclaimed",
    "critically acclaimed": "acclaimed",
    "heist": "heist", "heists": "heist", "robbery": "heist", "bank robbery": "heist",
    "mafia": "mafia", "mob": "mafia", "mobster": "mafia", "mobsters": "mafia", "gangster": "gangster",
    "gangsters": "gangster", "cop": "cop", "cops": "cop", "police": "police", "detective": "detective",
    "detectives": "detective", "serial killer": "serial killer", "serial killers": "serial killer",
    "spy": "spy", "spies": "spy", "espionage": "spy", "assassin": "assassin", "hitman": "hitman",
    "revenge": "revenge", "vengeance": "revenge", "prison": "prison", "prison break": "prison",
    "courtroom": "courtroom", "legal": "courtroom", "lawyer": "courtroom", "conspiracy": "conspiracy",
    "psychological": "psychological", "slasher": "slasher", "slashers": "slasher", "survival": "survival", "disaster": "disaster",
    "martial arts": "martial arts", "kung fu": "martial arts", "karate": "martial arts",
    "samurai": "samurai", "ninja": "ninja", "ninjas": "ninja", "car chase": "car chase",
    "car chases": "car chase", "cars": "cars", "racing": "racing", "explosions": "explosions",
    "superhero": "superhero", "superheroes": "superhero", "super hero": "superhero",
    "superheros": "superhero", "comic book": "comic book", "comic books": "comic book",
    "space": "space", "outer space": "space", "aliens": "aliens", "alien": "aliens",
    "time travel": "time travel", "time-travel": "time travel", "robots": "robots", "robot": "robots",
    "artificial intelligence": "artificial intelligence", "dystopian": "dystopian",
    "dystopia": "dystopian", "post apocalyptic": "post-apocalyptic",
    "post-apocalyptic": "post-apocalyptic", "apocalypse": "post-apocalyptic", "futuristic": "futuristic",
    "cyberpunk": "cyberpunk", "hacker": "hackers", "hackers": "hackers",
    "zombie": "zombies", "zombies": "zombies", "vampire": "vampires", "vampires": "vampires",
    "werewolf": "werewolves", "werewolves": "werewolves", "ghost": "ghosts", "ghosts": "ghosts",
    "haunted": "haunted house", "haunted house": "haunted house", "monster": "monsters",
    "monsters": "monsters", "creature": "monsters", "demons": "demons", "possession": "possession",
    "witch": "witches", "witches": "witches", "magic": "magic", "wizard": "wizards",
    "wizards": "wizards", "dragons": "dragons", "dragon": "dragons", "fairy tale": "fairy tale",
    "fairytale": "fairy tale", "fairy tales": "fairy tale", "princess": "princess",
    "pirates": "pirates", "pirate": "pirates", "dinosaurs": "dinosaurs", "dinosaur": "dinosaurs",
    "shark": "sharks", "sharks": "sharks", "animals": "animals", "animal": "animals", "dogs": "dogs",
    "dog": "dogs", "cats": "cats", "horses": "horses",
    "music": "music", "musician": "music", "musicians": "music", "band": "music", "rock and roll": "music",
    "hip hop": "hip hop", "dance": "dance", "dancing": "dance", "singing": "singing",
    "sports": "sports", "sport": "sports", "boxing": "boxing", "football": "football",
    "soccer": "soccer", "baseball": "baseball", "basketball": "basketball", "hockey": "hockey",
    "true story": "true story", "based on a true story": "true story", "real events": "true story",
    "true events": "true story", "biopic": "biopic", "biography": "biopic", "biographical": "biopic",
    "history": "history", "historical": "historical", "period piece": "period", "period drama": "period",
    "costume drama": "period", "medieval": "medieval", "ancient rome": "ancient rome",
    "world war 2": "world war ii", "world war ii": "world war ii", "ww2": "world war ii",
    "wwii": "world war ii", "world war 1": "world war i", "wwi": "world war i", "vietnam": "vietnam",
    "cold war": "cold war", "civil war": "civil war", "political": "political", "politics": "political",
    "religion": "religion", "religious": "religion", "coming of age": "coming of age",
    "coming-of-age": "coming of age", "high school": "high school", "college": "college",
    "teen": "teen", "teens": "teen", "teenage": "teen", "friendship": "friendship",
    "family drama": "family", "wedding": "wedding", "weddings": "wedding", "road trip": "road trip",
    "small town": "small town", "new york": "new york", "paris": "paris", "london": "london",
    "christmas": "christmas", "xmas": "christmas", "holiday": "holiday", "holidays": "holiday",
    "halloween": "halloween", "thanksgiving": "thanksgiving", "valentines": "valentine's day",
    "satire": "satire", "satirical": "satire", "parody": "parody", "spoof": "parody",
    "slapstick": "slapstick", "dark comedy": "dark comedy", "black comedy": "dark comedy",
    "absurd": "absurd", "stoner": "stoner", "buddy": "buddy", "buddy cop": "buddy cop",
    "ensemble": "ensemble", "anthology": "anthology", "found footage": "found footage",
    "mockumentary": "mockumentary", "remake": "remake", "sequel": "sequel", "franchise": "franchise",
    "trilogy": "trilogy", "series": "series", "visually stunning": "visually stunning",
    "beautiful": "beautiful", "stunning": "visually stunning", "atmospheric": "atmospheric",
    "realistic": "realistic", "gripping": "gripping", "tense": "tense", "creepy": "creepy",
    "eerie": "creepy", "sexy": "sexy", "erotic": "sexy", "steamy": "sexy",
    "pixar": "pixar", "disney": "disney", "dreamworks": "dreamworks", "ghibli": "ghibli",
    "studio ghibli": "ghibli", "marvel": "marvel", "dc": "dc", "bollywood": "bollywood",
    "french": "french", "japanese": "japanese", "korean": "korean", "italian": "italian",
    "spanish": "spanish", "german": "german", "british": "british", "chinese": "chinese",
    "indian": "indian", "australian": "australian", "scandinavian": "scandinavian",
    "underdog": "underdog", "redemption": "redemption", "betrayal": "betrayal", "love triangle": "love triangle",
    "cooking": "food", "food": "food", "chef": "food", "art": "art", "artist": "art", "painting": "art",
    "writer": "writers", "books": "books", "book": "books", "nature": "nature", "ocean": "ocean",
    "underwater": "ocean", "jungle": "jungle", "desert": "desert", "mountains": "mountains",
    "submarine": "submarine", "plane": "planes", "airplane": "planes", "train": "trains",
    "military": "military", "soldiers": "military", "army": "military", "navy": "military",
    "western town": "western", "outlaws": "outlaws", "gunfight": "gunfights", "shootout": "gunfights",
}

# --- critiques ----------------------------------------------------------------------------
# word -> (attribute, the direction the word itself points). "more X" keeps the direction,
# "less X", "too X", "not too X", "not as X", "not so X" flip it.
CRITIQUE_WORDS: dict[str, tuple[str, str]] = {
    "violent": ("violence", "more"), "violence": ("violence", "more"), "gory": ("violence", "more"),
    "gore": ("violence", "more"), "bloody": ("violence", "more"), "brutal": ("violence", "more"),
    "graphic": ("violence", "more"),
    "funny": ("humor", "more"), "humor": ("humor", "more"), "humour": ("humor", "more"),
    "comedy": ("humor", "more"), "humorous": ("humor", "more"), "silly": ("humor", "more"),
    "goofy": ("humor", "more"), "comedic": ("humor", "more"), "jokes": ("humor", "more"),
    "lighthearted": ("darkness", "less"), "serious": ("humor", "less"),
    "long": ("length", "more"), "lengthy": ("length", "more"), "short": ("length", "less"),
    "recent": ("recency", "more"), "modern": ("recency", "more"), "new": ("recency", "more"),
    "old": ("recency", "less"), "dated": ("recency", "less"), "classic": ("recency", "less"),
    "old fashioned": ("recency", "less"), "old-fashioned": ("recency", "less"),
    "dark": ("darkness", "more"), "grim": ("darkness", "more"), "bleak": ("darkness", "more"),
    "depressing": ("darkness", "more"), "heavy": ("darkness", "more"), "sad": ("darkness", "more"),
    "gritty": ("darkness", "more"), "intense": ("darkness", "more"), "disturbing": ("darkness", "more"),
    "light": ("darkness", "less"), "upbeat": ("darkness", "less"), "cheerful": ("darkness", "less"),
    "happy": ("darkness", "less"), "uplifting": ("darkness", "less"), "fun": ("darkness", "less"),
    "popular": ("popularity", "more"), "mainstream": ("popularity", "more"), "known": ("popularity", "more"),
    "well known": ("popularity", "more"), "well-known": ("popularity", "more"), "famous": ("popularity", "more"),
    "obscure": ("popularity", "less"), "niche": ("popularity", "less"),
    "scary": ("scariness", "more"), "frightening": ("scariness", "more"), "creepy": ("scariness", "more"),
    "spooky": ("scariness", "more"), "terrifying": ("scariness", "more"), "horror": ("scariness", "more"),
    "tame": ("scariness", "less"),
    "complex": ("complexity", "more"), "complicated": ("complexity", "more"), "confusing": ("complexity", "more"),
    "cerebral": ("complexity", "more"), "smart": ("complexity", "more"), "intelligent": ("complexity", "more"),
    "deep": ("complexity", "more"), "challenging": ("complexity", "more"), "thought provoking": ("complexity", "more"),
    "thought-provoking": ("complexity", "more"), "simple": ("complexity", "less"), "easy": ("complexity", "less"),
    "dumb": ("complexity", "less"), "mindless": ("complexity", "less"),
    "romantic": ("romance", "more"), "romance": ("romance", "more"), "mushy": ("romance", "more"),
    "sappy": ("romance", "more"), "lovey dovey": ("romance", "more"), "love story": ("romance", "more"),
    "action": ("action", "more"), "exciting": ("action", "more"), "action packed": ("action", "more"),
    "action-packed": ("action", "more"), "fast paced": ("action", "more"), "fast-paced": ("action", "more"),
    "thrilling": ("action", "more"), "slow": ("action", "less"), "calm": ("action", "less"),
    "boring": ("action", "less"),
}

# Words before a critique word, and whether they keep the word's direction (True: "more violent")
# or flip it (False: "less violent", "too violent").
CRITIQUE_PREFIXES: dict[str, bool] = {
    "more": True, "less": False, "too": False, "not too": False, "not so": False, "not as": False,
    "not that": False, "way too": False, "a bit too": False, "a bit more": True, "a bit less": False,
    "much more": True, "a little more": True, "a little less": False, "even more": True,
}
# Words that carry their own direction (comparatives and set phrases).
CRITIQUE_PHRASES: dict[str, tuple[str, str]] = {
    "bloodier": ("violence", "more"), "gorier": ("violence", "more"), "more brutal": ("violence", "more"),
    "gentler": ("violence", "less"), "tamer": ("violence", "less"), "milder": ("violence", "less"),
    "less blood": ("violence", "less"), "less gore": ("violence", "less"), "without violence": ("violence", "less"),
    "funnier": ("humor", "more"), "sillier": ("humor", "more"), "goofier": ("humor", "more"),
    "lighter": ("darkness", "less"), "happier": ("darkness", "less"), "brighter": ("darkness", "less"),
    "less heavy": ("darkness", "less"), "more upbeat": ("darkness", "less"), "cheerier": ("darkness", "less"),
    "darker": ("darkness", "more"), "grimmer": ("darkness", "more"), "grittier": ("darkness", "more"),
    "bleaker": ("darkness", "more"), "sadder": ("darkness", "more"), "heavier": ("darkness", "more"),
    "newer": ("recency", "more"), "more recent": ("recency", "more"), "more modern": ("recency", "more"),
    "less old": ("recency", "more"), "too old": ("recency", "more"), "too dated": ("recency", "more"),
    "older": ("recency", "less"), "less recent": ("recency", "less"), "too new": ("recency", "less"),
    "too recent": ("recency", "less"), "more classic": ("recency", "less"), "earlier": ("recency", "less"),
    "shorter": ("length", "less"), "quicker": ("length", "less"), "too long": ("length", "less"),
    "not too long": ("length", "less"), "not so long": ("length", "less"), "not very long": ("length", "less"),
    "not that long": ("length", "less"), "not long": ("length", "less"), "short": ("length", "less"),
    "quick": ("length", "less"), "quick watch": ("length", "less"),
    "longer": ("length", "more"), "too short": ("length", "more"), "long movie": ("length", "more"),
    "long film": ("length", "more"), "long one": ("length", "more"), "epic length": ("length", "more"),
    "more popular": ("popularity", "more"), "better known": ("popularity", "more"),
    "more famous": ("popularity", "more"), "too obscure": ("popularity", "more"),
    "less known": ("popularity", "less"), "lesser known": ("popularity", "less"),
    "lesser-known": ("popularity", "less"), "little known": ("popularity", "less"),
    "little-known": ("popularity", "less"), "not well known": ("popularity", "less"),
    "less popular": ("popularity", "less"), "less mainstream": ("popularity", "less"),
    "more obscure": ("popularity", "less"), "too mainstream": ("popularity", "less"),
    "too popular": ("popularity", "less"), "hidden gem": ("popularity", "less"),
    "hidden gems": ("popularity", "less"), "underrated": ("popularity", "less"),
    "under the radar": ("popularity", "less"), "off the beaten path": ("popularity", "less"),
    "popular": ("popularity", "more"), "mainstream": ("popularity", "more"), "well known": ("popularity", "more"),
    "well-known": ("popularity", "more"), "obscure": ("popularity", "less"),
    "scarier": ("scariness", "more"), "creepier": ("scariness", "more"), "spookier": ("scariness", "more"),
    "too tame": ("scariness", "more"), "less scary": ("scariness", "less"),
    "simpler": ("complexity", "less"), "easier": ("complexity", "less"), "easier to follow": ("complexity", "less"),
    "too complicated": ("complexity", "less"), "too confusing": ("complexity", "less"),
    "smarter": ("complexity", "more"), "deeper": ("complexity", "more"), "too simple": ("complexity", "more"),
    "too dumb": ("complexity", "more"), "too predictable": ("complexity", "more"),
    "more romance": ("romance", "more"), "less romance": ("romance", "less"),
    "more action": ("action", "more"), "less action": ("action", "less"), "too slow": ("action", "more"),
    "slower": ("action", "less"), "calmer": ("action", "less"), "more exciting": ("action", "more"),
    "too much action": ("action", "less"),
}

# Words after "more"/"less" that make it a request for more items, not a critique.
CRITIQUE_BLOCKERS: frozenset[str] = MOVIE_NOUNS | frozenset(
    "like of than options suggestions recommendations choices".split()
)

# --- time ---------------------------------------------------------------------------------
DECADE_WORDS: dict[str, int] = {
    "twenties": 1920, "thirties": 1930, "forties": 1940, "fifties": 1950, "sixties": 1960,
    "seventies": 1970, "eighties": 1980, "nineties": 1990, "noughties": 2000, "aughts": 2000,
    "two thousands": 2000, "twenty tens": 2010, "teens": 2010,
}
# "early 90s" / "mid 90s" / "late 90s": offsets of the first and last year inside the decade.
DECADE_PARTS: dict[str, tuple[int, int]] = {"early": (0, 4), "mid": (3, 6), "late": (5, 9)}
# Words meaning "made lately": year_min = reference year (the catalog's newest) - RECENT_YEARS.
RECENT_WORDS: tuple[str, ...] = (
    "recent", "recently released", "latest", "newest", "new release", "new releases", "brand new",
    "contemporary", "modern", "current", "this decade", "nowadays",
)
RECENT_YEARS = 5

# Year-bound cues. Each maps onto how the bound reads the year (or decade) after it.
YEAR_BEFORE = ("before", "prior to", "pre", "earlier than", "older than")           # max = start - 1
YEAR_UNTIL = ("until", "till", "up to", "up until", "through", "no later than", "not after")  # max = end
YEAR_AFTER = ("after", "post", "later than", "newer than", "more recent than")     # min = end + 1
YEAR_SINCE = ("since", "starting", "starting from", "no earlier than", "not before", "from at least")  # min = start
YEAR_IN = ("in", "from", "of", "made in", "released in", "around", "circa", "during")  # both
YEAR_OPEN_MIN = ("on", "onwards", "onward", "and later", "or later", "and up", "or newer", "and newer", "plus")
YEAR_OPEN_MAX = ("or earlier", "and earlier", "or before", "or older", "and older")

# --- length -------------------------------------------------------------------------------
RUNTIME_MAX = ("under", "less than", "shorter than", "at most", "max", "maximum", "no more than",
               "no longer than", "not more than", "not longer than", "not over", "within", "up to",
               "below", "tops", "or less", "or shorter", "at the most", "not exceeding", "<")
RUNTIME_MIN = ("over", "more than", "longer than", "at least", "min", "minimum", "above",
               "or more", "or longer", "not under", "not less than", "no less than", "no shorter than", ">")
RUNTIME_ABOUT = ("about", "around", "roughly", "approximately", "approx", "like", "~")
RUNTIME_ABOUT_SLACK = 15
MINUTE_UNITS = ("minutes", "minute", "mins", "min", "m")
HOUR_UNITS = ("hours", "hour", "hrs", "hr", "h")

NUMBER_WORDS: dict[str, int] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30,
    "forty": 40, "forty five": 45, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90, "hundred": 100, "a hundred": 100, "one hundred": 100, "a hundred and twenty": 120,
    "an": 1, "a": 1, "a couple": 2, "a couple of": 2, "couple of": 2, "a few": 3,
}

# --- shown items --------------------------------------------------------------------------
ORDINALS: dict[str, int] = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
    "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8,
    "ninth": 9, "9th": 9, "tenth": 10, "10th": 10, "top": 1,
    "last": -1, "final": -1, "bottom": -1, "second to last": -2, "second last": -2,
    "penultimate": -2, "middle": 0,
}
# Nouns that may follow an ordinal ("the second one", "the 3rd movie").
REFERENCE_NOUNS: tuple[str, ...] = (
    "one", "ones", "movie", "movies", "film", "films", "title", "titles", "pick", "picks", "option",
    "options", "suggestion", "suggestions", "recommendation", "recommendations", "choice", "item",
    "entry", "result", "card",
)
# Words after which "the first"/"the last" without a noun is still a reference.
REFERENCE_FOLLOWERS: frozenset[str] = frozenset(
    "and or but is was looks look sounds seems please then too also already though".split()
)
# Phrases meaning every shown item.
ALL_SHOWN = (
    "all of those", "all of these", "all of them", "all those", "all these", "all them", "all three",
    "all four", "all five", "all six", "all of the above", "all the above", "them all", "those all",
    "every one of them", "every one of those", "each of them", "each of those", "each one",
    "none of those", "none of these", "none of them", "any of those", "any of these", "any of them",
    "every single one", "everything you showed", "everything you suggested", "all of your suggestions",
    "all your suggestions", "all of the suggestions", "the whole list", "the entire list", "all of those movies",
    "those three", "these three", "those five", "these five", "both of them", "both of those", "both",
)
# Pronouns that point at a shown item when only one can be meant.
POINTERS = ("it", "that one", "this one", "that movie", "this movie", "that film", "this film", "that", "this")
# Words before a number that point at a shown item ("number 3", "option 2", "no. 3"; "#3" is read apart).
NUMBERED = ("number", "option", "item", "pick", "choice", "card", "no", "num")

# --- negation -----------------------------------------------------------------------------
NEGATORS: tuple[str, ...] = (
    "no", "not", "nothing", "none", "never", "without", "neither", "nor", "non", "anything but",
    "everything but", "anything except", "everything except", "except", "except for", "excluding",
    "exclude", "other than", "apart from", "rather than", "instead of", "but not", "avoid",
    "skip", "no more", "minus", "dont want", "don't want", "do not want", "dont need", "do not need",
    "dont like", "don't like", "do not like", "didnt like", "didn't like", "did not like", "dont love",
    "dont show", "don't show", "do not show", "dont give", "don't give", "dont recommend",
    "isnt", "isn't", "is not", "arent", "aren't", "are not", "wasnt", "wasn't", "shouldnt", "shouldn't",
    "doesnt", "doesn't", "does not", "cant stand", "can't stand", "cannot stand", "hate", "hated",
    "hates", "dislike", "disliked", "not into", "not a fan of", "not a big fan of", "not really into",
    "sick of", "tired of", "enough with", "not in the mood for", "no thanks to", "nothing like",
    "anything other than", "stay away from", "steer clear of", "i'm over", "im over",
)
# Phrases that contain a negator but negate nothing.
NEGATION_NEUTRAL: tuple[str, ...] = (
    "dont mind", "don't mind", "do not mind", "dont care", "don't care", "do not care",
    "not sure", "no idea", "not necessarily", "not only", "not just", "no matter", "why not",
    "not bad", "nothing but", "no problem", "no worries", "doesnt matter", "doesn't matter",
    "does not matter", "no preference", "dont know", "don't know", "do not know", "dont have a preference",
    "don't have a preference", "not picky", "dont think", "don't think", "no rush", "not yet",
    "if not", "or not", "not at all picky", "i dont either", "not too picky", "havent seen",
    "haven't seen", "have not seen", "never seen", "never watched", "havent watched", "haven't watched",
    "not seen", "didnt see", "didn't see",
)
# Words and marks that end a negation's scope.
SCOPE_BREAKERS: frozenset[str] = frozenset(
    "but though however although yet instead just only still so then maybe perhaps "
    "give show recommend suggest want prefer need".split()
) | frozenset(",.;:!?()")
# Words a negation scope runs over once it has negated something ("no horror or gore").
LIST_WORDS: frozenset[str] = frozenset(
    "and or nor a an the any anything something with by from starring featuring either "
    "other more too really very at all".split()
) | MOVIE_NOUNS

# --- titles and people --------------------------------------------------------------------
# Words right before a title that show a title follows (a "frame").
TITLE_CUES: tuple[str, ...] = (
    "like", "similar to", "such as", "as good as", "in the vein of", "along the lines of",
    "reminds me of", "the style of", "in the style of", "same as", "than", "seen", "saw", "watched",
    "loved", "love", "liked", "enjoyed", "adored", "hated", "disliked", "hate", "dislike", "a fan of",
    "fan of", "called", "named", "titled", "not", "no", "except", "vs", "versus", "what about",
    "how about", "the movie", "the film", "watch", "rewatch", "watching",
)
# Feedback phrases ending in one of these verbs also introduce a title ("I've seen", "didn't like").
TITLE_CUE_VERBS: frozenset[str] = frozenset(
    "seen saw watched loved liked enjoyed adored love hated hate disliked dislike like stand of".split()
)
# Words after a lower-case title that show the title has ended ("like heat, but", "like fargo and").
TITLE_FOLLOWERS: tuple[str, ...] = (
    "and", "or", "nor", "but", "with", "without", "from", "for", "please", "that", "which", "who",
    "so", "too", "as", "a lot", "very much", "is", "was", "are", "were", "i", "we", "it", "because",
    "since", "though", "if", "in", "on", "by", "except", "than", "then", "also", "again", "yet",
    "already", "lol", "haha", "plus", "maybe", "perhaps", "instead", "more", "less", "only", "just",
    "movie", "movies", "film", "films", "one", "ones", "series", "franchise", "sequel", "sequels",
    "trilogy", "type", "kind", "style", "vibes", "vibe", "stuff", "any", "anything", "something",
    "last", "yesterday", "today", "tonight", "recently", "twice", "once", "ago", "when", "at",
)
# Words after which a capitalized "It" / "Her" is a pronoun, not a title.
VERBS_AFTER_PRONOUN: frozenset[str] = frozenset(
    "is was seems seemed has had have will would does did can could should must might may s "
    "looks looked sounds sounded felt feels gets got makes made goes went comes came".split()
)
# Cues after which a title with typos is looked for ("like forest gump").
FUZZY_TITLE_CUES: tuple[str, ...] = (
    "like", "similar to", "seen", "saw", "watched", "loved", "liked", "enjoyed", "hated", "disliked",
    "than", "what about", "how about", "fan of", "the movie", "the film", "called", "titled",
)
# Words right before a surname that show a person follows ("by Nolan", "directed by Nolan", "starring Hanks").
PERSON_CUES: frozenset[str] = frozenset(("by", "with", "starring", "featuring"))

# --- feedback, questions and intents ------------------------------------------------------
FEEDBACK_PHRASES: dict[str, str] = {
    "seen": "seen", "saw": "seen", "watched": "seen", "already seen": "seen", "seen it": "seen",
    "have seen": "seen", "ive seen": "seen", "i've seen": "seen", "seen that": "seen",
    "seen them": "seen", "seen those": "seen", "seen all": "seen", "already watched": "seen",
    "loved": "liked", "liked": "liked", "enjoyed": "liked", "adored": "liked", "love": "liked",
    "looks great": "liked", "looks good": "liked", "sounds great": "liked", "sounds good": "liked",
    "looks interesting": "liked", "sounds interesting": "liked", "was great": "liked",
    "look great": "liked", "look good": "liked", "look interesting": "liked", "sound good": "liked",
    "sound great": "liked", "sound interesting": "liked", "look fun": "liked", "looks fun": "liked",
    "look boring": "disliked", "sound boring": "disliked", "were great": "liked", "were boring": "disliked",
    "is great": "liked", "was amazing": "liked", "is my favorite": "liked", "my favorite": "liked",
    "hated": "disliked", "hate": "disliked", "disliked": "disliked", "dislike": "disliked",
    "didnt like": "disliked", "didn't like": "disliked", "did not like": "disliked",
    "dont like": "disliked", "don't like": "disliked", "not a fan of": "disliked",
    "was boring": "disliked", "is boring": "disliked", "was awful": "disliked", "was terrible": "disliked",
    "was bad": "disliked", "not for me": "disliked", "cant stand": "disliked", "can't stand": "disliked",
    "looks boring": "disliked", "sounds boring": "disliked", "looks bad": "disliked",
}
ASK_PHRASES: dict[str, str] = {
    "who directed": "director", "who direct": "director", "who is the director": "director",
    "who's the director": "director", "whos the director": "director", "the director of": "director",
    "directed by who": "director", "directed by whom": "director", "who made": "director",
    "director": "director", "who is in": "cast", "who's in": "cast", "whos in": "cast",
    "who is in it": "cast", "who stars": "cast", "who starred": "cast", "who plays": "cast",
    "who acts": "cast", "the cast": "cast", "cast": "cast", "actors": "cast", "starring who": "cast",
    "who's starring": "cast", "who wrote": "writer", "writer": "writer", "written by who": "writer",
    "screenplay": "writer", "what year": "year", "which year": "year", "when was": "year",
    "when did": "year", "how old is": "year", "release date": "year", "come out": "year",
    "released": "year", "what genre": "genres", "which genre": "genres", "what kind of movie": "genres",
    "what type of movie": "genres", "genre": "genres", "how long": "runtime", "runtime": "runtime",
    "run time": "runtime", "how many minutes": "runtime", "length": "runtime",
    "rating": "rating", "any good": "rating", "is it good": "rating", "worth watching": "rating",
    "worth it": "rating", "reviews": "rating", "well reviewed": "rating", "how good": "rating",
    "rated": "age_rating", "age rating": "age_rating", "pg 13": "age_rating", "pg-13": "age_rating",
    "appropriate for": "age_rating", "suitable for": "age_rating", "ok for kids": "age_rating",
    "okay for kids": "age_rating", "safe for kids": "age_rating", "fine for kids": "age_rating",
}
# Questions that ask for recommendations rather than about an item.
REQUEST_QUESTIONS: tuple[str, ...] = (
    "is there", "are there", "do you have", "have you got", "got any", "can you recommend",
    "could you recommend", "can you suggest", "could you suggest", "what should", "what would you",
    "what do you recommend", "what do you suggest", "how about", "what about", "what else",
    "what other", "what are some", "what is a good", "what's a good", "whats a good", "know any",
    "do you know any", "any", "anything", "something", "can i get", "could i get", "can you find",
    "can you show", "could you show", "will you", "would you",
)
QUESTION_STARTS: frozenset[str] = frozenset(
    "who whos what whats which when how is was does did can could tell has are".split()
)
GREETINGS: tuple[str, ...] = (
    "hi", "hello", "hey", "heya", "hiya", "howdy", "greetings", "good morning", "good evening",
    "good afternoon", "yo", "sup", "what's up", "whats up", "how are you", "how's it going",
    "hows it going", "hi there", "hello there", "hey there", "nice to meet you",
)
CHITCHAT: tuple[str, ...] = (
    "thanks", "thank you", "thx", "ty", "cheers", "bye", "goodbye", "good bye", "see you",
    "see ya", "that's all", "thats all", "that is all", "ok", "okay", "cool", "great", "nice",
    "awesome", "perfect", "got it", "never mind", "nevermind", "nvm", "lol", "haha", "good night",
    "goodnight", "you too", "no thanks", "i'm good", "im good", "i'm done", "im done", "that's it",
    "thats it", "yes", "yeah", "yep", "sure", "alright", "fine", "sounds good",
)
RESET_PHRASES: tuple[str, ...] = (
    "start over", "start again", "start from scratch", "from scratch", "begin again", "restart",
    "reset", "forget what i said", "forget everything", "forget all that", "forget all of that",
    "forget about that", "forget my preferences", "clear my preferences", "clear preferences",
    "clear everything", "clear all", "new search", "new conversation", "let's start over",
    "start fresh", "fresh start", "wipe", "scratch that", "scratch all that", "back to square one",
    "start a new", "from the beginning", "from the top",
)
# Phrases that ask for more items like the last ones: a refinement when items were shown.
MORE_CUES: tuple[str, ...] = (
    "more", "another", "others", "other", "any others", "anything else", "something else",
    "else", "different", "instead", "again", "next", "more options", "other options", "alternatives",
    "any more", "some more", "similar", "like that", "like those", "like these", "like this",
    "like them", "like it", "similar ones", "similar movies",
)
# Phrases that say the titles after them are what to match: a "like" frame.
LIKE_CUES: tuple[str, ...] = (
    "like", "similar to", "such as", "in the vein of", "along the lines of", "reminds me of",
    "in the style of", "same as", "as good as",
)
# Phrases that ask for items similar to the titles just named ("I've seen X, anything similar?").
SIMILAR_CUES: tuple[str, ...] = (
    "similar", "like that", "like those", "like these", "like this", "like them", "like it",
    "along those lines", "in that vein", "same vibe",
)
# Words that make an utterance a request even with nothing else recognized in it.
REQUEST_CUES: frozenset[str] = frozenset(
    "recommend recommendation recommendations suggest suggestion suggestions something anything "
    "watch looking want wanna need show find give mood any some movie movies film films flick "
    "flicks pick options ideas".split()
)

# Words dropped from the free-text query: function words, politeness, request verbs.
FILLER_WORDS: frozenset[str] = MOVIE_NOUNS | frozenset("""
a an the and or but if of to in on at for from by with about as into onto than then that this
these those there here it its it's is are was were be been being am do does did done doing have
has had having i me my mine we us our you your he she him her they them their what which who
whom whose when where why how can could would should will shall may might must let lets please
pls plz thanks thank just really very quite pretty so too also some any something anything
someone anyone somewhat kind kinda sort sorta type types like likes liked love loved want wants
wanted wanna need needs needed looking look find give show get got tell suggest recommend
recommendation recommendations suggestion suggestions watch watching watched see seen saw
good great nice best better awesome cool fun okay ok well maybe perhaps tonight today now
again other others another else more most less least much many few lot lots bit little
one ones all both each every either neither any mood feel feeling something im ive id ill
dont doesnt isnt arent wasnt cant wont didnt s t re ve ll d m yes yeah no not hi hello hey
new recent recently similar same different into vibe vibes style genre genres kind kinds
option options pick picks idea ideas enjoy enjoyed guess think thought know around sometime
stuff things thing time night evening weekend date whole family kids child children our
favorite favourite fav faves weve youve theyve were hes shes thats whats lets wed youd theyd
directed starring featuring written made released produced actor actress director filmmaker
favorites favourites faves actually definitely probably sure sounds series franchise
u ur ya yall lol lmao haha hahaha thx thanx ty btw idk tbh omg
haven't havent hasnt hadnt didn't didnt don't won't can't isn't wasn't couldn't wouldn't
check checked checking out staying stay somehow happened happen huh hmm um umm uh help helping
bet case fan fans huge missed miss heard hear particular picky sometimes usually always ever
""".split())

# Words frequent in movie chat (at least 5 messages of the ReDial validation dialogues, people's
# names removed, a few name-like English words kept). A title made only of these words is not
# taken from lower-case text without a cue ("it", "up", "heat wave"), see chat.rules.titles.
COMMON_WORDS: frozenset[str] = frozenset("""
    able about absolutely across action actor actors actress actresses actually add admit adult
    adults adventure after afternoon again age ages ago agree agreed ahead ahh alien aliens
    alive all alley almost alone along alot already alright also although always am amazing
    american an and animals animated animation anime another any anymore anyone anything anytime
    anyway anyways appreciate are arent around as ask asking at attention awards away awesome
    awhile baby back bad based basically be beautiful because been before behind being believe
    best bet better between big bit black blood book books bored both boxing boy boyfriend boys
    british buddy bunch busy but by bye called came can cant car care cars cartoon case cast
    catch category certain certainly chance character characters chase chat chatting check
    checking cheesy chick child childhood children childrens choice choices choose christmas cia
    class classic classics close cold college com come comedies comedy comedys comes coming
    compare coms consider considered conversation cool cop correct could couldnt country couple
    course crazy creepy crime cry cult current currently cute dad dark date daughter day days dc
    death decent definitely did didnt die died different directed director do documentaries
    documentary does doesnt doing doll done dont down drama dramas dramatic dude dumb during dvd
    each earlier early easy effects either else end ending enjoy enjoyable enjoyed enough
    entertaining epic era especially etc even evening ever every everyone everything exactly
    examples excellent except excited fall familiar family famous fan fantastic fantasy far fast
    father fav faves favorite favorites favourite feel fell felt female few fi fiction figured
    filled film filmed films finally find finding fine finished first flick flicks follow for
    forever forget forgot forward found four franchise french friend friendly friends from fun
    funnier funny future game gave general genre genres get gets getting girl girlfriend girls
    give given gives giving glad go god goes going gone gonna good goodbye goodie goodnight
    goofy google gory got gotta grant great greatest group growing guess guy guys had hadnt haha
    hahaha happen happened happy hard has hate hated haunted have haven havent having he hear
    heard hell hello help helped helpful helping helps her here hero hes hey hi high highly
    hilarious hill him his historical history hit hmm hmmm holiday home honestly hope hopefully
    hoping horror hours house how howdy however hows huge humor hunt husband id idea ideas if
    ill im impossible in indie intense interest interested interesting into is isnt it its ive
    job jokes jump just keep kept kid kids killer kind kinda kinds king know known lady last
    late lately later latest latter laugh lead least let lets life light like liked likes line
    lines list little live living lol long look looked looking looks lot lots love loved lovely
    loves luck made main make makes making man many marathon mark matter may maybe me mean
    meaning meant meet men mention mentioned merry met might mind mine minute missed mix modern
    mom moment month mood more morning most mostly mother moves movie movies much murder music
    musical musicals must my myself mysteries mystery name nd need neither never new newer
    newest next nice night no nope not nothing novel now odd of off oh ohh ohhh ok okay old
    older oldie omg on once one ones only ooh oooh oops open opinion option options or original
    other others our out over own packed part particular parts party past people perfect perhaps
    period person personal personally pg pick picky place plan play played plays please plot
    point police popular power prefer pretty probably problem provoking psychological put
    quality queen quite rated rather re read ready real realistic reality really reason recall
    reccomend recent recently recomend recommend recommendation recommendations recommender
    recommending related released remake remember reminded reminding reminds rest reviews
    rewatch right rock role rom romance romantic run sad said same saw say says scared scary
    scene scenes school sci science scifi search searching sec second secret see seeing seeking
    seem seems seen sequel sequels series serious set seven several she shes shot should show
    silly similar since sing singing slapstick slow snow so solid some someone something
    sometimes son songs soon soooo sorry sort sound sounds space speaking specific spoof sports
    spy star starring stars start started stay stick still stories story strange streaming
    strong stuff stupid style submit such suggest suggested suggestion suggestions super
    superhero superheros suppose supposed sure surprised surprisingly suspense suspenseful sweet
    take takes taking talk talking taste tastes tear teen tell than thank thanks that thats the
    theater theaters theatres their them theme then there theres these they theyre thing things
    think thinking third this those though thought three thriller thrillers through time times
    tired title titles to today together tonight too top totally trailer tried true try trying
    tv twice twist two type types umm under underrated understand until up us use used usual
    usually vampire version very video violent wait waiting want wanted wanting war wars was
    wasnt watch watched watching way we wedding week weekend weird welcome well went were weve
    what whats when where which while white who whole whos why wife will wish with without woman
    women won wonder wonderful wondering wont work works world worth would wouldnt wow wrong
    xmas ya yea yeah year years yep yes yesss yet you youd youll young your youre yourself youve
    yup zombie zombies
""".split())

# --- what was assumed about the person (cold start from demographics) ----------------------
# "why these?": the person asks what the list rests on; the reply gives the assumed taste's gist.
ASSUMPTION_QUESTIONS: tuple[str, ...] = (
    "why these", "why those", "why them", "why this list", "why these ones", "why those ones",
    "why did you pick", "why did you choose", "why did you suggest", "why did you recommend",
    "how did you pick", "how did you choose", "what did you assume", "what do you assume",
    "why do you think i", "why would i like",
)
# "not into those": the person rejects the assumed taste; later lists leave it out.
ASSUMPTION_REJECTIONS: tuple[str, ...] = (
    "not into those", "not into these", "not into them", "not into any of those", "not into any of these",
    "none of those", "none of these", "not my thing", "not my taste", "not for me", "thats not me",
    "that's not me", "not me at all", "dont assume", "don't assume", "do not assume", "stop assuming",
    "wrong guess", "you guessed wrong",
)
