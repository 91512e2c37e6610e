"""topics.corpus on the shared data sets and on generated folders of awkward files."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from topics.config import CorpusConfig
from topics.corpus.articles import parse_article, parse_date
from topics.corpus.decoding import decode, decode_file, signature
from topics.corpus.documents import Document
from topics.corpus.readers import READERS
from topics.corpus.stream import Corpus, detect_format, read_corpus
from topics.errors import ConfigError, CorpusError

SEED_URL = "https://www.themoscowtimes.com/2014/05/19/putins-visit-to-china-set-to-bolster-ties-a35572"
RUSSIAN = "Президент Владимир Путин во время рабочего визита в Пекин заявил о новых соглашениях."
CURLY = "“Smart quotes” and ‘single ones’ — a café, a naïve résumé… déjà vu."
LATIN = "Le garçon était très fâché à cause de la grève à Montréal."


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def by_id(corpus: Corpus) -> dict[str, Document]:
    return {document.id: document for document in corpus}


def reasons(corpus: Corpus) -> dict[str, str]:
    return {Path(skipped.source).name: skipped.reason for skipped in corpus.report.skipped}


# ---------------------------------------------------------------- articles


def test_seed_article_fields(seed_article):
    corpus = read_corpus(seed_article.parent)
    assert corpus.format == "articles"
    [document] = list(corpus)
    assert document.id == "000_58779b65910cf267"
    assert document.title == "Putin's Visit to China Set to Bolster Ties"
    assert document.date == dt.date(2014, 5, 19)
    assert document.url == SEED_URL
    assert document.text.startswith("President Vladimir Putin during a working visit")
    assert document.text.endswith("he said.")
    assert "Original url" not in document.text
    assert "Putin's Visit to China" not in document.text
    assert "May 19, 2014" not in document.text
    assert document.source == str(seed_article)
    assert corpus.report.documents_read == 1
    assert not corpus.report.warnings and not corpus.report.skipped


def test_bbc_articles_all_read_without_dates(bbc_articles_dir):
    corpus = read_corpus(bbc_articles_dir)
    assert corpus.format == "articles"
    documents = list(corpus)
    assert len(documents) == 2225
    assert corpus.report.documents_read == 2225
    assert corpus.report.skipped == []
    assert corpus.report.warnings["missing date"] == 2225
    assert corpus.report.warnings["missing title"] == 0
    assert corpus.report.warnings["missing url"] == 0
    assert all(d.title and d.url.startswith("https://news.bbc.co.uk/") and d.date is None for d in documents)
    first = documents[0]
    assert first.id == "00000_18db5dac5722c6b9"
    assert first.title == "Ad sales boost Time Warner profit"
    assert first.url == "https://news.bbc.co.uk/business/001"
    assert first.text.startswith("Quarterly profits at US media giant TimeWarner jumped 76%")
    assert "£600m" in first.text
    # The BBC set repeats some stories under other urls: kept, but counted.
    assert corpus.report.warnings["same text as an earlier document"] > 0


@pytest.mark.parametrize(
    "line, expected",
    [
        ("May 19, 2014", dt.date(2014, 5, 19)),
        ("2014-05-19", dt.date(2014, 5, 19)),
        ("19 May 2014", dt.date(2014, 5, 19)),
        ("Monday, May 19, 2014", dt.date(2014, 5, 19)),
        ("2014/05/19", dt.date(2014, 5, 19)),
        ("May 19, 2014 10:30 AM", dt.date(2014, 5, 19)),
        ("2014-05-19T10:30:00Z", dt.date(2014, 5, 19)),
        ("2014-05-19 10:30", dt.date(2014, 5, 19)),
        ("Mon 19 May 2014 14:05:33 +0300", dt.date(2014, 5, 19)),
        ("Sept. 3, 2014, 10:30 a.m.", dt.date(2014, 9, 3)),
        ("19.05.2014", dt.date(2014, 5, 19)),
        ("Dec 31, 1999 at 23:59 GMT", dt.date(1999, 12, 31)),
        ("2014-02-30", None),
        ("President Vladimir Putin during a working visit to Beijing in 2009.", None),
        ("2009", None),
        ("Monday", None),
        ("May 2014", None),
        ("", None),
    ],
)
def test_parse_date(line, expected):
    assert parse_date(line) == expected


def test_article_with_missing_parts_keeps_its_text():
    document, warnings = parse_article("First paragraph.\n\nSecond paragraph.\n", "a1", "a1.txt")
    assert document.text == "First paragraph.\n\nSecond paragraph."
    assert (document.title, document.date, document.url) == ("", None, "")
    assert warnings == ["missing title", "missing date", "missing url"]


def test_article_iso_date_bare_url_and_text_after_url():
    text = "# T\n2014-05-19 08:00\nBody one.\n\n\n\nBody two.\nOriginal url: https://x.org/a\nTrailing note.\n"
    document, warnings = parse_article(text, "a", "a.txt")
    assert (document.title, document.date, document.url) == ("T", dt.date(2014, 5, 19), "https://x.org/a")
    assert document.text == "Body one.\n\nBody two.\n\nTrailing note."
    assert warnings == ["text after url"]


def test_article_url_marker_quoted_in_body_is_kept():
    text = "# T\n\nMay 1, 2020\n\nHe wrote Original url: in the footer.\n\nOriginal url:\n\n<https://x.org/b>\n"
    document, warnings = parse_article(text, "b", "b.txt")
    assert document.text == "He wrote Original url: in the footer."
    assert document.url == "https://x.org/b"
    assert warnings == []


paragraph_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), min_size=1, max_size=60
).filter(lambda p: p.strip() and not p.lstrip().startswith("#") and "original url:" not in p.lower() and parse_date(p) is None)


@settings(max_examples=200, deadline=None)
@given(
    title=st.one_of(
        st.just(""),
        st.text(alphabet=st.characters(blacklist_characters="\r\n#", blacklist_categories=("Cs",)), min_size=1, max_size=30),
    ),
    date_line=st.sampled_from(["", "May 19, 2014", "2014-05-19", "Monday, 19 May 2014 10:30 GMT", "garbage line?"]),
    paragraphs=st.lists(paragraph_text, min_size=1, max_size=6),
    url=st.sampled_from(["", "https://example.org/a?b=1"]),
    blank=st.sampled_from(["\n", "\n\n", "\r\n\r\n", "\n  \n\n"]),
)
def test_parse_article_never_loses_body_text(title, date_line, paragraphs, url, blank):
    parts = []
    if title.strip():
        parts.append(f"# {title}")
    if date_line:
        parts.append(date_line)
    parts.extend(paragraphs)
    if url:
        parts += ["Original url:", f"<{url}>"]
    document, warnings = parse_article(blank + blank.join(parts) + blank, "id", "src")
    for paragraph in paragraphs:
        assert paragraph.strip() in document.text
    if date_line == "garbage line?":  # not a date, so it belongs to the body
        assert "garbage line?" in document.text
    assert document.url == url
    assert ("missing url" in warnings) == (not url)
    assert ("missing date" in warnings) == (date_line in ("", "garbage line?"))
    if title.strip():
        assert document.title == title.strip()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_parse_article_never_raises(text):
    document, warnings = parse_article(text, "id", "src")
    assert isinstance(document.text, str)
    assert set(warnings) <= {"missing title", "missing date", "missing url", "text after url"}


# ---------------------------------------------------------------- awkward files


@pytest.fixture
def awkward_folder(tmp_path):
    folder = tmp_path / "awkward"
    write(folder / "a_utf8.txt", "Plain UTF-8 text about Москва.\n")
    write(folder / "b_bom.txt", b"\xef\xbb\xbfText after a byte order mark.\n")
    write(folder / "c_crlf.txt", b"Line one.\r\nLine two.\r\n\r\nLast line.\r\n")
    write(folder / "d_cp1251.txt", RUSSIAN.encode("cp1251"))
    write(folder / "e_cp1252.txt", CURLY.encode("cp1252"))
    write(folder / "f_latin1.txt", LATIN.encode("latin-1"))
    write(folder / "g_empty.txt", b"")
    write(folder / "h_blank.txt", b"  \n\n \t\n")
    write(folder / "i_binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    write(folder / "j_duplicate.txt", "Plain UTF-8 text about Москва.\n")
    write(folder / "k_garbage.txt", bytes(range(0x80, 0x100)) * 3)
    write(folder / "sub" / "l_nested.txt", "Nested text.")
    write(folder / "m_notes.md", "a text file of another extension is a document too")
    write(folder / "n_utf16.txt", "UTF-16 with a mark.".encode("utf-16"))
    return folder


def test_text_folder_decodes_and_skips(awkward_folder, capsys, caplog):
    corpus = read_corpus(awkward_folder)
    assert corpus.format == "text"
    documents = by_id(corpus)
    assert documents["a_utf8"].text == "Plain UTF-8 text about Москва."
    assert documents["b_bom"].text == "Text after a byte order mark."
    assert documents["c_crlf"].text == "Line one.\nLine two.\n\nLast line."
    assert documents["d_cp1251"].text == RUSSIAN
    assert documents["e_cp1252"].text == CURLY
    assert documents["f_latin1"].text == LATIN
    assert documents["sub/l_nested"].text == "Nested text."
    assert documents["n_utf16"].text == "UTF-16 with a mark."
    assert documents["m_notes"].text == "a text file of another extension is a document too"
    assert set(documents) == {
        "a_utf8",
        "b_bom",
        "c_crlf",
        "d_cp1251",
        "e_cp1252",
        "f_latin1",
        "sub/l_nested",
        "n_utf16",
        "m_notes",
    }
    skipped = reasons(corpus)
    assert skipped["g_empty.txt"] == "empty file"
    assert skipped["h_blank.txt"] == "empty file"
    assert skipped["i_binary.txt"] == "binary file (NUL bytes)"
    assert skipped["j_duplicate.txt"] == f"duplicate of {awkward_folder / 'a_utf8.txt'}"
    assert skipped["k_garbage.txt"] == "not UTF-8, cp1251 or cp1252"
    assert len(skipped) == 5
    assert corpus.report.documents_read == 9
    assert capsys.readouterr() == ("", "")  # logs, never prints
    assert f"{awkward_folder / 'i_binary.txt'}: binary file (NUL bytes); skipped" in caplog.messages


@pytest.mark.parametrize(
    "text, encoding",
    [
        (RUSSIAN, "cp1251"),
        ("Mostly English about the Kremlin and Москва, with more English words after it.", "cp1251"),
        (CURLY, "cp1252"),
        ("Der Bürgermeister sagte: „Wir müssen handeln“.", "cp1252"),
        (LATIN, "latin-1"),
    ],
)
def test_decode_fallback_encodings(text, encoding):
    assert decode(text.encode(encoding)) == (text, "")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([0, 1, 9, 10, 13, 27, 31, 32, 65, 97, 126, 127]), max_size=80).map(bytes))
def test_ascii_files_decode_as_any_utf8_file(data):
    # ASCII bytes take a shortcut (control characters counted on the bytes); with a UTF-8 BOM
    # in front the same text takes the general path (counted by the regex on the text)
    assume(signature(data) is None)
    assert decode_file(data) == decode_file(b"\xef\xbb\xbf" + data)
    assert decode_file(b"one\x01\x02\x03 two") == (None, "binary content (30% control or replacement characters)", "")


def test_unreadable_file_is_skipped(tmp_path):
    folder = tmp_path / "texts"
    write(folder / "a.txt", "Readable.")
    (folder / "b.txt").symlink_to(tmp_path / "gone.txt")  # dangling: listed, but cannot be read
    corpus = read_corpus(folder, format="text")
    assert [d.id for d in corpus] == ["a"]
    assert reasons(corpus) == {"b.txt": f"dangling symbolic link (to {tmp_path / 'gone.txt'})"}


def test_articles_folder_with_broken_articles(tmp_path, seed_article):
    folder = tmp_path / "articles"
    folder.mkdir()
    shutil.copy(seed_article, folder / seed_article.name)
    write(folder / "001_no_date.txt", "# Only a title\n\nThe body.\n\nOriginal url:\n\n<https://x.org/1>\n")
    write(folder / "002_title_only.txt", "# Title and nothing else\n\nMay 1, 2020\n")
    write(
        folder / "003_cp1251.txt",
        f"# Заголовок\r\n\r\n19 May 2014\r\n\r\n{RUSSIAN}\r\n\r\nOriginal url:\r\n<https://x.ru/2>".encode("cp1251"),
    )
    write(folder / "004_copy.txt", seed_article.read_bytes())
    corpus = read_corpus(folder)
    assert corpus.format == "articles"
    documents = by_id(corpus)
    assert list(documents) == ["000_58779b65910cf267", "001_no_date", "003_cp1251"]
    assert documents["001_no_date"].text == "The body."
    assert documents["001_no_date"].date is None
    assert documents["003_cp1251"].title == "Заголовок"
    assert documents["003_cp1251"].text == RUSSIAN
    assert documents["003_cp1251"].date == dt.date(2014, 5, 19)
    assert documents["003_cp1251"].url == "https://x.ru/2"
    assert reasons(corpus) == {"002_title_only.txt": "no body text", "004_copy.txt": f"duplicate of {folder / seed_article.name}"}
    assert corpus.report.warnings == {"missing date": 1, "missing url": 1}


# ---------------------------------------------------------------- line formats


def test_lines_format(tmp_path):
    path = write(tmp_path / "docs.cor", b"first document\r\n\r\nthird document\nfirst document\n")
    corpus = read_corpus(path)
    assert corpus.format == "lines"
    documents = list(corpus)
    assert [(d.id, d.text, d.source) for d in documents] == [
        ("1", "first document", f"{path}:1"),
        ("3", "third document", f"{path}:3"),
        ("4", "first document", f"{path}:4"),
    ]
    assert [(s.source, s.reason) for s in corpus.report.skipped] == [(f"{path}:2", "blank line")]
    assert corpus.report.warnings["same text as an earlier document"] == 1


def test_lines_with_a_cp1251_line(tmp_path):
    path = write(tmp_path / "docs.txt", b"ascii line\n" + RUSSIAN.encode("cp1251") + b"\n")
    documents = list(read_corpus(path, format="lines"))
    assert [d.text for d in documents] == ["ascii line", RUSSIAN]


def test_sample_lee():
    corpus = read_corpus("sample:lee")
    assert corpus.format == "sample"
    documents = list(corpus)
    assert len(documents) == 300
    assert documents[0].id == "1" and documents[-1].id == "300"
    assert documents[0].text.startswith("Hundreds of people have been forced to vacate their homes")
    assert corpus.report.skipped == []


def test_jsonl_with_field_options_and_bad_lines(tmp_path):
    records = [
        json.dumps({"body": "Text one", "key": "doc-a", "headline": "Head", "when": "2014-05-19T08:00:00", "section": "world"}),
        "{not json",
        json.dumps({"key": "doc-c"}),
        "",
        json.dumps({"body": "Text four", "when": "sometime"}),
        json.dumps(["a", "list"]),
        json.dumps({"body": "   "}),
        json.dumps({"body": 7}),
    ]
    path = write(tmp_path / "docs.jsonl", "\n".join(records) + "\n")
    corpus = read_corpus(
        path, text_field="body", id_field="key", title_field="headline", date_field="when", label_field="section"
    )
    assert corpus.format == "jsonl"
    documents = list(corpus)
    assert documents[0] == Document(
        id="doc-a", text="Text one", title="Head", date=dt.date(2014, 5, 19), label="world", source=f"{path}:1"
    )
    assert (documents[1].id, documents[1].text, documents[1].date) == ("5", "Text four", None)
    assert len(documents) == 2
    skipped = [(s.source.rsplit(":", 1)[1], s.reason) for s in corpus.report.skipped]
    assert skipped[0][0] == "2" and skipped[0][1].startswith("not valid JSON")
    assert skipped[1:] == [
        ("3", "no 'body' field (text_field)"),
        ("4", "blank line"),
        ("6", "not a JSON object (a list)"),
        ("7", "empty 'body' field"),
        ("8", "a non-text 'body' field (text_field)"),
    ]
    assert corpus.report.warnings["unparsable date"] == 1


def test_csv_with_field_options_and_bad_rows(tmp_path):
    content = (
        "key,content,topic\r\n"
        'a,"A quoted text, with a comma",sport\r\n'
        'b,"A text over\r\ntwo lines",tech\r\n'
        "\r\n"
        ",No id here,\r\n"
        "d,,tech\r\n"
        "e,too,many,fields\r\n"
        "f,Last text,business\r\n"
    )
    path = write(tmp_path / "docs.csv", content)
    corpus = read_corpus(path, text_field="content", id_field="key", label_field="topic")
    assert corpus.format == "csv"
    documents = list(corpus)
    assert [(d.id, d.text, d.label, d.source.rsplit(":", 1)[1]) for d in documents] == [
        ("a", "A quoted text, with a comma", "sport", "2"),
        ("b", "A text over\ntwo lines", "tech", "3"),
        ("6", "No id here", "", "6"),
        ("f", "Last text", "business", "9"),
    ]
    assert [(s.source.rsplit(":", 1)[1], s.reason) for s in corpus.report.skipped] == [
        ("7", "empty 'content' field"),
        ("8", "1 more fields than the header's 3"),
    ]


def test_csv_without_the_text_column(tmp_path):
    path = write(tmp_path / "docs.csv", "id,body\n1,hello\n")
    with pytest.raises(CorpusError, match=r"docs.csv:1: no column 'text' .*columns are id, body"):
        list(read_corpus(path))


def test_octis_20newsgroups(shared_data):
    corpus = read_corpus(shared_data / "20newsgroups-preprocessed")
    assert corpus.format == "octis"
    splits, labels, count = {}, set(), 0
    for document in corpus:
        count += 1
        splits[document.split] = splits.get(document.split, 0) + 1
        labels.add(document.label)
    assert count == 16221
    assert splits == {"train": 9755, "test": 6466}
    assert len(labels) == 20 and "sci.space" in labels and "alt.atheism" in labels
    first = next(iter(corpus))
    assert first.tokens[:3] == ("archive", "atheism", "resource")
    assert first.text == " ".join(first.tokens)
    assert (first.id, first.split, first.label) == ("1", "train", "alt.atheism")


def test_octis_bbc_has_a_validation_split(shared_data):
    splits = {document.split for document in read_corpus(shared_data / "bbc-news-preprocessed")}
    assert splits == {"train", "val", "test"}


# ---------------------------------------------------------------- detection, errors, re-iteration, fingerprints


def test_detect_format(tmp_path, shared_data, seed_article):
    assert detect_format(seed_article.parent) == "articles"
    assert detect_format(shared_data / "20newsgroups-preprocessed") == "octis"
    assert detect_format(write(tmp_path / "texts" / "a.txt", "# A heading\n\nbut no date or url").parent) == "text"
    assert detect_format(tmp_path / "empty-folder") == "lines"  # does not exist: neither folder nor known suffix
    (tmp_path / "empty-folder").mkdir()
    assert detect_format(tmp_path / "empty-folder") == "text"
    assert detect_format(write(tmp_path / "x.jsonl", "{}")) == "jsonl"
    assert detect_format(write(tmp_path / "x.CSV", "a")) == "csv"
    assert detect_format(write(tmp_path / "x.cor", "a")) == "lines"
    assert detect_format("sample:lee") == "sample"
    assert set(READERS) == {"articles", "text", "lines", "jsonl", "csv", "octis", "sample"}


def test_missing_path_and_unknown_names(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(CorpusError, match=rf"^{missing}: no such file or folder; "):
        read_corpus(missing)
    with pytest.raises(
        ConfigError, match=r"unknown corpus format 'xml'; choose from articles, csv, jsonl, lines, octis, sample, text"
    ):
        read_corpus(tmp_path, format="xml")
    with pytest.raises(ConfigError, match=r"unknown sample corpus 'brown'; choose from sample:lee"):
        read_corpus("sample:brown")
    with pytest.raises(ConfigError, match="read_corpus: wrong_field: unknown key"):
        read_corpus(tmp_path, wrong_field="x")
    with pytest.raises(CorpusError, match="format 'jsonl' reads a file, but this is a folder"):
        Corpus(CorpusConfig(source=str(tmp_path), format="jsonl"))
    with pytest.raises(CorpusError, match="format 'articles' reads a folder, but this is a file"):
        read_corpus(write(tmp_path / "a.txt", "x"), format="articles")


def test_reiteration_reads_again_with_a_fresh_report(tmp_path):
    folder = tmp_path / "texts"
    write(folder / "a.txt", "Alpha.")
    write(folder / "b.txt", "")
    corpus = read_corpus(folder)
    first = list(corpus)
    first_report = corpus.report
    second = list(corpus)
    assert first == second == [Document(id="a", text="Alpha.", source=str(folder / "a.txt"))]
    assert corpus.report is not first_report
    assert (corpus.report.documents_read, len(corpus.report.skipped)) == (1, 1)
    write(folder / "c.txt", "Gamma.")  # read from disk each time
    assert [d.id for d in corpus] == ["a", "c"]
    assert corpus.report.to_dict()["skipped_by_reason"] == {"empty file": 1}


def test_iteration_is_lazy(bbc_articles_dir):
    corpus = read_corpus(bbc_articles_dir)
    iterator = iter(corpus)
    next(iterator)
    assert corpus.report.documents_read == 1


def test_fingerprint_depends_on_content_and_options_not_location(tmp_path, seed_article):
    one, two = tmp_path / "one", tmp_path / "elsewhere" / "two"
    for folder in (one, two):
        write(folder / "sub" / "x.txt", "Some text.")
        shutil.copy(seed_article, folder / seed_article.name)
    assert read_corpus(one).fingerprint() == read_corpus(two).fingerprint()
    assert read_corpus(one).fingerprint() != read_corpus(one, format="text").fingerprint()
    before = read_corpus(one).fingerprint()
    write(one / "sub" / "x.txt", "Some text!")
    assert read_corpus(one).fingerprint() != before
    (one / "sub" / "x.txt").rename(one / "sub" / "y.txt")
    assert read_corpus(one).fingerprint() != read_corpus(two).fingerprint()
    jsonl = write(tmp_path / "d.jsonl", '{"text": "a"}\n')
    assert read_corpus(jsonl).fingerprint() != read_corpus(jsonl, text_field="body").fingerprint()
    assert len(read_corpus("sample:lee").fingerprint()) == 64


def test_text_folder_reads_files_without_extension(tmp_path):
    # the raw 20 Newsgroups posts are files named by number, with no extension
    group = tmp_path / "posts" / "sci.space"
    group.mkdir(parents=True)
    (group / "60001").write_text("From: a@b.c\nSubject: orbit\n\nThe shuttle reached orbit.", encoding="latin-1")
    (group / "60002").write_bytes(b"\x00\x01binary")
    corpus = read_corpus(tmp_path / "posts")
    assert corpus.format == "text"
    documents = list(corpus)
    assert [d.id for d in documents] == ["sci.space/60001"]
    assert "shuttle reached orbit" in documents[0].text
    assert [s.source.endswith("60002") for s in corpus.report.skipped] == [True]


def test_article_folder_reports_stray_files(tmp_path, seed_article):
    folder = tmp_path / "news"
    folder.mkdir()
    shutil.copy(seed_article, folder / "a.txt")
    (folder / "notes.md").write_text("# Notes\n\nnot an article", encoding="utf-8")
    corpus = read_corpus(folder)
    assert corpus.format == "articles"
    assert [d.id for d in corpus] == ["a"]
    assert [(s.source.endswith("notes.md"), s.reason) for s in corpus.report.skipped] == [(True, "not a .txt article file (.md)")]
