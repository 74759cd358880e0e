"""The book's ``pyimagesearch.utils``."""
