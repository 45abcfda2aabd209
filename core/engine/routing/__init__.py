"""Routing tasks to tools and agent CLIs, and reading what those CLIs report about their runs."""
