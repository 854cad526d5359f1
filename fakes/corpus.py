"""A synthetic corpus for retrieval tests and bench/retrieval.py: fictional towns and companies.

Ten documents (eight town guides, two company handbooks) of about 20 pages each; each page
has a heading, three facts and filler prose (1,500-2,500 characters). `questions()` asks about
some of the facts, half in the page's own words and half paraphrased, and says which page
holds the answer. Everything comes from one seeded `random.Random`: the same on every run.

    from fakes.corpus import corpus, questions
    for name, pages in corpus(): ...          # pages: [(heading, text)], page n at pages[n - 1]
    for q in questions(): q.text, q.document, q.page, q.answer, q.paraphrased
"""

from __future__ import annotations

import functools
import random
from typing import Callable, NamedTuple

from fakes.corpus_companies import COMPANIES, COMPANY_FILLER, COMPANY_TOPICS
from fakes.corpus_towns import TOWN_FILLER, TOWN_TOPICS, TOWNS, Fact

__all__ = ["Question", "corpus", "questions"]

SEED = 20261203
QUESTIONS_PER_DOCUMENT = 8


class Question(NamedTuple):
    text: str
    document: str
    page: int  # 1-based
    answer: str  # the words that answer it, as they appear on that page
    paraphrased: bool  # False: asked in the page's own words


_FIRST = ["Ada", "Bertil", "Cora", "Dagny", "Emil", "Freya", "Gustav", "Hedda", "Ivo", "Johanna", "Kasper",
          "Liv", "Magnus", "Nora", "Otto", "Petra", "Quentin", "Rosalind", "Sten", "Tilde", "Ulrik", "Vera",
          "Wilhelm", "Ylva", "Aurelio", "Bettina", "Casimir", "Dorothea", "Evander", "Fenna"]
_LAST = ["Rombault", "Kessling", "Marwood", "Tallberg", "Okonye", "Pratchley", "Vandermeer", "Ashgrove",
         "Lindqvist", "Morrow", "Haverty", "Strand", "Quillfeather", "Benedek", "Castellane", "Dunmore",
         "Eriksdottir", "Fairweather", "Gallardo", "Holloway", "Ibsenholm", "Jarrow", "Kovalenko", "Larkspur"]
_SYLLABLES = ["bel", "cor", "dun", "fal", "gar", "hol", "ish", "jor", "kel", "lor", "mar", "nes", "orv", "pel",
              "quor", "ras", "sel", "tav", "ull", "ven", "wyn", "zar"]
_ENDINGS = ["by", "holm", "stead", "mouth", "wick", "dale", "ness", "ford", "haven", "minster"]


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(2)).capitalize()


def _lists(*options: str) -> Callable[[random.Random], str]:
    return lambda rng: rng.choice(options)


def _numbers(low: int, high: int, step: int = 1) -> Callable[[random.Random], str]:
    return lambda rng: str(rng.randrange(low, high, step))


