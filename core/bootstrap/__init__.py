"""Bootstrapping a project for `uet init`: discovery, selection, generation, validation, report."""
