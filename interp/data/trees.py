"""SST parse trees: :class:`Tree` and the PTB-style parser :func:`parse_tree`, both without recursion.

One tree a line, every phrase labelled 0-4 (Socher et al. 2013). Leaves are PTB tokens kept as
they are in the file: ``you 've``, ``-LRB-``/``-RRB-`` for brackets, ``\\/`` for a slash, two
backticks and two apostrophes for double quotes. The files are read by
:func:`interp.data.treebank.sst_trees`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

# Split on ASCII whitespace only: one train leaf is "8\xa01\\/2" (the film 8 1/2, with a
# no-break space), a single token that a Unicode-aware \s would cut in two.
_TOKEN = re.compile(r"\(|\)|[^ \t\n\r\f\v()]+")


class Tree:
    """One node of an SST parse tree: ``label`` 0-4, and either ``children`` or a ``word``.

    Every traversal is iterative, so arbitrarily deep trees never hit Python's recursion limit.
    """

    __slots__ = ("label", "children", "word")

    def __init__(self, label: int, children: Sequence[Tree] = (), word: str | None = None):
        if (word is None) == (len(children) == 0):
            raise ValueError("a Tree node has either a word (leaf) or children, not both/neither")
        self.label = int(label)
        self.children: tuple[Tree, ...] = tuple(children)
        self.word = word

    @property
    def is_leaf(self) -> bool:
        return self.word is not None

    def nodes(self) -> Iterator[Tree]:
        """Every node, pre-order (root first, children left to right)."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def leaves(self) -> list[str]:
        return [n.word for n in self.nodes() if n.word is not None]

    @property
    def text(self) -> str:
        """The leaves joined with single spaces (PTB tokens as in the file)."""
        return " ".join(self.leaves())

    def phrases(self) -> Iterator[tuple[str, int]]:
        """``(text, label)`` for every node, pre-order; the root's sentence comes first."""
        words: list[str] = []
        spans: dict[int, tuple[int, int]] = {}
        # post-order pass assigning each node its leaf span
        stack: list[tuple[Tree, bool]] = [(self, False)]
        while stack:
            node, done = stack.pop()
            if node.word is not None:
                spans[id(node)] = (len(words), len(words) + 1)
                words.append(node.word)
            elif done:
                spans[id(node)] = (spans[id(node.children[0])][0], spans[id(node.children[-1])][1])
            else:
                stack.append((node, True))
                stack.extend((c, False) for c in reversed(node.children))
        for node in self.nodes():
            a, b = spans[id(node)]
            yield " ".join(words[a:b]), node.label

    def to_ptb(self) -> str:
        """The tree in the file's format, ``(3 (2 It) (4 ...))``."""
        out: list[str] = []
        stack: list[Tree | str] = [self]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                out.append(item)
            elif item.word is not None:
                out.append(f"({item.label} {item.word})")
            else:
                out.append(f"({item.label}")
                stack.append(")")
                for c in reversed(item.children):
                    stack.append(c)
                    stack.append(" ")
        return "".join(out)

    __str__ = to_ptb

    def __repr__(self) -> str:
        text = self.text
        if len(text) > 60:
            text = text[:57] + "..."
        return f"Tree(label={self.label}, text={text!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tree):
            return NotImplemented
        return self.to_ptb() == other.to_ptb()

    def __hash__(self) -> int:
        return hash(self.to_ptb())


def parse_tree(line: str) -> Tree:
    """Parse one PTB-style tree ``(3 (2 It) (4 ...))`` with an explicit stack (no recursion).

    Raises :class:`ValueError` on malformed input.
    """
    tokens = _TOKEN.findall(line)
    n = len(tokens)
    if n == 0:
        raise ValueError("empty tree")

    def bad(i: int, why: str) -> ValueError:
        near = " ".join(tokens[max(0, i - 3) : i + 4])
        return ValueError(f"malformed tree at token {i} ({why}) near: {near!r}")

    stack: list[tuple[int, list[Tree]]] = []
    root: Tree | None = None
    i = 0
    while i < n:
        tok = tokens[i]
        if root is not None:
            raise bad(i, "text after the end of the tree")
        if tok == "(":
            if i + 1 >= n or tokens[i + 1] in "()":
                raise bad(i, "expected a label after '('")
            try:
                label = int(tokens[i + 1])
            except ValueError:
                raise bad(i + 1, f"label {tokens[i + 1]!r} is not an integer") from None
            if i + 2 < n and tokens[i + 2] not in "()":  # leaf: ( label word )
                if i + 3 >= n or tokens[i + 3] != ")":
                    raise bad(i + 3, "expected ')' after a leaf's word")
                node = Tree(label, word=tokens[i + 2])
                i += 4
            else:
                stack.append((label, []))
                i += 2
                continue
        elif tok == ")":
            if not stack:
                raise bad(i, "unbalanced ')'")
            label, children = stack.pop()
            if not children:
                raise bad(i, "node with neither word nor children")
            node = Tree(label, children)
            i += 1
        else:
            raise bad(i, f"word {tok!r} outside a leaf")
        if stack:
            stack[-1][1].append(node)
        else:
            root = node
    if root is None or stack:
        raise bad(n, "unbalanced '(': tree not closed")
    return root
