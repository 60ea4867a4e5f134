"""Whether the writer denies the state a rule found: "i am not suicidal", "not in danger, just asking".

A phrase says a state; a negation in front of it, said by the writer of themselves, says the opposite.
The rule is kept narrow on purpose, since a missed denial costs a kind extra line and a wrong one costs
a person in danger their answer:
- the negator must stand right before the hit, with only words that carry a state forward between
  ("not going to", "no thoughts of", "do not want to", "not really feeling");
- it must be the writer's own ("i am not", "i do not", "i will never") or open its clause ("not in
  danger, just want info"): "life is not worth living" and "there is no point in living" say the danger;
- anything else between ("can not stop thinking about killing myself", "why should not i", "no reason
  not to") ends the search and the hit stands;
- "but" before the negator sets the state against the writer's own before it ("low but nowhere near
  hurting myself", "depressed but not suicidal");
- one hedge says the opposite from both sides of the hit: "not in a self harm way", "not in the
  suicidal sense" (what was done, or felt, was not that);
- someone else's question answered no: "my gp asked if i am suicidal and i said no", "she asked me
  if i think about suicide, i do not" (the state is theirs to ask about; "... and i said yes" stands);
  the same for someone telling them to do it: "he keeps telling me to kill myself, i am not going to".
A phrase that holds the negation itself ("do not want to be alive") is not looked inside.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

_NEGATORS = frozenset({"not", "no", "never", "nowhere"})
# Words that carry the denied state forward to the hit, and nothing else: a verb of wanting or
# planning, "going to", a hedge. A content word between the negator and the hit stops the search.
_CARRIERS = frozenset({"going", "gonna", "to", "be", "being", "feeling", "feel", "really", "at", "all",
                       "thoughts", "thought", "of", "thinking", "about", "having", "have", "want", "wanting",
                       "wanna", "planning", "plan", "trying", "any", "actually", "even", "currently",
                       "that", "in", "a", "an", "intention", "intentions", "plans", "near", "felt"})
# The writer speaking of themselves just before the negator: "i am not", "i do not", "i will never".
_OWN = frozenset({("i",), ("i", "am"), ("i", "do"), ("i", "will"), ("i", "would"), ("i", "have"),
                  ("i", "was"), ("i", "did"), ("i", "feel"), ("i", "really", "do"), ("i", "am", "really"),
                  ("i", "am", "definitely"), ("i", "am", "honestly")})
# Words that may come before the writer's "i" in the same clause: "honestly i am not suicidal", "i
# promise i am not"; a joining word that opens the clause may come first too ("but i am not").
# "why should i not" has none of them.
_LEADS = frozenset({"honestly", "just", "ok", "okay", "well", "look", "dw", "lol", "promise", "swear",
                    "seriously", "yes", "yeah", "no", "clear", "honest", "worry", "worries"})
_GAP = 5  # carrier words between the negator and the hit, at most
_HEDGE_OPEN = (("not", "in", "a"), ("not", "in", "the"), ("not", "in", "that"), ("not", "in", "any"))
_HEDGE_CLOSE = frozenset({"way", "sense", "kind"})
# Someone asking about the state, in the hit's clause before it; and the writer's "no", in the two
# clauses after it.
_ASKED = (("asked", "if"), ("asked", "me", "if"), ("asks", "if"), ("asks", "me", "if"), ("asking", "if"),
          ("asking", "me", "if"), ("asked", "whether"), ("asked", "me", "whether"), ("asks", "whether"),
          # someone telling the writer to do it, which the writer then refuses ("... i am not going to")
          ("telling", "me", "to"), ("told", "me", "to"), ("tells", "me", "to"), ("tell", "me", "to"),
          # or telling others the writer is in that state ("he told the police i am suicidal, i am not")
          ("told", "the", "police"), ("told", "everyone"), ("told", "people"), ("claims", "i"), ("claimed", "i"))
_ANSWERED_NO = (("said", "no"), ("i", "am", "not"), ("i", "do", "not"), ("i", "was", "not"),
                ("i", "have", "not"), ("answered", "no"), ("told", "them", "no"), ("told", "her", "no"),
                ("told", "him", "no"))
_ANSWER_CLAUSES = 2
_OWNED_UP = frozenset({"lied", "lying", "lie", "pretended", "pretending"})  # see owned_up


def may_deny(words: Sequence[str]) -> bool:
    """Whether the sentence has a negator at all: most do not, and need no look at their hits."""
    return not _NEGATORS.isdisjoint(words)


def denial(words: Sequence[str], clause: Sequence[int], start: int, end: int, answers: bool = True) -> int | None:
    """Where the writer's negation of the hit ``words[start:end]`` begins, or None (see the module docstring).

    ``answers``: whether a "no" to someone's question counts (not where the message owns up to a lie)."""
    if start >= 3 and tuple(words[start - 3:start]) in _HEDGE_OPEN and end < len(words) and words[end] in _HEDGE_CLOSE:
        return start - 3
    if answers and _asked_and_answered_no(words, clause, start, end):
        return start
    i = start - 1
    while i >= 0 and start - i <= _GAP + 1 and clause[i] == clause[start] and words[i] not in _NEGATORS:
        if words[i] not in _CARRIERS:
            return None
        i -= 1
    if i < 0 or clause[i] != clause[start] or words[i] not in _NEGATORS:
        return None
    if i == 0 or clause[i - 1] != clause[i]:
        return i  # the negator opens its clause: "not in danger, just want info"
    if words[i - 1] == "but":
        return i  # a state set against the one before it: "depressed but not suicidal"
    return i if any(_owned(words, clause, i, own) for own in _OWN) else None


def _owned(words: Sequence[str], clause: Sequence[int], i: int, own: tuple[str, ...]) -> bool:
    """``own`` ends right before the negator at ``i`` and starts its clause, follows the one word that
    opens it (the joining word in "but i am not going to"), or follows one of ``_LEADS``."""
    begin = i - len(own)
    if begin < 0 or tuple(words[begin:i]) != own:
        return False
    if begin == 0 or clause[begin - 1] != clause[begin] or words[begin - 1] in _LEADS:
        return True
    return begin == 1 or clause[begin - 2] != clause[begin - 1]


def owned_up(sentences: Iterable[Sequence[str]]) -> bool:
    """Whether the message owns up to a lie or a pretence anywhere ("i said no. that was a lie")."""
    return any(not _OWNED_UP.isdisjoint(words) for words in sentences)


def _asked_and_answered_no(words: Sequence[str], clause: Sequence[int], start: int, end: int) -> bool:
    """Whether the hit sits in someone else's words (a question, an urging, a claim: ``_ASKED``) that the
    writer then answers no."""
    before = [i for i in range(start) if clause[i] == clause[start]]
    if not any(tuple(words[i:i + len(ask)]) == ask for i in before for ask in _ASKED):
        return False
    last = clause[start] + _ANSWER_CLAUSES
    after = [i for i in range(end, len(words)) if clause[i] <= last]
    return any(tuple(words[i:i + len(no)]) == no and i + len(no) - 1 in after
               and words[i + len(no):i + len(no) + 1] not in (["sure"], ["certain"])  # "i am not sure"
               for i in after for no in _ANSWERED_NO)
