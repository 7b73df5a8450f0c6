"""Hydra configs shipped as package data (a package so that tests can compose them by module)."""
