"""The book's scripts as functions: each recipe reads top to bottom (data, model, train, report) and
the files in ``scripts/`` only parse flags and call one of these."""
