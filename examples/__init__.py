"""Example job descriptions and resumes (fictitious people), made by `make_examples.py`."""
