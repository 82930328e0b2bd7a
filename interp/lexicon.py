"""A small sentiment lexicon for position selectors (:func:`interp.positions.SentimentWords`).

Hand-written for movie reviews: the toy-template adjectives and verbs of :mod:`interp.tasks`
plus common evaluative words of SST/IMDB reviews. Lower case; matched as whole words. It is a
position selector's word list, not a sentiment classifier: it says *where* sentiment words are,
and both polarities are selected together.
"""

from __future__ import annotations

#: The toy templates' words (:mod:`interp.tasks`): Tigges et al.'s single-token sentiment adjectives and verbs.
POSITIVE_ADJECTIVES = [
    "perfect", "fantastic", "delightful", "cheerful", "marvelous", "good", "remarkable", "wonderful",
    "fabulous", "outstanding", "awesome", "exceptional", "incredible", "extraordinary", "amazing",
    "lovely", "brilliant", "charming", "terrific", "superb", "spectacular", "great", "splendid",
    "beautiful", "joyful", "excellent", "nice", "fun", "fine", "pleasant", "enjoyable", "magnificent",
]
NEGATIVE_ADJECTIVES = [
    "dreadful", "bad", "dull", "depressing", "miserable", "tragic", "nasty", "inferior", "horrific",
    "terrible", "awful", "disgusting", "disastrous", "horrendous", "annoying", "boring", "offensive",
    "frustrating", "wretched", "dire", "poor", "sad", "ugly", "stupid", "pathetic", "weak", "lame",
    "mediocre", "horrible", "hideous", "worst", "painful",
]
POSITIVE_VERBS = ["enjoyed", "loved", "liked", "adored", "appreciated", "admired"]
NEGATIVE_VERBS = ["hated", "disliked", "despised", "loathed", "detested", "resented"]

POSITIVE_WORDS = frozenset("""
good great best better excellent wonderful fantastic amazing awesome brilliant superb outstanding
terrific marvelous marvellous fabulous splendid magnificent remarkable exceptional extraordinary
incredible spectacular perfect perfectly lovely beautiful beautifully charming delightful delight
cheerful joyful pleasant enjoyable enjoy enjoyed enjoys fun funny hilarious witty clever smart
engaging entertaining gripping compelling moving touching powerful poignant stunning gorgeous
fresh original inventive intelligent thoughtful heartfelt warm sweet nice fine solid strong
masterpiece masterful triumph gem treat winner love loved loves lovable likable liked like adore
adored admired admire appreciated appreciate recommend recommended memorable impressive impressed
satisfying rewarding refreshing wonderfully thrilling exciting riveting fascinating captivating
charm charmed uplifting inspiring inspired sharp tight elegant graceful rich vivid honest
genuine authentic sincere classic beauty glorious pleasure pleasing worth worthwhile dazzling
""".split())

NEGATIVE_WORDS = frozenset("""
bad worse worst awful terrible horrible horrific horrendous dreadful dire dull boring bored bore
tedious tiresome tired lame weak poor poorly mediocre bland flat stale predictable pointless
stupid dumb silly ridiculous absurd pathetic miserable wretched nasty ugly hideous disgusting
offensive annoying irritating frustrating disappointing disappointed disappointment disaster
disastrous mess messy failure fails failed fail waste wasted worthless sloppy clumsy inept
incoherent confusing confused unfunny unwatchable forgettable painful depressing tragic sad
inferior hated hate hates disliked dislike despised despise loathed loathe detested detest
resented resent shallow empty hollow lifeless tedium drag dreary cheap trite cliched clichéd
overlong overwrought pretentious manipulative contrived cloying sappy tiresome unbearable
unpleasant embarrassing embarrassed lousy crap garbage junk trash dumbest stinks sucks ugh
""".split())


def sentiment_words(extra: frozenset | set | None = None) -> frozenset:
    """The lexicon: :data:`POSITIVE_WORDS` | :data:`NEGATIVE_WORDS` | the toy-template words."""
    toy = {w.lower() for w in (*POSITIVE_ADJECTIVES, *NEGATIVE_ADJECTIVES, *POSITIVE_VERBS, *NEGATIVE_VERBS)}
    return frozenset(POSITIVE_WORDS | NEGATIVE_WORDS | toy | set(extra or ()))


__all__ = ["POSITIVE_WORDS", "NEGATIVE_WORDS", "sentiment_words"]
