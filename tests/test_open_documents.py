"""lenscribe.open_documents: the open documents' store (generations, late texts, lines in view, which URIs a chunk
hash belongs to), alone and from threads."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from lenscribe.document import Document
from lenscribe.open_documents import OpenDocuments

URI = "file:///a.py"


def _doc(uri: str, version: int | None, *hashes: str) -> Document:
    chunks = [SimpleNamespace(hash=h, start=(i, 0), end=(i + 1, 0)) for i, h in enumerate(hashes)]
    return Document(uri=uri, path=None, language="python", version=version, chunks=chunks)


def test_install_counts_generations_and_keeps_the_newer_text():
    docs = OpenDocuments()
    first = docs.install(_doc(URI, 1, "h1"))
    assert first.generation == 1 and docs.get(URI) is first
    second = docs.install(_doc(URI, 3, "h2"))
    assert second.generation == 2 and docs.get(URI) is second
    late = _doc(URI, 2, "h1")
    assert docs.install(late) is second and docs.get(URI) is second and late.generation == 0
    unversioned = docs.install(_doc(URI, None, "h3"))  # a file read from disk has no version: always taken
    assert unversioned.generation == 3 and docs.get(URI) is unversioned


def test_lines_in_view_may_come_before_the_document_and_go_with_it():
    docs = OpenDocuments()
    assert docs.set_visible(URI, [("3", "9")]) is None
    doc = docs.install(_doc(URI, 1, "h1"))
    assert doc.visible == [(3, 9)]
    assert docs.set_visible(URI, [(0, 1)]) is doc and doc.visible == [(0, 1)]
    docs.close(URI)
    assert docs.get(URI) is None and len(docs) == 0
    assert docs.install(_doc(URI, 1, "h1")).visible == []  # closing forgot the view too
    docs.close("file:///never-open.py")  # no error


def test_containing_names_the_documents_of_a_hash():
    docs = OpenDocuments()
    docs.install(_doc(URI, 1, "shared", "only-a"))
    docs.install(_doc("file:///b.py", 1, "shared"))
    assert docs.containing({"shared"}) == {URI, "file:///b.py"}
    assert docs.containing({"only-a", "elsewhere"}) == {URI}
    assert docs.containing(set()) == set() and docs.containing({"elsewhere"}) == set()
    assert sorted(d.uri for d in docs.all()) == ["file:///a.py", "file:///b.py"]


def test_threads_installing_one_uri_give_every_text_its_own_generation():
    docs = OpenDocuments()
    installed: list[Document] = []

    def work(n: int) -> None:
        for i in range(50):
            installed.append(docs.install(_doc(URI, None, f"{n}-{i}")))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(d.generation for d in installed) == list(range(1, 201))
    current = docs.get(URI)
    assert current is not None and current.generation == 200