POOLS: dict[str, Callable[[random.Random], str]] = {
    "person": lambda r: f"{r.choice(_FIRST)} {r.choice(_LAST)}",
    "place": lambda r: _word(r) + r.choice(_ENDINGS),
    "oldname": lambda r: _word(r) + " " + r.choice(["Landing", "Crossing", "Hythe", "Strand", "Point"]),
    "year": _numbers(1180, 1990),
    "future": _numbers(2030, 2060),
    "month": _lists("January", "February", "March", "April", "May", "June", "July", "August", "September",
                    "October", "November", "December"),
    "weekday": _lists("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "goods": _lists("dried kelp", "salted cod", "amber resin", "copper wire", "hemp rope", "wool blankets",
                    "glass beads", "smoked eel", "pine tar", "sea salt", "slate tiles", "pickled herring",
                    "linen sailcloth", "walnut oil", "birch charcoal", "tanned sealskin", "cast iron stoves"),
    "festival": lambda r: r.choice(["Feast of", "Night of", "Festival of", "Procession of"]) + " " + r.choice(
        ["the Nine Drums", "Saint Oriel", "the Copper Moon", "Tall Candles", "the Returning Boats", "the Salt Queen",
         "the Green Lantern", "Broken Oars", "the Eel King", "the White Stag"]),
    "dish": _lists("barley stew with mussels", "herring baked in rye crust", "smoked mutton dumplings",
                   "nettle soup with egg", "fried pike cheeks", "blood pudding with lingonberries",
                   "roasted chestnut bread", "turnip pancakes", "eel pie with dill", "braised hare in juniper",
                   "saffron fish broth", "crab and potato cakes"),
    "trophy": _lists("silver spoon", "brass bell", "carved oar", "copper kettle", "painted drum",
                     "crystal goblet", "woollen crown", "pewter lantern"),
    "flavour": _lists("juniper berries", "bog myrtle", "smoked malt", "heather honey", "cloudberries",
                      "spruce tips", "roasted chicory", "wild cherries"),
    "shop": lambda r: r.choice(_LAST) + r.choice([" & Daughters", " Brothers", " and Sons", "'s Corner", " House"]),
    "wind": lambda r: r.choice(["Grey", "Old", "Hollow", "Widow's", "Shepherd's", "Iron"]) + " " + r.choice(
        ["Whistler", "Breath", "Sigh", "Needle", "Mare", "Fiddler"]),
    "temperature": _numbers(17, 32),
    "building": lambda r: r.choice(_LAST) + " " + r.choice(["Tower", "Spire", "Belfry", "Campanile"]),
    "material": _lists("red brick", "pale limestone", "tarred timber", "black basalt", "yellow sandstone",
                       "whitewashed clay", "recycled cardboard", "pressed straw", "grey slate"),
    "field": _lists("glassmaking", "astronomy", "marine biology", "cartography", "violin making",
                    "ship design", "tidal engineering", "textile chemistry", "optics", "metallurgy", "acoustics"),
    "volumes": _numbers(12000, 90000, 500),
    "colour": _lists("crimson", "emerald green", "mustard yellow", "cobalt blue", "burnt orange", "violet",
                     "teal", "maroon"),
    "airfield": lambda r: _word(r) + " " + r.choice(["Airfield", "Aerodrome", "Field"]),
    "minutes": _numbers(35, 96),
    "club": lambda r: r.choice(["Athletic", "Rovers", "United", "Wanderers", "Harriers"]) + " " + _word(r),
    "capacity": _numbers(2200, 19000, 100),
    "distance": _numbers(11, 42),
    "company": lambda r: r.choice(_LAST) + " " + r.choice(["Foundry", "Ironworks", "Engineering", "Holdings",
                                                           "Steelworks", "Mechanical"]),
    "milled": _lists("rag paper", "linen thread", "rye flour", "oat groats", "mustard powder", "wood pulp"),
    "crafted": _lists("wooden rocking horses", "brass telescopes", "accordions", "cuckoo clocks", "snow sledges",
                      "rowing skiffs", "ceramic stoves", "harpsichords", "barometers", "spinning wheels"),
    "bird": _lists("spoonbill", "bittern", "avocet", "crane", "godwit", "curlew", "stilt", "ruff"),
    "tree": _lists("birch", "beech", "hornbeam", "larch", "alder", "linden", "rowan", "sweet chestnut"),
    "hill": lambda r: r.choice(["Mount", "Beacon", "Knoll", "Fell"]) + " " + _word(r),
    "seats": _numbers(11, 40),
    "emblem": _lists("silver heron", "golden anchor", "black ram", "red key", "blue salmon", "crowned otter",
                     "white tower", "green dragon"),
    "opera": lambda r: "The " + r.choice(["Drowned", "Winter", "Glass", "Lighthouse", "Iron", "Silent"]) + " "
    + r.choice(["Bride", "Pilot", "Orchard", "Keeper", "Chorus", "Lament"]),
    "venue": _lists("bandstand in Linden Park", "steps of the customs house", "old fish market", "rose garden",
                    "harbour lighthouse", "ruined abbey"),
    "artifact": _lists("a whaling harpoon", "a ship's figurehead", "a brass diving helmet", "a narwhal tusk",
                       "the first steam winch", "a carved ivory compass", "a sealskin kayak", "the founder's ledger"),
    "painting": lambda r: r.choice(["Girl with", "Harbour at", "Storm over", "Woman with", "Boats at"]) + " "
    + r.choice(["Dusk", "a Lantern", "the Ice", "the Green Shawl", "Low Tide", "a Heron"]),
    "district": lambda r: _word(r) + r.choice(["gate", "row", "hill", "end"]),
    "craft": _lists("bookbinding", "silversmithing", "lace making", "basket weaving", "clog carving",
                    "stained glass", "rope making"),
    "reclaimed": _lists("the salt marsh", "an old quarry", "the tidal flats", "a drained lake",
                        "the former railway yard"),
    "stall": _lists("smoked cheese", "honey cakes", "wild mushrooms", "pickled walnuts", "goat sausages",
                    "rhubarb jam", "fresh oysters"),
    "power": _lists("a tidal barrage", "wind turbines on the ridge", "a peat power station", "a hydroelectric dam",
                    "geothermal wells", "solar fields on the old airfield"),
    "lake": lambda r: "Lake " + _word(r),
    "conversion": _lists("a climbing centre", "an art school", "a covered market", "a concert hall", "a brewery",
                         "a roller rink"),
    "newspaper": lambda r: "The " + r.choice(["Herald", "Courier", "Tidings", "Lantern", "Gazette", "Beacon"]) + " of "
    + _word(r),
    "frequency": lambda r: f"{r.randrange(88, 108)}.{r.randrange(1, 10)}",
    "show": lambda r: r.choice(["Night Owls", "Tide Talk", "Kettle On", "Lamplight", "Open Lines"]) + " with "
    + r.choice(_FIRST),
    "hospital": lambda r: "Saint " + r.choice(_FIRST) + " Infirmary",
    "ailment": _lists("gout", "rheumatism", "insomnia", "chilblains", "hay fever", "melancholy"),
    "book": lambda r: "The " + r.choice(["Salt", "Lantern", "Orchard", "Ferryman's", "Tin", "Harbour"]) + " "
    + r.choice(["Years", "Daughter", "Letters", "Winter", "Promise", "Almanac"]),
    "award": lambda r: r.choice(_LAST) + " " + r.choice(["Prize", "Medal", "Award"]),
    "plant": _lists("lavender", "rhubarb", "sunflowers", "wild thyme", "tomatoes", "sea kale"),
    "model": lambda r: r.choice(["Kestrel", "Osprey", "Meridian", "Falcon", "Halcyon", "Corvid", "Zephyr"]) + " "
    + str(r.randrange(10, 99)),
    "range": lambda r: r.choice(["Pupil", "Scholar", "Classroom", "Junior", "Primer", "Satchel"]),
    "warranty": _numbers(10, 26),
    "revenue": _numbers(120, 980),
    "exchange": lambda r: _word(r) + " Stock Exchange",
    "slogan": _lists('"Measured twice, trusted always"', '"Made to last a lifetime"', '"Precision you can hear"',
                     '"Woven for tomorrow"', '"The quiet machine"', '"Built by hands, proven by time"'),
    "mascot": _lists("beaver", "owl", "tortoise", "hedgehog", "puffin", "badger"),
    "weeks": _numbers(11, 30),
    "fuel": _lists("biogas", "hydrogen", "rapeseed oil", "compressed methane", "battery power"),
    "profession": _lists("surveyors", "ship captains", "weather stations", "tailors", "schools", "hospitals"),
    "time": _lists("nine in the evening", "midnight", "ten at night", "eight in the evening", "six in the evening"),
    "typeface": lambda r: _word(r) + " " + r.choice(["Grotesque", "Serif", "Antiqua", "Mono"]),
}


