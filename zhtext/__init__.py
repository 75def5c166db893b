"""Chinese policy text: the rules every layer applies to the same words.

One home for each idea, imported by the ingest pipeline and by the app alike (this package
imports neither):

- ``zhtext.normalize``  simplified characters, ASCII digits, tidy spaces (``normalize``), ``shorten``
- ``zhtext.tokens``     jieba search tokens and the stopwords search drops
- ``zhtext.sentences``  the one sentence splitter (``split_sentences``) and ``ends_sentence``
- ``zhtext.docnumbers`` 文号 patterns (昆政发〔2021〕4号) and how they are found and written
- ``zhtext.chunk_ids``  ``{doc_id}::{content hash}::{index}`` chunk ids
- ``zhtext.validity``   dates as policies write them (``cn_date``), validity periods, ``in_force`` on a day
- ``zhtext.clauses``    clause marks: 第三条, 一、, （一）, 1.
"""
