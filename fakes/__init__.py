"""What the tests and the benchmarks share: our fake OpenAI server and its wire parts
(fake_openai.py, fake_http.py, fake_connection.py, fake_scenario.py, fake_wire.py, fake_wire_responses.py,
fake_embeddings.py, fake_moderation.py), the synthetic document corpus (corpus.py,
corpus_towns.py, corpus_companies.py), and loopback helpers (loopback.py).

Nothing here imports pytest or Playwright, so the benchmarks run without the test
dependencies installed.
"""