class _Values:
    """Distinct values per pool within one document, so each answer sits on a single page."""

    def __init__(self, rng: random.Random, reserved: set[str]) -> None:
        self._rng = rng
        self._used = set(reserved)

    def draw(self, pool: str) -> str:
        for _ in range(200):
            value = POOLS[pool](self._rng)
            if value not in self._used:
                self._used.add(value)
                return value
        raise RuntimeError(f"pool {pool!r} ran out of distinct values")


def _page(rng: random.Random, name: str, facts: list[str], filler: list[str]) -> str:
    target = rng.randint(1600, 2400)
    sentences = list(facts)
    pool = rng.sample(filler, len(filler))
    while pool and sum(len(s) + 1 for s in sentences) < target:
        sentences.insert(rng.randint(0, len(sentences)), pool.pop().format(name=name))
    paragraphs, i = [], 0
    while i < len(sentences):
        n = rng.randint(3, 5)
        paragraphs.append(" ".join(sentences[i:i + n]))
        i += n
    return "\n\n".join(paragraphs)


@functools.cache
def _build() -> tuple[list[tuple[str, list[tuple[str, str]]]], list[Question]]:
    rng = random.Random(SEED)
    documents: list[tuple[str, list[tuple[str, str]]]] = []
    asked: list[Question] = []
    subjects = [(town, f"{town}: a visitor's guide", TOWN_TOPICS, TOWN_FILLER) for town in TOWNS] + [
        (company, f"{company}: company handbook", COMPANY_TOPICS, COMPANY_FILLER) for company in COMPANIES]
    for name, document, topics, filler in subjects:
        values = _Values(rng, set(TOWNS) | set(COMPANIES))
        pages: list[tuple[str, str]] = []
        facts_by_page: list[list[tuple[Fact, str]]] = []
        for title, facts in rng.sample(topics, len(topics)):
            drawn = [(fact, values.draw(fact[3])) for fact in facts]
            sentences = [fact[0].format(name=name, x=x) for fact, x in drawn]
            pages.append((f"{name}: {title}", _page(rng, name, sentences, filler)))
            facts_by_page.append(drawn)
        for page in sorted(rng.sample(range(len(pages)), QUESTIONS_PER_DOCUMENT)):
            fact, answer = rng.choice(facts_by_page[page])
            paraphrased = len(asked) % 2 == 1
            template = fact[2] if paraphrased else fact[1]
            asked.append(Question(template.format(name=name), document, page + 1, answer, paraphrased))
        documents.append((document, pages))
    return documents, asked


def corpus() -> list[tuple[str, list[tuple[str, str]]]]:
    """(document name, [(page heading, page text)]) for every document."""
    return list(_build()[0])


def questions() -> list[Question]:
    """Questions about the corpus, alternately literal and paraphrased, with the page that answers each."""
    return list(_build()[1])
